//! What auditors read: histories, documents, and the verification of both.

use crate::documents::Document;
use crate::engine::{Engine, EngineError, Result};
use crate::history::{self, BrokenLink, EventKind, Note, StoredEvent, data};
use crate::ids::{InstanceId, TaskId};
use crate::model::{Actor, Instance};
use crate::store::{AuditBatch, DeployRow, LedgerSummary, StoreError, TaskRecord};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use uuid::Uuid;

/// The outcome of re-checking hash chains, the rows beside them, documents, the instance
/// ledger, registers and deployed packages (and, if given, a signed checkpoint).
#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    pub ok: bool,
    pub instances: usize,
    pub events: usize,
    pub documents: usize,
    /// Per instance: the first row that does not match its chain (a chain broken inside, a
    /// column beside the sealed text, the instance row against the end of the chain, a task).
    pub broken: Vec<BrokenLink>,
    pub broken_documents: Vec<BrokenDocument>,
    /// What is not one instance's: the instance ledger, registers, definitions and deploys.
    pub problems: Vec<Problem>,
    /// The checkpoint checked against, when one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<CheckpointCheck>,
}

/// A stored document that is not what was issued.
#[derive(Debug, Clone, Serialize)]
pub struct BrokenDocument {
    pub id: Uuid,
    pub instance: InstanceId,
    pub reason: String,
}

/// A problem outside any one chain, with the row it concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub row: String,
    pub reason: String,
}

/// What was checked against a signed checkpoint (its failures are in `broken`/`problems`).
#[derive(Debug, Clone, Serialize)]
pub struct CheckpointCheck {
    pub created_at: String,
    /// The chain heads the checkpoint signed.
    pub chains: usize,
    /// Chains that no longer extend their signed head (gone, shortened or rewritten).
    pub not_extending: usize,
}

/// Instances read per batch: verification holds one batch (and its events, tasks and
/// documents) at a time, so its memory does not grow with the database.
const BATCH: i64 = 500;

/// What one pass of verification carries from batch to batch.
struct Pass<'a> {
    tenant: Option<&'a str>,
    /// (definition, version) → the stored package's hash, recomputed.
    packages: BTreeMap<(String, i64), Result<crate::store::PackageFact, String>>,
    report: VerifyReport,
    /// Register numbers seen, by (tenant, register, year).
    numbers: HashMap<(String, String, i64), Vec<i64>>,
    /// Chain heads of intact instances, when making a checkpoint.
    heads: Option<Vec<Head>>,
    /// Heads a checkpoint signed, not yet met.
    expected: Option<crate::checkpoint::SignedHeads>,
    /// Files the histories name (`file_attached` notes): (instance, seq, file, sha256,
    /// the instance's tenant), checked against the stored files after the chains.
    files: Vec<(InstanceId, i64, Uuid, String, String)>,
    /// Awards the histories sealed (`rotation_recorded` notes), matched after the chains with
    /// the register of outgoing contractors, which says who the outgoing contractor is.
    awards: Vec<SealedAward>,
    /// The relations as the histories of the cases that granted them leave them, by (case,
    /// client): the grant, shortened by each end (`relation_granted`, `relation_ended`).
    grants: HashMap<(InstanceId, String), crate::store::RelationRow>,
    /// When each case last granted a relation, by (provider, client): who wrote a pair last,
    /// a case or an administrator, decides whose the row must be (`relation_chain.rs`).
    granted_at: crate::relation_chain::Grants,
    /// Instances whose chain is broken: nothing of theirs can be vouched for, so their rows in
    /// the rotation register are not reported a second time.
    unvouched: HashSet<InstanceId>,
}

/// An award as a history sealed it, with what its row in the rotation register must hold.
struct SealedAward {
    instance: InstanceId,
    seq: i64,
    /// The columns of its row: authority, category, band, operator, name, tenant, time.
    row: (String, String, String, String, String, String, String),
}

fn link(
    instance: InstanceId,
    seq: i64,
    row: impl Into<String>,
    reason: impl Into<String>,
) -> BrokenLink {
    BrokenLink {
        instance,
        seq,
        reason: reason.into(),
        row: row.into(),
    }
}

fn differs<T: PartialEq + std::fmt::Debug>(
    out: &mut Vec<(String, String)>,
    row: &str,
    stored: T,
    sealed: T,
) {
    if stored != sealed {
        out.push((
            row.to_string(),
            format!("the row says {stored:?} but the history sealed {sealed:?}"),
        ));
    }
}

