//! Verification of the relations administrators record (`procedo tenant relate`, `POST
//! /api/v1/tenants/{id}/relations`) against the relation chain (`relation_records`, migration
//! 0020).
//!
//! Why: a relation decides whom a provider may act for. One a case granted is checked against
//! that case's history (`audit.rs`); one an administrator recorded is checked here against
//! the latest record of its pair, so a row added, widened, extended or moved behind the engine
//! is found. The chain's own links are checked only by a verification of the whole
//! installation: the chain is every tenant's, and a tenant's auditor is not told about
//! others' records.

use crate::audit::Problem;
use crate::history::{self, RelationRecord};
use crate::ids::InstanceId;
use crate::store::{RelationRecordRow, RelationRow};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// When each case last granted a relation (its sealed `relation_granted` notes), by
/// (provider, client).
pub type Grants = HashMap<(String, String), HashMap<InstanceId, DateTime<Utc>>>;

/// The relation rows verification checks the chain against.
pub struct Rows<'a> {
    /// The rows with no case named (`granted_by` empty).
    pub recorded: &'a [RelationRow],
    /// The pairs a case holds now, with the case (`granted_by`) as the row names it: the row's
    /// content is that case's to check (`audit.rs`), its holder is checked here.
    pub held: &'a HashMap<(String, String), String>,
    /// The grants the histories sealed.
    pub grants: &'a Grants,
}

/// What is wrong between the chain and the rows. `whole`: the verification covers every
/// tenant, so a broken link is reported and a recorded relation whose row is gone too;
/// otherwise only the tenant's rows are, and against records up to the first broken link.
///
/// A case may grant over a relation an administrator recorded, and an administrator may
/// record a pair a case holds: the row must be the last writer's. Who wrote last is told by
/// the times sealed in the case's history and in the record (both the engine's clock, or the
/// operator's machine for `procedo tenant relate`); at equal times either is accepted. So a
/// row handed back to an older record (a case's relation restored to the terms it replaced)
/// or to an older case (an administrator's later record undone) is named.
pub fn check(records: &[RelationRecordRow], rows: &Rows<'_>, whole: bool) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut problem = |row: String, reason: String| problems.push(Problem { row, reason });
    let mut latest: HashMap<(String, String), RelationRecord> = HashMap::new();
    let mut prev = history::GENESIS.to_string();
    for (k, stored) in records.iter().enumerate() {
        let expected = i64::try_from(k).unwrap_or(i64::MAX) + 1;
        let record: Option<RelationRecord> = serde_json::from_str(&stored.body).ok();
        let reason = match &record {
            _ if stored.seq != expected => Some(format!(
                "expected relation record {expected}: a record is missing"
            )),
            _ if history::sha256_hex(stored.body.as_bytes()) != stored.hash => {
                Some("the relation record does not match its hash".to_string())
            }
            None => Some("the relation record cannot be read".to_string()),
            Some(r) if r.prev_hash != prev || stored.prev_hash != prev => {
                Some("the link to the previous relation record is broken".to_string())
            }
            Some(r)
                if r.seq != stored.seq
                    || r.provider != stored.provider
                    || r.client != stored.client =>
            {
                Some("the columns beside the relation record do not match it".to_string())
            }
            Some(_) => None,
        };
        if let Some(reason) = reason {
            // Past a broken link no record can be trusted to be what was recorded: a
            // tenant's rows resting on one are reported as not vouched for below.
            if whole {
                problem(format!("relation_records(seq {})", stored.seq), reason);
            }
            break;
        }
        if let Some(r) = record {
            latest.insert((r.provider.clone(), r.client.clone()), r);
        }
        prev = stored.hash.clone();
    }
    let recorded_at = |r: &RelationRecord| crate::timefmt::parse_instant(&r.recorded_at);
    let last_grant = |pair: &(String, String)| {
        rows.grants
            .get(pair)
            .and_then(|cases| cases.iter().max_by_key(|(_, at)| **at))
            .map(|(case, at)| (*case, *at))
    };
    for row in rows.recorded {
        let pair = (row.provider.clone(), row.client.clone());
        let label = format!("tenant_relations({} -> {})", row.provider, row.client);
        let record = latest.remove(&pair);
        if let Some((case, at)) = last_grant(&pair)
            && record
                .as_ref()
                .and_then(recorded_at)
                .is_none_or(|recorded| at > recorded)
        {
            problem(
                label,
                format!(
                    "case {case} granted this relation after the last record of an administrator, but the relation no longer names it"
                ),
            );
            continue;
        }
        match record {
            None => problem(
                label,
                "no administrator recorded this relation and no case granted it".to_string(),
            ),
            Some(r) if !same(&r, row) => problem(
                label,
                format!(
                    "the relation says {} but record {} says {}",
                    describe(
                        row.scope.as_deref(),
                        row.from.map(|d| d.to_string()).as_deref(),
                        row.until.map(|d| d.to_string()).as_deref()
                    ),
                    r.seq,
                    describe(r.scope.as_deref(), r.from.as_deref(), r.until.as_deref())
                ),
            ),
            Some(_) => {}
        }
    }
    for (pair, holder) in rows.held {
        let label = format!("tenant_relations({} -> {})", pair.0, pair.1);
        let record = latest.remove(pair);
        let holder_at = holder.parse::<InstanceId>().ok().and_then(|case| {
            rows.grants
                .get(pair)
                .and_then(|cases| cases.get(&case))
                .copied()
        });
        // A holder no history granted is `audit.rs`'s to report.
        let Some(holder_at) = holder_at else { continue };
        if let Some((case, at)) = last_grant(pair)
            && at > holder_at
        {
            problem(
                label,
                format!(
                    "case {case} granted this relation after case {holder}, which the relation names"
                ),
            );
        } else if let Some(r) = record
            && recorded_at(&r).is_some_and(|recorded| recorded > holder_at)
        {
            problem(
                label,
                format!(
                    "an administrator recorded this relation (record {}) after case {holder} granted it, but the relation names the case",
                    r.seq
                ),
            );
        }
    }
    if whole {
        for (pair, r) in latest {
            if !rows.held.contains_key(&pair) {
                problem(
                    format!("tenant_relations({} -> {})", pair.0, pair.1),
                    format!("the relation recorded as record {} is gone", r.seq),
                );
            }
        }
    }
    problems
}

