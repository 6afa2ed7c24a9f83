//! Cron schedules in Europe/Rome, driven by a manual clock across the changes of daylight time.

mod common;

use chrono::{TimeZone, Utc};
use common::*;
use procedo_engine::store::InstanceFilter;

const WEEKLY_REVIEW: &str = "\
id: test-weekly-review
title: Revisione settimanale dei bandi UE
initial: review
schedules:
  - name: monday-morning
    cron: \"0 0 8 * * Mon\"
    start: { variables: { source: schedule } }
  - name: close-stale
    cron: \"0 0 18 * * Fri\"
    action: { state: review, action: close }
states:
  review:
    task: { role: sape }
    actions:
      close: { to: closed }
  closed: { end: closed }
";

fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .expect("valid instant")
}

async fn count(engine: &procedo_engine::Engine, status: &str) -> usize {
    let filter = InstanceFilter {
        definition: Some("test-weekly-review".into()),
        status: Some(status.into()),
        limit: 100,
        ..Default::default()
    };
    engine
        .instances(&clerk(), &filter)
        .await
        .expect("instances")
        .len()
}

#[tokio::test]
async fn a_weekly_schedule_fires_at_eight_in_rome_on_both_sides_of_the_dst_change() {
    for db in databases().await {
        let (engine, clock) = engine(&db).await;
        // Saturday 17 October 2026, summer time (UTC+2).
        clock.set(utc(2026, 10, 17, 12, 0));
        engine
            .deploy(&package(WEEKLY_REVIEW), &admin())
            .await
            .expect("deploys");

        clock.set(utc(2026, 10, 19, 5, 59)); // Monday 07:59 in Rome
        assert_eq!(engine.fire_due_schedules().await.expect("fires"), 0);
        clock.set(utc(2026, 10, 19, 6, 0)); // Monday 08:00 in Rome, UTC+2
        assert_eq!(engine.fire_due_schedules().await.expect("fires"), 1);
        assert_eq!(
            engine.fire_due_schedules().await.expect("fires"),
            0,
            "an occurrence fires once"
        );
        assert_eq!(count(&engine, "active").await, 1);

        // Friday 23 October 18:00 (UTC+2): the stale review is closed by the system.
        clock.set(utc(2026, 10, 23, 16, 0));
        assert_eq!(engine.fire_due_schedules().await.expect("fires"), 1);
        assert_eq!(
            (
                count(&engine, "active").await,
                count(&engine, "ended").await
            ),
            (0, 1),
            "{}",
            db.backend
        );

        // Summer time ends on Sunday 25 October: Monday 08:00 in Rome is now 07:00 UTC.
        clock.set(utc(2026, 10, 26, 6, 30));
        assert_eq!(
            engine.fire_due_schedules().await.expect("fires"),
            0,
            "06:30 UTC is 07:30 in Rome"
        );
        clock.set(utc(2026, 10, 26, 7, 0));
        assert_eq!(engine.fire_due_schedules().await.expect("fires"), 1);
        assert_eq!(count(&engine, "active").await, 1, "on {}", db.backend);
    }
}

#[tokio::test]
async fn missed_occurrences_collapse_into_one_late_firing() {
    let db = sqlite_db();
    let (engine, clock) = engine(&db).await;
    clock.set(utc(2026, 10, 17, 12, 0));
    engine
        .deploy(&package(WEEKLY_REVIEW), &admin())
        .await
        .expect("deploys");
    // The server was down for three Mondays.
    clock.set(utc(2026, 11, 5, 9, 0));
    assert_eq!(
        engine.fire_due_schedules().await.expect("fires"),
        2,
        "one start and one close, not three of each"
    );
    assert_eq!(engine.fire_due_schedules().await.expect("fires"), 0);
}

#[test]
fn a_local_time_skipped_by_the_spring_change_does_not_fire_that_day() {
    let package = package(&WEEKLY_REVIEW.replace("0 0 8 * * Mon", "0 30 2 * * *"));
    let definition = package.compile(1).expect("compiles");
    let schedule = &definition.schedules[0];
    // 29 March 2026: clocks jump from 02:00 to 03:00 in Rome; 02:30 does not exist.
    let after = Utc
        .with_ymd_and_hms(2026, 3, 28, 1, 30, 0)
        .single()
        .expect("instant");
    assert_eq!(
        schedule.next_after(after),
        Some(utc(2026, 3, 30, 0, 30)),
        "30 March 02:30 in Rome (UTC+2)"
    );
}

#[test]
fn a_bad_cron_expression_is_located() {
    let package = package(&WEEKLY_REVIEW.replace("0 0 8 * * Mon", "every monday"));
    let problems: Vec<String> = package
        .compile(1)
        .err()
        .unwrap_or_default()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with("workflow.yaml:6:12: invalid cron expression `every monday`"),
        "{problems:?}"
    );
}

#[test]
fn a_schedule_whose_variables_the_start_form_refuses_is_reported_at_deploy() {
    let workflow = WEEKLY_REVIEW.replace(
        "initial: review\n",
        "initial: review\nstart: { form: avvio }\n",
    );
    let mut package = package(&workflow);
    package.forms.insert(
        "avvio".into(),
        "title: Avvio\nfields:\n  - { name: comune, label: Comune, type: text, required: true }\n"
            .into(),
    );
    let problems: Vec<String> = package
        .compile(1)
        .err()
        .unwrap_or_default()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains(
            "schedule `monday-morning` starts with variables the start form refuses: comune"
        ),
        "{problems:?}"
    );
}