impl Pass<'_> {
    fn batch(&mut self, batch: AuditBatch) {
        self.report.instances += batch.instances.len();
        self.report.events += batch.events.len();
        self.report.documents += batch.documents.len();
        let mut events: HashMap<InstanceId, Vec<StoredEvent>> = HashMap::new();
        for e in batch.events {
            events.entry(e.instance).or_default().push(e);
        }
        let mut tasks: HashMap<InstanceId, Vec<TaskRecord>> = HashMap::new();
        for t in batch.tasks {
            tasks.entry(t.instance).or_default().push(t);
        }
        let mut documents: HashMap<InstanceId, Vec<Document>> = HashMap::new();
        for d in batch.documents {
            documents.entry(d.instance).or_default().push(d);
        }
        let mut jobs: HashMap<InstanceId, Vec<crate::model::Job>> = HashMap::new();
        for j in batch.jobs {
            jobs.entry(j.instance).or_default().push(j);
        }
        let mut ledger: HashMap<InstanceId, (i64, String)> = HashMap::new();
        for (n, id, tenant) in batch.ledger {
            ledger.insert(id.into(), (n, tenant));
        }
        for instance in batch.instances {
            let id = instance.id;
            self.instance(
                instance,
                events.remove(&id).unwrap_or_default(),
                tasks.remove(&id).unwrap_or_default(),
                documents.remove(&id).unwrap_or_default(),
                jobs.remove(&id).unwrap_or_default(),
                ledger.remove(&id),
            );
        }
        // What is left names an instance whose row is gone.
        let gone = "the instance's row is gone";
        for (id, events) in events {
            let seq = events.last().map_or(0, |e| e.seq);
            self.report.broken.push(link(
                id,
                seq,
                "instances",
                format!("{gone}, but its history remains"),
            ));
        }
        for (id, tasks) in tasks {
            for t in tasks {
                let row = format!("tasks({}).instance_id", t.id);
                self.report.broken.push(link(id, 0, row, gone));
            }
        }
        for (id, jobs) in jobs {
            for j in jobs {
                let row = format!("jobs({}).instance_id", j.id);
                self.report.broken.push(link(id, 0, row, gone));
            }
        }
        for (id, docs) in documents {
            for d in docs {
                self.report.broken_documents.push(BrokenDocument {
                    id: d.id,
                    instance: id,
                    reason: gone.into(),
                });
            }
        }
        for (id, (n, _)) in ledger {
            self.report.broken.push(link(
                id,
                0,
                format!("instance_ledger(n {n})"),
                format!("{gone}: entered as number {n} of the instance ledger"),
            ));
        }
    }

    fn instance(
        &mut self,
        i: Instance,
        events: Vec<StoredEvent>,
        tasks: Vec<TaskRecord>,
        documents: Vec<Document>,
        jobs: Vec<crate::model::Job>,
        ledger: Option<(i64, String)>,
    ) {
        let id = i.id;
        if let Some((seq, hash)) = self.expected.as_mut().and_then(|e| e.remove(&id))
            && !events.iter().any(|e| e.seq == seq && e.hash == hash)
        {
            self.report.broken.push(link(
                id,
                seq,
                format!("events(seq {seq})"),
                "the chain no longer extends the head signed in the checkpoint",
            ));
            if let Some(check) = self.report.checkpoint.as_mut() {
                check.not_extending += 1;
            }
        }
        let read = match history::verify_chain(id, &events, &i.last_hash) {
            Ok(read) => read,
            Err(broken) => {
                self.report.broken.push(broken);
                self.unvouched.insert(id);
                // A document of a broken chain has no trustworthy record: it is reported too.
                for d in documents {
                    self.report.broken_documents.push(BrokenDocument {
                        id: d.id,
                        instance: id,
                        reason:
                            "the instance's history is broken: nothing vouches for the document"
                                .into(),
                    });
                }
                return;
            }
        };
        let Some(last) = read.last() else {
            self.report
                .broken
                .push(link(id, 0, "instances", "the instance has no history"));
            return;
        };
        let mut rows: Vec<(String, String)> = Vec::new();
        differs(&mut rows, "instances.seq", i.seq, last.seq);
        differs(&mut rows, "instances.state", &i.state, &last.to_state);
        let sealed_tenant = last
            .after
            .as_ref()
            .map_or(i.tenant.as_str(), |a| a.tenant.as_str());
        if let Some(after) = &last.after {
            let (status, detail) = i.status.to_db();
            differs(
                &mut rows,
                "instances.tenant",
                i.tenant.as_str(),
                after.tenant.as_str(),
            );
            differs(
                &mut rows,
                "instances.on_behalf_of",
                i.on_behalf_of.as_deref(),
                after.on_behalf_of.as_deref(),
            );
            differs(
                &mut rows,
                "instances.definition",
                &i.definition,
                &after.definition,
            );
            differs(
                &mut rows,
                "instances.definition_version",
                i.definition_version,
                after.definition_version,
            );
            differs(&mut rows, "instances.status", status, after.status.as_str());
            differs(
                &mut rows,
                "instances.status_detail",
                detail,
                after.status_detail.as_deref(),
            );
            differs(&mut rows, "instances.parent_id", &i.parent, &after.parent);
            differs(&mut rows, "instances.pins", &i.pins, &after.pins);
            let variables = history::variables_sha256(&i.variables);
            if variables != after.variables_sha256 {
                rows.push((
                    "instances.variables".into(),
                    "the variables are not the ones the history sealed (their hash differs)".into(),
                ));
            }
            let key = (i.definition.clone(), i.definition_version);
            let definition = format!("definitions({} v{})", i.definition, i.definition_version);
            match self.packages.get(&key) {
                Some(Ok(fact)) if fact.sha256 == after.package_sha256 => {}
                Some(Ok(_)) => rows.push((
                    format!("{definition}.package"),
                    "the package it runs on is not the one deployed and sealed in its history"
                        .into(),
                )),
                Some(Err(e)) => rows.push((
                    format!("{definition}.package"),
                    format!("the package it runs on cannot be read: {e}"),
                )),
                None => rows.push((definition, "the definition it runs on is gone".into())),
            }
        }
        match &ledger {
            None => rows.push((
                "instance_ledger".into(),
                "the instance is missing from the instance ledger".into(),
            )),
            Some((n, tenant)) => differs(
                &mut rows,
                &format!("instance_ledger(n {n}).tenant"),
                tenant.as_str(),
                sealed_tenant,
            ),
        }
        // What the history says happened to tasks and which acts it issued.
        let mut opened: HashSet<TaskId> = HashSet::new();
        let mut completed: HashMap<TaskId, (&str, Option<&str>)> = HashMap::new();
        let mut issued: HashMap<Uuid, (String, Option<String>)> = HashMap::new();
        // Jobs: what the history opened (topic and input) and how it says each was answered.
        let mut jobs_opened: HashMap<Uuid, (String, serde_json::Value)> = HashMap::new();
        let mut jobs_answered: HashMap<Uuid, &'static str> = HashMap::new();
        for event in &read {
            let answered = match event.event_kind() {
                EventKind::JobCompleted => event
                    .data_as::<data::JobCompleted>()
                    .map(|d| (d.job, "completed")),
                EventKind::JobErrored => event
                    .data_as::<data::JobErrored>()
                    .map(|d| (d.job, "errored")),
                _ => None,
            };
            if let Some((job, status)) = answered {
                jobs_answered.insert(job, status);
            }
            for note in event.notes() {
                if let Note::JobOpened(job) = note {
                    jobs_opened.insert(job.id, (job.topic, job.input));
                }
            }
        }
        for event in &read {
            for note in event.notes() {
                match note {
                    Note::TaskOpened(task) => {
                        opened.insert(task.id);
                    }
                    Note::TaskCompleted(task) => {
                        completed.insert(task, (event.actor.as_str(), event.action.as_deref()));
                    }
                    Note::FileAttached(file) => self.files.push((
                        id,
                        event.seq,
                        file.id,
                        file.sha256,
                        sealed_tenant.to_string(),
                    )),
                    Note::DocumentIssued(doc) => {
                        issued.insert(doc.id, (doc.sha256, doc.number));
                    }
                    Note::RelationGranted {
                        client,
                        scope,
                        from,
                        until,
                    } => {
                        let day = |d: &str| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok();
                        if let Some(at) = crate::timefmt::parse_instant(&event.at) {
                            let cases = self
                                .granted_at
                                .entry((sealed_tenant.to_string(), client.clone()))
                                .or_default();
                            let latest = cases.entry(id).or_insert(at);
                            *latest = (*latest).max(at);
                        }
                        self.grants.insert(
                            (id, client.clone()),
                            crate::store::RelationRow {
                                provider: sealed_tenant.to_string(),
                                client,
                                scope,
                                from: day(&from),
                                until: until.as_deref().and_then(day),
                                granted_by: Some(id.to_string()),
                            },
                        );
                    }
                    Note::RelationEnded { client, last_day } => {
                        let last = chrono::NaiveDate::parse_from_str(&last_day, "%Y-%m-%d").ok();
                        if let Some(grant) = self.grants.get_mut(&(id, client)) {
                            // An end only shortens (`END_RELATION`): an earlier end stays.
                            if grant
                                .until
                                .is_none_or(|until| last.is_some_and(|l| until > l))
                            {
                                grant.until = last;
                            }
                        }
                    }
                    Note::RotationRecorded(award) => self.awards.push(SealedAward {
                        instance: id,
                        seq: event.seq,
                        row: (
                            award.authority,
                            award.category,
                            award.band,
                            award.operator,
                            award.operator_name,
                            sealed_tenant.to_string(),
                            event.at.clone(),
                        ),
                    }),
                    _ => {}
                }
            }
        }
        for t in &tasks {
            let row = |column: &str| format!("tasks({}).{column}", t.id);
            differs(&mut rows, &row("tenant"), t.tenant.as_str(), sealed_tenant);
            if !opened.remove(&t.id) {
                rows.push((
                    format!("tasks({})", t.id),
                    "the history never opened this task".into(),
                ));
            }
            match completed.get(&t.id) {
                Some((by, action)) => {
                    differs(&mut rows, &row("status"), t.status.as_str(), "completed");
                    differs(
                        &mut rows,
                        &row("completed_by"),
                        t.completed_by.as_deref(),
                        Some(*by),
                    );
                    differs(
                        &mut rows,
                        &row("completed_action"),
                        t.completed_action.as_deref(),
                        *action,
                    );
                }
                None if t.status == "completed" => rows.push((
                    row("status"),
                    "the task is completed but the history never completed it".into(),
                )),
                None => {}
            }
        }
        for task in opened {
            rows.push((
                format!("tasks({task})"),
                "the task the history opened is gone".into(),
            ));
        }
        for j in &jobs {
            let row = |column: &str| format!("jobs({}).{column}", j.id);
            differs(&mut rows, &row("tenant"), j.tenant.as_str(), sealed_tenant);
            match jobs_opened.remove(&j.id) {
                None => rows.push((
                    format!("jobs({})", j.id),
                    "the history never opened this job".into(),
                )),
                Some((topic, input)) => {
                    differs(
                        &mut rows,
                        &row("topic"),
                        Some(j.topic.as_str()),
                        Some(topic.as_str()),
                    );
                    if input != j.input {
                        rows.push((
                            row("input"),
                            "the job's input is not the one the history sealed".into(),
                        ));
                    }
                }
            }
            let stored = j.status.to_db();
            match jobs_answered.get(&j.id) {
                Some(status) => differs(&mut rows, &row("status"), stored, *status),
                None if matches!(stored, "completed" | "errored") => rows.push((
                    row("status"),
                    format!("the job is {stored} but the history never answered it"),
                )),
                None => {}
            }
        }
        for job in jobs_opened.into_keys() {
            rows.push((
                format!("jobs({job})"),
                "the job the history opened is gone".into(),
            ));
        }
        for d in &documents {
            let actual = history::sha256_hex(d.content.as_bytes());
            let reason = match issued.remove(&d.id) {
                _ if actual != d.sha256 => {
                    Some("the document's content does not match its sha256".to_string())
                }
                None => Some("the history never issued this document".into()),
                Some((sha, _)) if sha != d.sha256 => {
                    Some("the document's sha256 is not the one recorded in the history".into())
                }
                Some((_, number)) if number.is_some() && number != d.number => Some(format!(
                    "the document's number {:?} is not the one recorded in the history ({number:?})",
                    d.number
                )),
                Some(_) if d.tenant != sealed_tenant => Some(format!(
                    "the document's tenant `{}` is not its instance's (`{sealed_tenant}`)",
                    d.tenant
                )),
                Some(_) => None,
            };
            if let Some(reason) = reason {
                self.report.broken_documents.push(BrokenDocument {
                    id: d.id,
                    instance: id,
                    reason,
                });
            }
            if let (Some(register), Some((seq, year))) =
                (&d.register, d.number.as_deref().and_then(parse_number))
            {
                self.numbers
                    .entry((d.tenant.clone(), register.clone(), year))
                    .or_default()
                    .push(seq);
            }
        }
        for (document, _) in issued {
            self.report.broken_documents.push(BrokenDocument {
                id: document,
                instance: id,
                reason: "the act the history issued is gone".into(),
            });
        }
        let intact = rows.is_empty();
        for (row, reason) in rows {
            self.report.broken.push(link(id, last.seq, row, reason));
        }
        if let (true, Some(heads)) = (intact, self.heads.as_mut()) {
            heads.push(Head {
                instance: id,
                seq: last.seq,
                hash: i.last_hash.clone(),
            });
        }
    }

    fn registers(&mut self, registers: Vec<(String, String, i64, i64)>) {
        for (tenant, register, year, last) in registers {
            let row = format!("registers({tenant}/{register}/{year})");
            let mut seqs = self
                .numbers
                .remove(&(tenant, register, year))
                .unwrap_or_default();
            seqs.sort_unstable();
            if let Some(twice) = seqs.windows(2).find(|w| w[0] == w[1]) {
                self.problem(&row, format!("number {}/{year} was issued twice", twice[0]));
            }
            seqs.dedup();
            let highest = seqs.last().copied().unwrap_or(0);
            if highest > last {
                self.problem(
                    &format!("{row}.last"),
                    format!("the register says {last} numbers were issued, but number {highest}/{year} exists: the counter was moved back"),
                );
            }
            if let Some(missing) = (1..=last.max(highest)).find(|n| seqs.binary_search(n).is_err())
            {
                self.problem(
                    &row,
                    format!("number {missing}/{year} was issued but its act is gone: the numbers are not gap-free"),
                );
            }
        }
        for ((tenant, register, year), _) in std::mem::take(&mut self.numbers) {
            self.problem(
                &format!("registers({tenant}/{register}/{year})"),
                "the register is gone, but acts carry its numbers".into(),
            );
        }
    }

    /// Every row of the rotation register must be an award a history sealed, with the same
    /// columns and time, and every sealed award must have its row: the latest row of a category
    /// and band names the outgoing contractor whom the next award refuses (art. 49 c.2), so a
    /// row added, edited, re-dated or removed would exclude or readmit an operator unseen.
    fn rotation(&mut self, rows: Vec<crate::store::RotationAudit>) {
        let mut sealed: HashMap<(InstanceId, _), Vec<i64>> = HashMap::new();
        for award in std::mem::take(&mut self.awards) {
            sealed
                .entry((award.instance, award.row))
                .or_default()
                .push(award.seq);
        }
        for r in rows {
            let key = (
                r.instance,
                (
                    r.authority,
                    r.category,
                    r.band,
                    r.operator,
                    r.operator_name,
                    r.tenant,
                    crate::timefmt::rfc3339(r.recorded_at),
                ),
            );
            let matched = sealed.get_mut(&key).and_then(Vec::pop).is_some();
            if !matched && !self.unvouched.contains(&r.instance) {
                self.problem(
                    &format!("rotation_register({})", r.id),
                    format!(
                        "no history sealed this award (case {}, operator {}, category «{}», band «{}», at {}): the register's outgoing contractor is not the one the cases recorded",
                        r.instance, key.1.3, key.1.1, key.1.2, key.1.6
                    ),
                );
            }
        }
        let mut missing: Vec<(InstanceId, i64)> = sealed
            .into_iter()
            .flat_map(|((instance, _), seqs)| seqs.into_iter().map(move |seq| (instance, seq)))
            .collect();
        missing.sort_unstable();
        for (instance, seq) in missing {
            self.report.broken.push(link(
                instance,
                seq,
                "rotation_register",
                "the award sealed here is not in the rotation register (removed or altered)",
            ));
        }
    }

    /// Every relation a case granted must be what that case's history left it: its provider,
    /// scope and days decide whom the provider may act for, so a relation widened, extended,
    /// moved to another provider or attributed to a case that never granted it would let a
    /// tenant into another's cases unseen. (Relations an administrator recorded, `granted_by`
    /// empty, are checked against the relation chain: `relation_chain.rs`.)
    fn relations(&mut self, rows: Vec<crate::store::RelationRow>) {
        let grants = std::mem::take(&mut self.grants);
        for row in rows {
            let label = format!("tenant_relations({} -> {})", row.provider, row.client);
            let Some(case) = row
                .granted_by
                .as_deref()
                .and_then(|g| g.parse::<InstanceId>().ok())
            else {
                self.problem(
                    &label,
                    "the case it names as its grant is not a case id".into(),
                );
                continue;
            };
            if self.unvouched.contains(&case) {
                continue;
            }
            match grants.get(&(case, row.client.clone())) {
                None => self.problem(
                    &label,
                    format!("case {case} is named as its grant, but no history of this installation's cases granted it"),
                ),
                Some(sealed) if *sealed != row => self.problem(
                    &label,
                    format!(
                        "the relation says {} but the history of case {case} sealed {}",
                        describe(&row),
                        describe(sealed)
                    ),
                ),
                Some(_) => {}
            }
        }
    }

    fn ledger(&mut self, ledger: LedgerSummary) {
        let before = (1..ledger.lowest.min(101)).collect::<Vec<_>>();
        for n in before.into_iter().chain(ledger.missing) {
            self.problem(
                &format!("instance_ledger(n {n})"),
                format!("entry {n} of the instance ledger is gone: an instance was deleted"),
            );
        }
    }

    /// The deploy chain, and every stored package against its deploy record.
    fn deploys(
        &mut self,
        deploys: &[DeployRow],
    ) -> HashMap<(String, i64), (String, Option<String>)> {
        let mut deployed = HashMap::new();
        let mut prev = history::GENESIS.to_string();
        for (k, d) in deploys.iter().enumerate() {
            let row = format!("deploys(seq {})", d.seq);
            let expected = i64::try_from(k).unwrap_or(i64::MAX) + 1;
            let record: Option<history::DeployRecord> = serde_json::from_str(&d.body).ok();
            let reason = match &record {
                _ if d.seq != expected => Some(format!(
                    "expected deploy {expected}: a deploy record is missing"
                )),
                _ if history::sha256_hex(d.body.as_bytes()) != d.hash => {
                    Some("the deploy record does not match its hash".into())
                }
                None => Some("the deploy record cannot be read".into()),
                Some(r) if r.prev_hash != prev || d.prev_hash != prev => {
                    Some("the link to the previous deploy record is broken".into())
                }
                Some(r)
                    if r.seq != d.seq || r.definition != d.definition || r.version != d.version =>
                {
                    Some("the columns beside the deploy record do not match it".into())
                }
                Some(_) => None,
            };
            if let Some(reason) = reason {
                self.problem(&row, reason);
                return deployed;
            }
            if let Some(r) = record {
                deployed.insert((r.definition, r.version), (r.package_sha256, r.owner));
            }
            prev = d.hash.clone();
        }
        for ((id, version), package) in &self.packages.clone() {
            let row = format!("definitions({id} v{version})");
            match (package, deployed.get(&(id.clone(), *version))) {
                (_, None) => self.problem(&row, "the definition has no deploy record".into()),
                (Err(e), _) => self.problem(&format!("{row}.package"), format!("the package cannot be read: {e}")),
                (Ok(fact), Some((recorded, _))) if fact.sha256 != *recorded => self.problem(
                    &format!("{row}.package"),
                    "the stored package is not the one deployed (its hash differs from the deploy record)".into(),
                ),
                (Ok(fact), Some((_, owner))) if fact.owner != *owner => self.problem(
                    &format!("{row}.owner"),
                    format!(
                        "the definition says it belongs to {:?} but was deployed as {:?}",
                        fact.owner, owner
                    ),
                ),
                _ => {}
            }
        }
        for (id, version) in deployed.keys() {
            if !self.packages.contains_key(&(id.clone(), *version)) {
                self.problem(
                    &format!("definitions({id} v{version})"),
                    "the deployed definition is gone".into(),
                );
            }
        }
        deployed
    }

    fn problem(&mut self, row: &str, reason: String) {
        self.report.problems.push(Problem {
            row: row.to_string(),
            reason,
        });
    }
}