fn same(record: &RelationRecord, row: &RelationRow) -> bool {
    let day = |d: Option<chrono::NaiveDate>| d.map(|d| d.format("%Y-%m-%d").to_string());
    record.scope == row.scope && record.from == day(row.from) && record.until == day(row.until)
}

fn describe(scope: Option<&[String]>, from: Option<&str>, until: Option<&str>) -> String {
    format!(
        "{} from {} to {}",
        scope.map_or_else(|| "every workflow".to_string(), |s| s.join(",")),
        from.unwrap_or("-"),
        until.unwrap_or("-")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// `check` over rows no case holds, with no grants sealed but `held`'s.
    fn rows_check(
        records: &[RelationRecordRow],
        recorded: &[RelationRow],
        held: &HashSet<(String, String)>,
        whole: bool,
    ) -> Vec<Problem> {
        let held = held
            .iter()
            .map(|pair| (pair.clone(), "not-a-case".to_string()))
            .collect();
        let rows = Rows {
            recorded,
            held: &held,
            grants: &Grants::new(),
        };
        check(records, &rows, whole)
    }

    fn relation(client: &str, until: Option<&str>) -> RelationRow {
        RelationRow {
            provider: "provincia-treviso".into(),
            client: client.into(),
            scope: None,
            from: None,
            until: until.and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()),
            granted_by: None,
        }
    }

    /// The chain an administrator would leave by recording `relations` in order.
    fn chain(relations: &[RelationRow]) -> Vec<RelationRecordRow> {
        let mut prev = history::GENESIS.to_string();
        let mut rows = Vec::new();
        for (k, r) in relations.iter().enumerate() {
            let seq = i64::try_from(k).expect("few") + 1;
            let record = RelationRecord {
                v: history::FORMAT,
                seq,
                provider: r.provider.clone(),
                client: r.client.clone(),
                scope: r.scope.clone(),
                from: r.from.map(|d| d.to_string()),
                until: r.until.map(|d| d.to_string()),
                recorded_by: "admin".into(),
                recorded_at: "2026-12-03T18:00:00Z".into(),
                note: None,
                prev_hash: prev.clone(),
            };
            let (body, hash) = record.seal();
            rows.push(RelationRecordRow {
                seq,
                provider: r.provider.clone(),
                client: r.client.clone(),
                body,
                hash: hash.clone(),
                prev_hash: prev,
            });
            prev = hash;
        }
        rows
    }

    #[test]
    fn rows_as_their_latest_records_say_pass() {
        let first = relation("comune-asolo", Some("2027-12-31"));
        let renewed = relation("comune-asolo", Some("2028-12-31"));
        let records = chain(&[first, renewed.clone()]);
        assert!(rows_check(&records, &[renewed], &HashSet::new(), true).is_empty());
    }

    #[test]
    fn a_row_nobody_recorded_or_extended_behind_the_engine_is_found() {
        let recorded = relation("comune-asolo", Some("2027-12-31"));
        let records = chain(std::slice::from_ref(&recorded));
        for (rows, reason) in [
            (
                vec![recorded.clone(), relation("comune-oderzo", None)],
                "no administrator recorded",
            ),
            (
                vec![relation("comune-asolo", Some("2099-12-31"))],
                "but record 1 says every workflow from - to 2027-12-31",
            ),
        ] {
            for whole in [true, false] {
                let problems = rows_check(&records, &rows, &HashSet::new(), whole);
                assert!(
                    problems.iter().any(|p| p.reason.contains(reason)),
                    "{reason}: {problems:?}"
                );
            }
        }
    }

    #[test]
    fn a_record_rewritten_removed_or_gone_with_its_row_is_found_by_the_whole_check() {
        let a = relation("comune-asolo", None);
        let b = relation("comune-oderzo", None);
        let records = chain(&[a.clone(), b.clone()]);
        let mut rewritten = records.clone();
        rewritten[0].body = rewritten[0].body.replace("comune-asolo", "comune-altro");
        let problems = rows_check(&rewritten, &[a.clone(), b.clone()], &HashSet::new(), true);
        assert!(
            problems[0].reason.contains("does not match its hash"),
            "{problems:?}"
        );
        let problems = rows_check(
            &records[1..],
            &[a.clone(), b.clone()],
            &HashSet::new(),
            true,
        );
        assert!(
            problems[0].reason.contains("a record is missing"),
            "{problems:?}"
        );
        let problems = rows_check(&records, std::slice::from_ref(&a), &HashSet::new(), true);
        assert!(
            problems
                .iter()
                .any(|p| p.row.contains("comune-oderzo") && p.reason.contains("is gone")),
            "{problems:?}"
        );
        // A pair a case holds now is the case's to check, not gone.
        let held = HashSet::from([(b.provider.clone(), b.client.clone())]);
        assert!(rows_check(&records, &[a], &held, true).is_empty());
    }

    #[test]
    fn a_row_handed_back_to_an_older_writer_is_found() {
        let case = InstanceId::from(uuid::Uuid::now_v7());
        let record = relation("comune-asolo", Some("2030-12-31"));
        let records = chain(std::slice::from_ref(&record));
        let pair = (record.provider.clone(), record.client.clone());
        let granted = |at: &str| -> Grants {
            let at = crate::timefmt::parse_instant(at).expect("an instant");
            HashMap::from([(pair.clone(), HashMap::from([(case, at)]))])
        };
        // The record was made on 2026-12-03 at 18:00 (`chain`).
        let (after, before) = (
            granted("2026-12-04T09:00:00Z"),
            granted("2026-12-02T09:00:00Z"),
        );
        let none = HashMap::new();
        let held = HashMap::from([(pair.clone(), case.to_string())]);
        let recorded = std::slice::from_ref(&record);
        let run = |recorded: &[RelationRow], held: &HashMap<(String, String), String>, grants| {
            check(
                &records,
                &Rows {
                    recorded,
                    held,
                    grants,
                },
                true,
            )
        };
        // A case granted over the record; its relation is put back to the record's terms.
        let problems = run(recorded, &none, &after);
        assert!(
            problems.iter().any(|p| p
                .reason
                .contains("granted this relation after the last record")),
            "{problems:?}"
        );
        // A later record over a case's relation stands.
        assert!(run(recorded, &none, &before).is_empty());
        // The row names the case again, but an administrator recorded after it.
        let problems = run(&[], &held, &before);
        assert!(
            problems.iter().any(|p| p
                .reason
                .contains("an administrator recorded this relation (record 1) after case")),
            "{problems:?}"
        );
        // A case's grant over the record: the row is the case's.
        assert!(run(&[], &held, &after).is_empty());
    }

    #[test]
    fn a_tenants_rows_rest_only_on_records_before_a_broken_link() {
        let forged = relation("comune-asolo", None);
        let mut records = chain(&[relation("comune-oderzo", None)]);
        // A record inserted with a link of its own making: its hash matches its text.
        let own = chain(&[relation("comune-x", None), forged.clone()]);
        records.push(own[1].clone());
        let problems = rows_check(&records, &[forged], &HashSet::new(), false);
        assert!(
            problems
                .iter()
                .any(|p| p.reason.contains("no administrator recorded")),
            "{problems:?}"
        );
        assert!(problems.iter().all(|p| !p.row.contains("relation_records")));
    }
}
