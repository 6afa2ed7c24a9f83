//! `workflows/sua-direct-award` and the rotation principle (art. 49 d.lgs. 36/2023), driven on
//! the engine with the manual clock, on both backends. The direct award reads and writes the
//! same register of outgoing contractors as the negotiated procedure: the register of the body
//! the case runs for (the Comune, when the SUA acts for it under a convenzione), per category
//! and value band. Its determina is the act that awards, so that is where the outgoing
//! contractor is refused, unless the exception is motivated (c.4) or the amount is below
//! € 5.000 (c.6); once adopted, its operator is the new outgoing contractor.

mod common;

use common::convenzione::{COMUNE, PROVINCE, related};
use common::{databases, open_task, vars};
use procedo_engine::InstanceId;
use procedo_engine::model::{Actor, Instance};
use procedo_engine::{Engine, EngineError, ManualClock};
use serde_json::{Value, json};
use std::sync::Arc;

const WORKFLOW: &str = "sua-direct-award";
/// Two operators of the Comune's market (valid partite IVA).
const EDILNORD: (&str, &str) = ("Edilnord srl", "12345670488");
const COSTRUZIONI: (&str, &str) = ("Costruzioni Asolane srl", "02111340267");

fn dirigente() -> Actor {
    Actor::new("paolo.neri", PROVINCE, &["dirigente"])
}
fn rup() -> Actor {
    Actor::new("anna.rup", PROVINCE, &["rup"])
}
fn admin() -> Actor {
    Actor::new("admin", PROVINCE, &["admin"])
}

async fn setup(db: &common::TestDb) -> (Engine, Arc<ManualClock>) {
    let (engine, clock) = common::convenzione::setup(
        db,
        &[
            (PROVINCE, "Provincia di Treviso", "provincia"),
            (COMUNE, "Comune di Asolo", "comune"),
        ],
    )
    .await;
    related(&engine).await;
    (engine, clock)
}

/// What the dirigente enters at the start: an award in `categoria` of `importo` to `operator`.
fn award(categoria: &str, importo: &str, operator: (&str, &str)) -> serde_json::Map<String, Value> {
    vars(json!({
        "oggetto": "Manutenzione della viabilità comunale",
        "tipo": "works",
        "categoria": categoria,
        "importo": importo,
        "ente_committente": "Comune di Asolo",
        "operatore_economico": operator.0,
        "partita_iva": operator.1,
        "codice_fiscale": operator.1,
    }))
}

async fn complete(engine: &Engine, actor: &Actor, id: InstanceId, action: &str, data: Value) {
    let task = open_task(engine, &admin(), id).await;
    engine
        .complete(actor, task.id, action, data)
        .await
        .unwrap_or_else(|e| panic!("{}/{action}: {e:?}", task.state));
}

/// Starts the award for the Comune (or, with `None`, for the Province itself) and brings it to
/// the determina: RUP appointed and accepted, self-declaration recorded (below € 40.000).
async fn to_determina(
    engine: &Engine,
    on_behalf_of: Option<&str>,
    request: serde_json::Map<String, Value>,
) -> InstanceId {
    let started = engine
        .start_on_behalf(
            &dirigente(),
            WORKFLOW,
            request,
            on_behalf_of.map(Into::into),
        )
        .await
        .expect("starts");
    let id = started.id;
    complete(
        engine,
        &dirigente(),
        id,
        "appoint",
        json!({
            "rup_nome": "Anna Russo",
            "rup_qualifica": "funzionario tecnico",
            "rup_utente": "anna.rup",
            "dirigente_nome": "Paolo Neri",
        }),
    )
    .await;
    complete(
        engine,
        &rup(),
        id,
        "accept",
        json!({ "dichiarazione_conflitti": "assenza", "cig": "A03589F8C6" }),
    )
    .await;
    complete(
        engine,
        &rup(),
        id,
        "proceed",
        json!({ "autodichiarazione_data": "2026-04-07" }),
    )
    .await;
    assert_eq!(
        open_task(engine, &admin(), id).await.state,
        "award_decision"
    );
    id
}