/// A relation as a verification report names it.
fn describe(r: &crate::store::RelationRow) -> String {
    let day = |d: Option<chrono::NaiveDate>| d.map_or_else(|| "-".to_string(), |d| d.to_string());
    format!(
        "{} for {} on {:?}, {} to {}",
        r.provider,
        r.client,
        r.scope
            .as_deref()
            .unwrap_or(&["every workflow".to_string()]),
        day(r.from),
        day(r.until)
    )
}

/// `123/2026` → (123, 2026).
fn parse_number(label: &str) -> Option<(i64, i64)> {
    let (seq, year) = label.split_once('/')?;
    Some((seq.trim().parse().ok()?, year.trim().parse().ok()?))
}

/// A chain head a checkpoint signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Head {
    pub instance: InstanceId,
    pub seq: i64,
    pub hash: String,
}

/// What a checkpoint covers besides the heads: the deploy chain and the instance ledger.
#[derive(Debug, Clone, Default)]
pub struct Covered {
    pub heads: Vec<Head>,
    pub deploys: i64,
    pub deploys_head: String,
    /// The relation chain's length and head (empty: no record yet).
    pub relations: i64,
    pub relations_head: String,
    pub ledger: i64,
}

/// Stored events read back as sealed events (their text parsed); a text that does not parse
/// is a corrupt store.
pub(crate) fn read_sealed(
    stored: Vec<history::StoredEvent>,
) -> std::result::Result<Vec<history::Sealed>, StoreError> {
    stored
        .into_iter()
        .map(|s| {
            let event: history::Event = serde_json::from_str(&s.body).map_err(|e| {
                StoreError::Corrupt(format!("event {} of {}: {e}", s.seq, s.instance))
            })?;
            Ok(history::Sealed {
                event,
                hash: s.hash,
                body: s.body,
            })
        })
        .collect()
}

