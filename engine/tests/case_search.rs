//! The case list's search: words in a case's data, a page with the total, orders; and the
//! business keys declared in the language. On SQLite and, with `PROCEDO_TEST_POSTGRES`, on
//! PostgreSQL.

mod common;

use common::*;
use procedo_engine::store::{CaseOrder, CaseSearch, InstanceFilter};
use serde_json::json;

const KEYED: &str = "\
id: test-keyed
title: Pratica con chiavi
summary: \"vars.oggetto\"
keys:
  - comune
  - { name: cig, label: CIG, value: \"vars.lots.map(l, l.cig)\" }
initial: review
states:
  review:
    task: { role: clerk }
    actions:
      done: { to: closed, set: { comune: \"'Comune di Maser'\" } }
  closed: { end: closed }
";

#[tokio::test]
async fn the_case_search_finds_cases_by_words_of_their_data_and_counts_them_all() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        deploy(&engine, &[KEYED]).await;
        for n in 0..7 {
            let comune = if n % 2 == 0 {
                "Comune di Asolo"
            } else {
                "Comune 100% Treviso"
            };
            engine
                .start(
                    &clerk(),
                    "test-keyed",
                    vars(json!({ "oggetto": format!("Gara {n}"), "comune": comune,
                                 "lots": [{ "cig": format!("A0000000{n:02}") }] })),
                )
                .await
                .expect("start");
        }
        let search = |text: &str, limit: i64, offset: i64| CaseSearch {
            filter: InstanceFilter {
                limit,
                offset,
                ..Default::default()
            },
            text: Some(text.to_string()),
            key: None,
            order: CaseOrder::Oldest,
        };
        let (page, total) = engine
            .search_instances(&clerk(), &search("asolo", 2, 0))
            .await
            .expect("search");
        assert_eq!(
            (page.len(), total),
            (2, 4),
            "a page of 2 of the 4 Asolo cases on {}",
            db.backend
        );
        assert_eq!(
            page[0].variables["oggetto"],
            json!("Gara 0"),
            "oldest first"
        );
        let (_, total) = engine
            .search_instances(&clerk(), &search("100%", 50, 0))
            .await
            .expect("search");
        assert_eq!(total, 3, "`%` matches itself on {}", db.backend);
        let (_, total) = engine
            .search_instances(&clerk(), &search("a%", 50, 0))
            .await
            .expect("search");
        assert_eq!(total, 0, "`%` is no wildcard on {}", db.backend);
        let (found, total) = engine
            .search_instances(&clerk(), &search("a000000003", 50, 0))
            .await
            .expect("search");
        assert_eq!(total, 1, "by a lot's CIG on {}", db.backend);
        let (other, total) = engine
            .search_instances(&other_tenant_clerk(), &search("asolo", 50, 0))
            .await
            .expect("search");
        assert_eq!((other.len(), total), (0, 0), "another tenant finds nothing");

        let definition = engine
            .workflow(&clerk(), "test-keyed", None)
            .await
            .expect("definition");
        assert_eq!(
            definition.case_summary(&found[0]).as_deref(),
            Some("Gara 3")
        );
        let keys = definition.case_keys(&found[0]);
        assert_eq!(
            keys.iter()
                .map(|k| (k.label.as_str(), k.values.clone()))
                .collect::<Vec<_>>(),
            vec![
                ("comune", vec!["Comune 100% Treviso".to_string()]),
                ("CIG", vec!["A000000003".to_string()])
            ]
        );
    }
}

#[test]
fn a_key_that_names_no_variable_is_refused_at_deploy_with_its_location() {
    let workflow = KEYED.replace("  - comune\n", "  - comune\n  - protocollo\n");
    let errors = package(&workflow).compile(1).expect_err("refused");
    let text = errors
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        text.contains(
            "workflow.yaml:6:5: key `protocollo` names no form field and no `set:` target"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn a_page_of_open_tasks_carries_the_total_and_pages_never_repeat_a_task() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        deploy(&engine, &[KEYED]).await;
        // The manual clock stands still: every task arrives at the same instant, so only the
        // id decides their order, and pages must still neither repeat nor skip.
        for n in 0..7 {
            engine
                .start(
                    &clerk(),
                    "test-keyed",
                    vars(json!({ "oggetto": format!("Gara {n}"), "lots": [] })),
                )
                .await
                .expect("start");
        }
        let page = |offset: i64| procedo_engine::TaskQuery {
            mine: true,
            limit: Some(3),
            offset,
            ..Default::default()
        };
        let mut seen = Vec::new();
        for offset in [0, 3, 6] {
            let (tasks, total) = engine
                .task_page(&clerk(), &page(offset))
                .await
                .expect("tasks");
            assert_eq!(total, 7, "every page says the total on {}", db.backend);
            seen.extend(tasks.iter().map(|t| t.id));
        }
        let distinct: std::collections::HashSet<_> = seen.iter().collect();
        assert_eq!(
            (seen.len(), distinct.len()),
            (7, 7),
            "three pages hold every task once on {}",
            db.backend
        );
        let (past, total) = engine.task_page(&clerk(), &page(9)).await.expect("tasks");
        assert!(past.is_empty());
        assert_eq!(
            total, 7,
            "past the end the total is still known on {}",
            db.backend
        );
        let (theirs, total) = engine
            .task_page(&other_tenant_clerk(), &page(0))
            .await
            .expect("tasks");
        assert!(theirs.is_empty() && total == 0, "{}", db.backend);
    }
}

#[tokio::test]
async fn a_key_value_finds_each_case_once_even_when_several_of_its_keys_hold_it() {
    for db in databases().await {
        let (engine, _) = engine(&db).await;
        deploy(&engine, &[KEYED]).await;
        for (oggetto, lots) in [
            (
                "Due lotti, un CIG",
                json!([{ "cig": "B0A1C2D3E4" }, { "cig": "B0A1C2D3E4" }]),
            ),
            ("Altra gara", json!([{ "cig": "Z999999999" }])),
        ] {
            engine
                .start(
                    &clerk(),
                    "test-keyed",
                    vars(json!({ "oggetto": oggetto, "lots": lots })),
                )
                .await
                .expect("start");
        }
        let search = CaseSearch {
            filter: InstanceFilter {
                limit: 50,
                ..Default::default()
            },
            key: Some(" b0a1c2d3e4 ".into()),
            ..Default::default()
        };
        let (page, total) = engine
            .search_instances(&clerk(), &search)
            .await
            .expect("search");
        assert_eq!((page.len(), total), (1, 1), "on {}", db.backend);
        assert_eq!(page[0].variables["oggetto"], json!("Due lotti, un CIG"));
        let (theirs, total) = engine
            .search_instances(&other_tenant_clerk(), &search)
            .await
            .expect("search");
        assert!(theirs.is_empty() && total == 0, "{}", db.backend);
    }
}