fn determina(rotazione: &str) -> Value {
    json!({
        "determina_data": "2026-04-10",
        "motivazione": "esperienza documentata in interventi analoghi e prezzo congruo",
        "rotazione": rotazione,
        "dirigente_nome": "Paolo Neri",
    })
}

async fn adopt(engine: &Engine, id: InstanceId, data: Value) -> Result<Instance, EngineError> {
    let task = open_task(engine, &admin(), id).await;
    assert_eq!(task.state, "award_decision");
    engine.complete(&dirigente(), task.id, "adopt", data).await
}

/// A first award of the Comune in OG1 to Edilnord: the outgoing contractor.
async fn first_award(engine: &Engine) -> InstanceId {
    let id = to_determina(engine, Some(COMUNE), award("OG1", "25.000,00", EDILNORD)).await;
    let adopted = adopt(engine, id, determina("primo affidamento nella categoria"))
        .await
        .expect("adopts");
    assert_eq!(adopted.state, "contract");
    id
}

async fn determina_text(engine: &Engine, id: InstanceId) -> String {
    engine
        .documents(&admin(), id)
        .await
        .expect("documents")
        .into_iter()
        .find(|d| d.template == "determina-affidamento")
        .expect("the determina")
        .content
}

#[tokio::test]
async fn the_determina_records_its_contractor_in_the_comunes_rotation_register() {
    for db in databases().await {
        let (engine, _clock) = setup(&db).await;
        let id = first_award(&engine).await;
        let register = engine.store().rotation(COMUNE).await.expect("reads");
        assert_eq!(register.len(), 1, "{register:?}");
        let row = &register[0];
        assert_eq!(
            (
                row.category.as_str(),
                row.band.as_str(),
                row.operator.as_str()
            ),
            ("og1", "unica", EDILNORD.1)
        );
        assert_eq!(row.operator_name, EDILNORD.0);
        assert_eq!(row.instance, id);
        assert!(
            engine
                .store()
                .rotation(PROVINCE)
                .await
                .expect("reads")
                .is_empty(),
            "the award is the Comune's, not the Province's"
        );
        let text = determina_text(&engine, id).await;
        assert!(
            text.contains(
                "rispetto del principio di rotazione (art. 49; categoria OG1, fascia\nunica)"
            ),
            "{text}"
        );
        assert!(engine.verify(None).await.expect("verifies").ok);
    }
}

#[tokio::test]
async fn the_outgoing_contractor_is_refused_at_the_determina_unless_the_exception_is_motivated() {
    for db in databases().await {
        let (engine, _clock) = setup(&db).await;
        first_award(&engine).await;

        // Art. 49 c.2: the next OG1 award of the Comune to Edilnord is refused at the determina.
        let id = to_determina(&engine, Some(COMUNE), award("OG1", "30.000,00", EDILNORD)).await;
        let before = engine.history(&admin(), id).await.expect("history").len();
        let refused = adopt(&engine, id, determina("ottima esecuzione")).await;
        let Err(EngineError::InvalidData(errors)) = refused else {
            panic!("the outgoing contractor must be refused, got {refused:?}")
        };
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].path, "deroga_rotazione");
        assert!(
            errors[0]
                .message
                .contains("«Edilnord srl» (12345670488) è il contraente uscente")
                && errors[0].message.contains("art. 49 c.2")
                && errors[0].message.contains("art. 49 c.4"),
            "{}",
            errors[0].message
        );
        assert_eq!(
            engine.history(&admin(), id).await.expect("history").len(),
            before,
            "a refused determina records nothing"
        );
        assert!(
            engine
                .documents(&admin(), id)
                .await
                .expect("documents")
                .iter()
                .all(|d| d.template != "determina-affidamento"),
            "and issues no act"
        );

        // The motivated exception (art. 49 c.4) lets the determina through, and says so.
        let mut excepted = determina(
            "mercato locale ristretto: nessun'altra impresa OG1 disponibile nei tempi; il precedente contratto è stato eseguito con esattezza",
        );
        excepted["deroga_rotazione"] = json!(true);
        let adopted = adopt(&engine, id, excepted).await.expect("adopts");
        assert_eq!(adopted.state, "contract");
        let history = engine.history(&admin(), id).await.expect("history");
        assert!(
            history
                .iter()
                .any(|e| e.body.contains("\"rotation_checked\"")
                    && e.body.contains("\"named_under_exception\":true")
                    && e.body.contains(EDILNORD.1)),
            "the exception is sealed in the history"
        );
        assert!(
            determina_text(&engine, id)
                .await
                .contains("in deroga motivata al principio di rotazione (art. 49\nc.4")
        );
        // Both awards are in the register; the latest is the outgoing one.
        let register = engine.store().rotation(COMUNE).await.expect("reads");
        assert_eq!(register.len(), 2);
        assert!(register.iter().any(|r| r.instance == id));
        assert!(engine.verify(None).await.expect("verifies").ok);
    }
}