impl Engine {
    /// The instance's history, oldest first, each event with its hash.
    pub async fn history(&self, actor: &Actor, id: InstanceId) -> Result<Vec<history::Sealed>> {
        self.instance(actor, id).await?;
        let stored = self.store.events(id).await?;
        Ok(read_sealed(stored)?)
    }

    /// The case file of an instance: the instance, its history (each event's text and hash, so
    /// the chain can be re-checked offline), its documents with their content and hashes, and
    /// the result of verifying the chain now.
    pub async fn case_file(&self, actor: &Actor, id: InstanceId) -> Result<serde_json::Value> {
        let instance = self.instance(actor, id).await?;
        let stored = self.store.events(id).await?;
        let checked = self.verify_instance(id).await?;
        let chain = serde_json::json!({
            "ok": checked.ok,
            "broken": checked.broken,
            "broken_documents": checked.broken_documents,
        });
        // Who acted, and for which tenant, beside each sealed body (read from it: the body
        // is what the hash covers; the first format has no tenant).
        let events: Vec<serde_json::Value> = stored
            .iter()
            .map(|e| {
                let read: Option<history::Event> = serde_json::from_str(&e.body).ok();
                serde_json::json!({
                    "seq": e.seq, "body": e.body, "hash": e.hash, "prev_hash": e.prev_hash,
                    "actor": read.as_ref().map(|r| r.actor.clone()),
                    "actor_tenant": read.and_then(|r| r.actor_tenant),
                })
            })
            .collect();
        let documents: Vec<serde_json::Value> = self
            .store
            .documents(id)
            .await?
            .into_iter()
            .map(|d| {
                let verified = history::sha256_hex(d.content.as_bytes()) == d.sha256;
                let mut value = serde_json::json!(d);
                if let Some(map) = value.as_object_mut() {
                    map.insert("content".into(), serde_json::json!(d.content));
                    map.insert("verified".into(), serde_json::json!(verified));
                }
                value
            })
            .collect();
        Ok(serde_json::json!({
            "exported_at": crate::timefmt::rfc3339(self.now()),
            "instance": instance,
            "chain": chain,
            "events": events,
            "documents": documents,
        }))
    }

