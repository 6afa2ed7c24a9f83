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
use crate::store::{RelationRecordRow, RelationRow};
use std::collections::{HashMap, HashSet};

/// What is wrong between the chain and the rows. `recorded`: the rows with no case named
/// (`granted_by` empty); `held`: the pairs a case holds now (their rows are the case's to
/// check). `whole`: the verification covers every tenant, so the links are checked and a
/// recorded relation whose row is gone is reported; otherwise only the rows are checked,
/// against records whose text matches their hash.
pub fn check(
    records: &[RelationRecordRow],
    recorded: &[RelationRow],
    held: &HashSet<(String, String)>,
    whole: bool,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut problem = |row: String, reason: String| problems.push(Problem { row, reason });
    let mut latest: HashMap<(String, String), RelationRecord> = HashMap::new();
    let mut prev = history::GENESIS.to_string();
    for (k, stored) in records.iter().enumerate() {
        let row = format!("relation_records(seq {})", stored.seq);
        let expected = i64::try_from(k).unwrap_or(i64::MAX) + 1;
        let intact = history::sha256_hex(stored.body.as_bytes()) == stored.hash;
        let record: Option<RelationRecord> = serde_json::from_str(&stored.body).ok();
        if whole {
            let reason = match &record {
                _ if stored.seq != expected => Some(format!(
                    "expected relation record {expected}: a record is missing"
                )),
                _ if !intact => Some("the relation record does not match its hash".to_string()),
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
                // Past a broken link nothing later can be trusted to be what was recorded.
                problem(row, reason);
                return problems;
            }
        }
        if let Some(r) = record.filter(|_| intact) {
            latest.insert((r.provider.clone(), r.client.clone()), r);
        }
        prev = stored.hash.clone();
    }
    for row in recorded {
        let pair = (row.provider.clone(), row.client.clone());
        let label = format!("tenant_relations({} -> {})", row.provider, row.client);
        match latest.remove(&pair) {
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
    if whole {
        for (pair, r) in latest {
            if !held.contains(&pair) {
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
        assert!(check(&records, &[renewed], &HashSet::new(), true).is_empty());
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
                let problems = check(&records, &rows, &HashSet::new(), whole);
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
        let problems = check(&rewritten, &[a.clone(), b.clone()], &HashSet::new(), true);
        assert!(
            problems[0].reason.contains("does not match its hash"),
            "{problems:?}"
        );
        let problems = check(
            &records[1..],
            &[a.clone(), b.clone()],
            &HashSet::new(),
            true,
        );
        assert!(
            problems[0].reason.contains("a record is missing"),
            "{problems:?}"
        );
        let problems = check(&records, std::slice::from_ref(&a), &HashSet::new(), true);
        assert!(
            problems
                .iter()
                .any(|p| p.row.contains("comune-oderzo") && p.reason.contains("is gone")),
            "{problems:?}"
        );
        // A pair a case holds now is the case's to check, not gone.
        let held = HashSet::from([(b.provider.clone(), b.client.clone())]);
        assert!(check(&records, &[a], &held, true).is_empty());
    }
}