#[tokio::test]
async fn another_operator_category_or_authority_is_not_held_back_by_the_outgoing_contractor() {
    for db in databases().await {
        let (engine, _clock) = setup(&db).await;
        first_award(&engine).await;
        // Another operator in the same category: the rotation is respected.
        let other = to_determina(
            &engine,
            Some(COMUNE),
            award("OG1", "30.000,00", COSTRUZIONI),
        )
        .await;
        adopt(&engine, other, determina("operatore diverso dall'uscente"))
            .await
            .expect("another operator may have it");
        // The same operator in another category (art. 49 c.2: the same sector).
        let og3 = to_determina(&engine, Some(COMUNE), award("OG3", "30.000,00", EDILNORD)).await;
        adopt(
            &engine,
            og3,
            determina("prima commessa nella categoria OG3"),
        )
        .await
        .expect("another category is another register line");
        // The Province awarding for itself reads its own register, not the Comune's.
        let own = to_determina(&engine, None, award("OG1", "30.000,00", EDILNORD)).await;
        adopt(
            &engine,
            own,
            determina("primo affidamento della Provincia nella categoria"),
        )
        .await
        .expect("another authority");
        assert_eq!(
            engine
                .store()
                .rotation(PROVINCE)
                .await
                .expect("reads")
                .len(),
            1
        );
    }
}

#[tokio::test]
async fn below_5000_euro_the_outgoing_contractor_may_have_the_direct_award_again() {
    for db in databases().await {
        let (engine, _clock) = setup(&db).await;
        first_award(&engine).await;
        // Art. 49 c.6: below € 5.000 the rotation may be set aside; € 5.000 itself is not below.
        let at_limit =
            to_determina(&engine, Some(COMUNE), award("OG1", "5.000,00", EDILNORD)).await;
        let refused = adopt(&engine, at_limit, determina("piccolo intervento")).await;
        assert!(
            matches!(&refused, Err(EngineError::InvalidData(e)) if e[0].path == "deroga_rotazione"),
            "{refused:?}"
        );
        let small = to_determina(&engine, Some(COMUNE), award("OG1", "4.999,99", EDILNORD)).await;
        adopt(
            &engine,
            small,
            determina("affidamento di modico valore (art. 49 c.6)"),
        )
        .await
        .expect("below € 5.000 the exemption applies");
        let history = engine.history(&admin(), small).await.expect("history");
        assert!(
            history
                .iter()
                .any(|e| e.body.contains("\"named_under_exception\":true")),
            "the exemption is sealed as a use of the exception"
        );
    }
}