    pub async fn documents(&self, actor: &Actor, instance: InstanceId) -> Result<Vec<Document>> {
        self.instance(actor, instance).await?;
        Ok(self.store.documents(instance).await?)
    }

    pub async fn document(&self, actor: &Actor, id: Uuid) -> Result<Document> {
        match self.store.document(id).await? {
            Some(document) if self.instance(actor, document.instance).await.is_ok() => Ok(document),
            _ => Err(EngineError::NotFound(format!("document {id}"))),
        }
    }

    /// Re-checks one instance: its chain and every row beside it (its row, tasks, documents,
    /// ledger entry, package), as [`Engine::verify`] does for all. The caller has checked
    /// that the instance may be seen.
    pub async fn verify_instance(&self, id: InstanceId) -> Result<VerifyReport> {
        let mut snapshot = self.store.snapshot().await?;
        let packages = snapshot.packages().await?;
        let mut pass = Pass {
            tenant: None,
            packages,
            report: VerifyReport::default(),
            numbers: HashMap::new(),
            heads: None,
            expected: None,
            files: Vec::new(),
            awards: Vec::new(),
            grants: HashMap::new(),
            granted_at: HashMap::new(),
            unvouched: HashSet::new(),
        };
        // The batch of one: the first instance after the id just below this one, with the
        // rows in the range up to it.
        let before = id.uuid().as_u128().checked_sub(1).map(Uuid::from_u128);
        let batch = snapshot.batch(before, None, 1).await?;
        if batch.instances.first().map(|i| i.id) == Some(id) {
            pass.batch(batch);
        }
        self.check_files(&mut pass).await?;
        let mut report = pass.report;
        report.ok = report.broken.is_empty() && report.broken_documents.is_empty();
        Ok(report)
    }

