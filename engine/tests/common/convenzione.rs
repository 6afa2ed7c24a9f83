//! Fixtures of the SUA convenzione (`workflows/sua-convenzione`) shared by its stories and the
//! attacks on `relation:`: the registry, the shipped SUA packages deployed by the platform,
//! the Comune's request and the data of each step before the signature.

use procedo_engine::model::Actor;
use procedo_engine::store::RelationRow;
use procedo_engine::{Engine, ManualClock};
use serde_json::{Value, json};
use std::sync::Arc;

pub const PROVINCE: &str = "provincia-treviso";
pub const COMUNE: &str = "comune-asolo";

pub fn platform_admin() -> Actor {
    Actor::new("root", "default", &["admin"])
}

/// An engine with `tenants` (id, name, kind) registered and the SUA packages deployed as
/// shared workflows (only those may grant relations).
pub async fn setup(
    db: &super::TestDb,
    tenants: &[(&str, &str, &str)],
) -> (Engine, Arc<ManualClock>) {
    let (engine, clock) = super::engine(db).await;
    for (id, name, kind) in tenants {
        procedo_engine::tenancy::add(engine.store(), id, name, kind, super::start_time())
            .await
            .expect("registers");
    }
    for name in [
        "sua-convenzione",
        "sua-lot-evaluation",
        "sua-open-tender",
        "sua-direct-award",
    ] {
        engine
            .deploy(&super::shipped(name), &platform_admin())
            .await
            .expect("deploys");
    }
    (engine, clock)
}

/// The Comune's adhesion naming `client`: open tenders, services up to € 900.000.
pub fn request(client: &str) -> serde_json::Map<String, Value> {
    super::vars(json!({
        "comune": client,
        "comune_nome": "Comune di Asolo",
        "procedimenti": ["sua-open-tender"],
        "importo_massimo_servizi": "900.000,00",
        "referente_nome": "Rita Bianchi",
    }))
}

/// The steps before the signature, as (state, action, data): SF2 covers the request.
pub fn steps_to_signature() -> [(&'static str, &'static str, Value); 3] {
    [
        (
            "qualification_check",
            "covered",
            json!({ "livello_lavori": "nessuno", "livello_servizi": "SF2", "dirigente_nome": "Paolo Neri" }),
        ),
        (
            "council_resolution",
            "recorded",
            json!({ "delibera_comune_numero": "14", "delibera_comune_data": "2026-03-20" }),
        ),
        (
            "province_resolution",
            "recorded",
            json!({ "delibera_provincia_numero": "9", "delibera_provincia_data": "2026-03-27" }),
        ),
    ]
}

/// The signature's data.
pub fn signature(signed_on: &str, expiry: &str) -> Value {
    json!({
        "data_sottoscrizione": signed_on,
        "data_scadenza": expiry,
        "firmatari": "il Sindaco di Asolo e il Presidente della Provincia di Treviso",
    })
}

/// The Province acts for the Comune in every workflow, as an administrator recorded it (for
/// the stories that are not about the convenzione itself).
pub async fn related(engine: &Engine) {
    engine
        .store()
        .relate(
            &RelationRow {
                provider: PROVINCE.into(),
                client: COMUNE.into(),
                scope: None,
                from: None,
                until: None,
                granted_by: None,
            },
            "admin",
            super::start_time(),
        )
        .await
        .expect("relates");
}