#[tokio::test]
async fn the_direct_award_cannot_be_started_for_a_comune_without_a_convenzione() {
    for db in databases().await {
        let (engine, _clock) = common::convenzione::setup(
            &db,
            &[
                (PROVINCE, "Provincia di Treviso", "provincia"),
                (COMUNE, "Comune di Asolo", "comune"),
            ],
        )
        .await;
        let refused = engine
            .start_on_behalf(
                &dirigente(),
                WORKFLOW,
                award("OG1", "25.000,00", EDILNORD),
                Some(COMUNE.into()),
            )
            .await;
        assert!(
            matches!(refused, Err(EngineError::Forbidden(_))),
            "{refused:?}"
        );
        assert!(
            engine
                .store()
                .rotation(COMUNE)
                .await
                .expect("reads")
                .is_empty()
        );
    }
}

/// Lifts the register's append-only triggers, as an attacker with the database file (SQLite)
/// or the owner's rights (PostgreSQL) can.
async fn disarm_register(engine: &Engine, db: &common::TestDb) {
    let statement = match db.backend {
        "sqlite" => {
            "DROP TRIGGER rotation_register_no_update; DROP TRIGGER rotation_register_no_delete"
        }
        _ => "ALTER TABLE rotation_register DISABLE TRIGGER ALL",
    };
    for part in statement.split("; ") {
        engine
            .store()
            .execute_raw(part)
            .await
            .unwrap_or_else(|e| panic!("{part}: {e}"));
    }
}