    /// Every file a history names must still exist, be the instance's tenant's, and hash to
    /// what the history sealed (its bytes are re-read chunk by chunk). Files are immutable, so
    /// reading them beside the snapshot is consistent.
    async fn check_files(&self, pass: &mut Pass<'_>) -> Result<()> {
        use sha2::Digest as _;
        for (instance, seq, file, sealed, tenant) in std::mem::take(&mut pass.files) {
            let row = format!("files({file})");
            let reason = match self.store.file(file).await? {
                None => Some("the file the history names is gone".to_string()),
                Some((f, _)) if f.tenant != tenant => Some(format!(
                    "the file's tenant `{}` is not its instance's (`{tenant}`)",
                    f.tenant
                )),
                Some((f, _)) if f.sha256 != sealed => {
                    Some("the file's sha256 is not the one recorded in the history".into())
                }
                Some((_, at)) => {
                    let mut hasher = sha2::Sha256::new();
                    let mut missing = false;
                    for n in 0..at.chunks {
                        match self.store.file_chunk(at, n).await? {
                            Some(bytes) => hasher.update(&bytes),
                            None => {
                                missing = true;
                                break;
                            }
                        }
                    }
                    if missing {
                        Some("part of the file's content is gone".into())
                    } else if crate::files::hex(&hasher.finalize()) != sealed {
                        Some("the file's content does not match its sha256".into())
                    } else {
                        None
                    }
                }
            };
            if let Some(reason) = reason {
                pass.report.broken.push(link(instance, seq, row, reason));
            }
        }
        Ok(())
    }

    /// Verification as `actor` asks it: auditors and administrators, of their own tenant.
    pub async fn verify_as(&self, actor: &Actor) -> Result<VerifyReport> {
        if !actor.may_audit() {
            return Err(EngineError::Forbidden(
                "verifying the history needs the `auditor` or `admin` role".into(),
            ));
        }
        self.verify(Some(&actor.tenant)).await
    }

    /// Re-checks every hash chain of a tenant (`None`: all tenants) and every row beside it.
    pub async fn verify(&self, tenant: Option<&str>) -> Result<VerifyReport> {
        Ok(self.verify_pass(tenant, None, false).await?.0)
    }

    /// One streaming pass of verification inside one snapshot. With `expected` (a checkpoint's
    /// heads and what else it covers) it also reports every chain that no longer extends its
    /// signed head; with `collect` it returns the heads of every instance, for a checkpoint.
    pub async fn verify_pass(
        &self,
        tenant: Option<&str>,
        expected: Option<(&crate::checkpoint::Header, crate::checkpoint::SignedHeads)>,
        collect: bool,
    ) -> Result<(VerifyReport, Covered)> {
        let mut snapshot = self.store.snapshot().await?;
        let packages = snapshot.packages().await?;
        let header = expected.as_ref().map(|(h, _)| (*h).clone());
        let mut pass = Pass {
            tenant,
            packages,
            report: VerifyReport::default(),
            numbers: HashMap::new(),
            heads: collect.then(Vec::new),
            expected: expected.map(|(_, heads)| heads),
            files: Vec::new(),
            awards: Vec::new(),
            grants: HashMap::new(),
            granted_at: HashMap::new(),
            unvouched: HashSet::new(),
        };
        if let Some(h) = &header {
            pass.report.checkpoint = Some(CheckpointCheck {
                created_at: h.created_at.clone(),
                chains: usize::try_from(h.instances).unwrap_or(usize::MAX),
                not_extending: 0,
            });
        }
        let mut after = None;
        loop {
            let batch = snapshot.batch(after, pass.tenant, BATCH).await?;
            let (upper, last) = (batch.upper, batch.last);
            pass.batch(batch);
            if last {
                break;
            }
            after = upper;
        }
        pass.registers(snapshot.registers(tenant).await?);
        pass.rotation(snapshot.rotation(tenant).await?);
        let granted = snapshot.relations(tenant).await?;
        let held: HashMap<(String, String), String> = granted
            .iter()
            .map(|r| {
                (
                    (r.provider.clone(), r.client.clone()),
                    r.granted_by.clone().unwrap_or_default(),
                )
            })
            .collect();
        pass.relations(granted);
        let records = snapshot.relation_records().await?;
        let recorded = snapshot.recorded_relations(tenant).await?;
        let rows = crate::relation_chain::Rows {
            recorded: &recorded,
            held: &held,
            grants: &pass.granted_at,
        };
        for p in crate::relation_chain::check(&records, &rows, tenant.is_none()) {
            pass.problem(&p.row, p.reason);
        }
        self.check_files(&mut pass).await?;
        let mut covered = Covered::default();
        if tenant.is_none() {
            covered.relations = i64::try_from(records.len()).unwrap_or(i64::MAX);
            covered.relations_head = records.last().map(|r| r.hash.clone()).unwrap_or_default();
            if let Some(h) = &header
                && h.relations > 0
            {
                let signed = usize::try_from(h.relations - 1)
                    .ok()
                    .and_then(|k| records.get(k));
                if signed.map(|r| &r.hash) != Some(&h.relations_head) {
                    pass.problem(
                        "relation_records",
                        format!("the relation chain no longer extends the head signed in the checkpoint (record {})", h.relations),
                    );
                }
            }
            let ledger = snapshot.ledger().await?;
            covered.ledger = ledger.highest;
            if let Some(h) = &header
                && ledger.highest < h.ledger
            {
                pass.problem(
                    "instance_ledger",
                    format!(
                        "the checkpoint counted {} instances in the ledger; {} remain",
                        h.ledger, ledger.highest
                    ),
                );
            }
            pass.ledger(ledger);
            let deploys = snapshot.deploys().await?;
            pass.deploys(&deploys);
            covered.deploys = i64::try_from(deploys.len()).unwrap_or(i64::MAX);
            covered.deploys_head = deploys
                .last()
                .map_or_else(|| history::GENESIS.to_string(), |d| d.hash.clone());
            if let Some(h) = &header
                && h.deploys > 0
            {
                let signed = usize::try_from(h.deploys - 1)
                    .ok()
                    .and_then(|k| deploys.get(k));
                if signed.map(|d| &d.hash) != Some(&h.deploys_head) {
                    pass.problem(
                        "deploys",
                        format!("the deploy chain no longer extends the head signed in the checkpoint (deploy {})", h.deploys),
                    );
                }
            }
            for (id, (seq, _)) in pass.expected.take().unwrap_or_default() {
                pass.report.broken.push(link(
                    id,
                    seq,
                    "instances",
                    "the instance was in the checkpoint but is gone",
                ));
                if let Some(check) = pass.report.checkpoint.as_mut() {
                    check.not_extending += 1;
                }
            }
        }
        let mut report = pass.report;
        report.broken.sort_by_key(|b| (b.instance, b.seq));
        report.ok = report.broken.is_empty()
            && report.broken_documents.is_empty()
            && report.problems.is_empty();
        covered.heads = pass.heads.unwrap_or_default();
        Ok((report, covered))
    }
}