async fn edit(engine: &Engine, sql: &str) {
    let changed = engine
        .store()
        .execute_raw(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    assert_eq!(changed, 1, "{sql}");
}

fn problem_names(report: &procedo_engine::audit::VerifyReport, what: &str) -> bool {
    report
        .problems
        .iter()
        .any(|p| p.row.starts_with("rotation_register(") && p.reason.contains(what))
}

#[tokio::test]
async fn a_forged_edited_or_removed_award_in_the_rotation_register_is_found_by_verify() {
    for db in databases().await {
        let (engine, _clock) = setup(&db).await;
        let first = first_award(&engine).await;
        assert!(engine.verify(None).await.expect("verifies").ok);
        disarm_register(&engine, &db).await;
        let fresh_id = match db.backend {
            "sqlite" => "randomblob(16)",
            _ => "gen_random_uuid()",
        };

        // A forged row makes a competitor the outgoing contractor: the engine believes it (the
        // award to Costruzioni is refused), and verify finds the row no history sealed.
        edit(
            &engine,
            &format!(
                "INSERT INTO rotation_register (id, authority, category, band, operator, operator_name, tenant, instance_id, recorded_us, previous) \
                 SELECT {fresh_id}, authority, category, band, '{}', '{}', tenant, instance_id, recorded_us + 1, id FROM rotation_register",
                COSTRUZIONI.1, COSTRUZIONI.0
            ),
        )
        .await;
        let victim = to_determina(
            &engine,
            Some(COMUNE),
            award("OG1", "30.000,00", COSTRUZIONI),
        )
        .await;
        assert!(
            matches!(
                adopt(&engine, victim, determina("operatore diverso dall'uscente")).await,
                Err(EngineError::InvalidData(_))
            ),
            "the forged row does exclude the operator: that is the harm verify must show"
        );
        let report = engine.verify(None).await.expect("verify runs");
        assert!(!report.ok);
        assert!(
            problem_names(&report, "no history sealed this award")
                && problem_names(&report, COSTRUZIONI.1),
            "{:#?}",
            report.problems
        );
        assert!(
            report.broken.is_empty(),
            "the sealed award still has its row: {:#?}",
            report.broken
        );
        edit(
            &engine,
            &format!(
                "DELETE FROM rotation_register WHERE operator = '{}'",
                COSTRUZIONI.1
            ),
        )
        .await;
        assert!(
            engine.verify(None).await.expect("verifies").ok,
            "back to what was sealed"
        );

        // An edited operator, or a re-dated row, no longer matches the sealed award.
        for change in [
            format!(
                "UPDATE rotation_register SET operator = '{}'",
                COSTRUZIONI.1
            ),
            "UPDATE rotation_register SET recorded_us = recorded_us - 86400000000".to_string(),
        ] {
            edit(&engine, &change).await;
            let report = engine.verify(None).await.expect("verify runs");
            assert!(!report.ok, "{change}");
            assert!(
                problem_names(&report, "no history sealed this award"),
                "{change}: {report:#?}"
            );
            assert!(
                report.broken.iter().any(|b| b.instance == first
                    && b.row == "rotation_register"
                    && b.reason.contains("not in the rotation register")),
                "{change}: {:#?}",
                report.broken
            );
            edit(&engine, "DELETE FROM rotation_register").await;
            // Restore the sealed row by re-recording exactly what the history says.
            let sealed = engine.store().events(first).await.expect("events");
            let at = sealed
                .iter()
                .find(|e| e.body.contains("\"rotation_recorded\""))
                .map(|e| {
                    let event: serde_json::Value = serde_json::from_str(&e.body).expect("json");
                    event["at"].as_str().expect("at").to_string()
                })
                .expect("the sealed award");
            let micros = chrono::DateTime::parse_from_rfc3339(&at)
                .expect("rfc3339")
                .timestamp_micros();
            let instance = match db.backend {
                "sqlite" => format!("X'{}'", first.uuid().simple()),
                _ => format!("'{first}'::uuid"),
            };
            edit(
                &engine,
                &format!(
                    "INSERT INTO rotation_register (id, authority, category, band, operator, operator_name, tenant, instance_id, recorded_us) \
                     VALUES ({fresh_id}, '{COMUNE}', 'og1', 'unica', '{}', '{}', '{PROVINCE}', {instance}, {micros})",
                    EDILNORD.1, EDILNORD.0
                ),
            )
            .await;
            assert!(
                engine.verify(None).await.expect("verifies").ok,
                "{change}: restored"
            );
        }

        // A removed award readmits the outgoing contractor: the history still names it.
        edit(&engine, "DELETE FROM rotation_register").await;
        let report = engine.verify(None).await.expect("verify runs");
        assert!(!report.ok);
        assert!(
            report
                .broken
                .iter()
                .any(|b| b.instance == first && b.reason.contains("not in the rotation register")),
            "{:#?}",
            report.broken
        );
    }
}

/// End to end: whatever the interleaving of the two adoptions, one awards and the other is
/// checked against it. (Whether they truly overlap depends on scheduling; the write guard
/// itself is proven deterministically by the next test.)
#[tokio::test]
async fn two_determine_adopted_at_once_for_the_same_operator_and_category_award_only_one() {
    for db in databases().await {
        let (engine, _clock) = setup(&db).await;
        // Rounds of two cases each, to the same operator in a fresh category each round: both
        // reach the determina while nobody is outgoing, and both are adopted at the same time.
        for round in 0..5 {
            let categoria = format!("OG{}", round + 1);
            let first = to_determina(
                &engine,
                Some(COMUNE),
                award(&categoria, "25.000,00", EDILNORD),
            )
            .await;
            let second = to_determina(
                &engine,
                Some(COMUNE),
                award(&categoria, "26.000,00", EDILNORD),
            )
            .await;
            let (a, b) = tokio::join!(
                adopt(
                    &engine,
                    first,
                    determina("primo affidamento nella categoria")
                ),
                adopt(
                    &engine,
                    second,
                    determina("primo affidamento nella categoria")
                ),
            );
            let refusals: Vec<_> = [&a, &b]
                .into_iter()
                .filter_map(|r| match r {
                    Err(EngineError::InvalidData(errors)) => Some(errors[0].path.clone()),
                    _ => None,
                })
                .collect();
            assert_eq!(
                (a.is_ok() as u8 + b.is_ok() as u8, refusals),
                (1, vec!["deroga_rotazione".to_string()]),
                "{}: exactly one award, the other checked against it: {a:?} / {b:?}",
                db.backend
            );
            let register = engine.store().rotation(COMUNE).await.expect("reads");
            assert_eq!(
                register
                    .iter()
                    .filter(|r| r.category == categoria.to_lowercase())
                    .count(),
                1
            );
        }
        assert!(engine.verify(None).await.expect("verifies").ok);
    }
}

/// The guard under the race above, made deterministic: an award decided on a register line
/// that has changed since it was read is not written (the engine then reads the register
/// again and checks the award afresh), one decided on the line as it is is written.
#[tokio::test]
async fn an_award_is_written_only_over_the_register_line_its_decision_read() {
    use procedo_engine::machine::{Effect, Transition};
    use procedo_engine::store::{Conflict, StoreError};
    for db in databases().await {
        let (engine, _clock) = setup(&db).await;
        let id = first_award(&engine).await;
        let existing = engine.store().rotation(COMUNE).await.expect("reads")[0].id;
        let award = |over: Option<Option<uuid::Uuid>>| Transition {
            changes: vec![],
            effects: vec![Effect::RecordRotation {
                id: uuid::Uuid::new_v4(),
                authority: COMUNE.into(),
                category: "og1".into(),
                band: "unica".into(),
                operator: COSTRUZIONI.1.into(),
                operator_name: COSTRUZIONI.0.into(),
                tenant: PROVINCE.into(),
                instance: id,
                at: chrono::Utc::now(),
                over,
            }],
        };
        // Read while the line was empty: another award took it since.
        let stale = engine.store().commit(&award(Some(None))).await;
        assert!(
            matches!(stale, Err(StoreError::Conflict(Conflict::ReadChanged))),
            "{}: {stale:?}",
            db.backend
        );
        assert_eq!(
            engine.store().rotation(COMUNE).await.expect("reads").len(),
            1
        );
        // Read with Edilnord's award as the latest: written.
        engine
            .store()
            .commit(&award(Some(Some(existing))))
            .await
            .expect("the line is as read");
        let register = engine.store().rotation(COMUNE).await.expect("reads");
        assert_eq!(register.len(), 2);
        assert_eq!(register[1].operator, COSTRUZIONI.1);
        // Now Edilnord's is no longer the latest.
        let stale = engine.store().commit(&award(Some(Some(existing)))).await;
        assert!(matches!(
            stale,
            Err(StoreError::Conflict(Conflict::ReadChanged))
        ));
        // Two awards in one transition on the line: the second follows the first.
        let latest = engine.store().rotation(COMUNE).await.expect("reads")[1].id;
        let (first, second) = (award(Some(Some(latest))), award(None));
        let both = Transition {
            changes: vec![],
            effects: [first.effects, second.effects].concat(),
        };
        engine
            .store()
            .commit(&both)
            .await
            .unwrap_or_else(|e| panic!("{}: {e:?}", db.backend));
        assert_eq!(
            engine.store().rotation(COMUNE).await.expect("reads").len(),
            4
        );
    }
}

/// What stops two awards committed at the same moment on PostgreSQL, where neither sees the
/// other's row (READ COMMITTED): each award names the one it follows, and no two may follow
/// the same. The statement that skips the latest-row check is refused by the key itself.
#[tokio::test]
async fn no_two_awards_in_the_register_follow_the_same_award_on_a_line() {
    for db in databases().await {
        let (engine, _clock) = setup(&db).await;
        first_award(&engine).await;
        let row = |id: &str| {
            let id = if db.backend == "postgres" {
                format!("'{id}'")
            } else {
                format!("X'{}'", id.replace('-', ""))
            };
            format!(
                "INSERT INTO rotation_register (id, authority, category, band, operator, operator_name, tenant, instance_id, recorded_us, previous) \
                 SELECT {id}, authority, category, band, '01234567897', 'Altra srl', tenant, instance_id, recorded_us + 1, previous \
                 FROM rotation_register"
            )
        };
        let forked = engine
            .store()
            .execute_raw(row("0190f1c2-0000-7000-8000-000000000001"))
            .await;
        assert!(
            forked.is_err(),
            "a second award after the same one on {}: {forked:?}",
            db.backend
        );
        assert_eq!(
            engine.store().rotation(COMUNE).await.expect("reads").len(),
            1
        );
    }
}
