//! Open Contracting Data Standard 1.1 releases of a SUA case: what a Province publishes as
//! open data about the tenders it runs for its Comuni (domain.md §6).
//!
//! One contracting process per lot, as ANAC does it: the `ocid` is the configured prefix and
//! the lot's CIG (`ocds-abc123-A03589F8C6`). Each process gets a `tender` release when the
//! tender was published, an `award` release when the lot was awarded (or a `tender` release
//! marked unsuccessful when it was deserted) and a `contract` release when its contract was
//! signed; each release is dated by the history event that made it true, so a release never
//! says more than the case knew at that instant. The Comune is the `buyer`, the Province-SUA
//! the `procuringEntity` (the SUA case of the standard: buyer and procuring entity differ).
//!
//! The mapping reads the shipped SUA workflows' variables (`sua-open-tender` with its lot
//! evaluations, `sua-direct-award`, `sua-procedura-negoziata`); a case of any other workflow
//! has no OCDS form.

use crate::history::Sealed;
use crate::model::Instance;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Europe::Rome;
use serde_json::{Value as Json, json};

/// Why a case has no OCDS releases.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OcdsError {
    #[error("the cases of `{0}` are not public contracts: they have no OCDS releases")]
    NotAContract(String),
    #[error(
        "`{0}` is not an OCDS prefix (ocds- and six lowercase letters or digits, from the Open Contracting Partnership)"
    )]
    BadPrefix(String),
}

/// An ocid prefix as the Open Contracting Partnership issues them: `ocds-` and six lowercase
/// letters or digits.
pub fn check_prefix(prefix: &str) -> Result<(), OcdsError> {
    let ok = prefix.strip_prefix("ocds-").is_some_and(|rest| {
        rest.len() == 6
            && rest
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    });
    if ok {
        Ok(())
    } else {
        Err(OcdsError::BadPrefix(prefix.to_string()))
    }
}

/// Who publishes: the Province-SUA (the tenant the case runs in), and where the package lives.
/// The engine's OCDS settings (see [`crate::Engine::with_ocds`]).
#[derive(Debug, Clone)]
pub struct Publishing {
    pub prefix: String,
    pub public_url: String,
}

pub struct Publisher<'a> {
    pub prefix: &'a str,
    pub name: &'a str,
    pub uri: &'a str,
    pub published: DateTime<Utc>,
}

/// The release package of a case (all its lots), oldest release first.
pub fn release_package(
    instance: &Instance,
    history: &[Sealed],
    publisher: &Publisher<'_>,
) -> Result<Json, OcdsError> {
    check_prefix(publisher.prefix)?;
    let case = Case::read(instance, history)?;
    let mut releases = Vec::new();
    for lot in &case.lots {
        releases.extend(lot_releases(&case, lot, publisher));
    }
    releases.sort_by(|a, b| a["date"].as_str().cmp(&b["date"].as_str()));
    Ok(json!({
        "uri": publisher.uri,
        "version": "1.1",
        "publishedDate": rfc3339(publisher.published),
        "publisher": { "name": publisher.name },
        "releases": releases,
    }))
}

/// A case's facts as OCDS needs them, whichever SUA workflow it runs.
struct Case {
    method: &'static str,
    method_details: &'static str,
    category: Option<&'static str>,
    subject: String,
    buyer: String,
    lots: Vec<Lot>,
    /// When the tender was published (the call for offers): the offers window opened.
    published: Option<String>,
    tender_end: Option<String>,
    /// When the award was adopted.
    awarded: Option<String>,
    /// When the contracts were recorded as signed.
    signed: Option<String>,
    withdrawn: bool,
    /// The contract was terminated (art. 52 c.2 after a failed sample check).
    terminated: bool,
    /// When the case ended (its last event), for a case that has.
    ended: Option<String>,
}

struct Lot {
    cig: String,
    name: Option<String>,
    value: Option<Json>,
    award_criteria: Option<&'static str>,
    tenderers: Option<i64>,
    /// The awarded supplier (name, partita IVA) and amount; `None` when deserted.
    outcome: Option<Outcome>,
    deserted: bool,
    contract: Option<Contract>,
}

struct Outcome {
    supplier: String,
    vat: Option<String>,
    amount: Option<Json>,
}

struct Contract {
    date_signed: Option<String>,
    reference: Option<String>,
}

fn text(v: &Json) -> Option<String> {
    v.as_str().map(str::to_string).filter(|s| !s.is_empty())
}

/// A money amount as an OCDS `Value` in euro, read with the forms' own money rules (so
/// `200.000,00` and `200000.00` are the same amount; a JSON number is what OCDS asks for).
fn value(v: &Json) -> Option<Json> {
    let amount = procedo_forms::money::money_from_json(v, false).ok()?;
    let amount: Json = serde_json::from_str(&procedo_forms::money::format_money(amount)).ok()?;
    Some(json!({ "amount": amount, "currency": "EUR" }))
}

/// A date of a form (`2026-07-20`) as an OCDS date-time: the start of that day in Rome.
fn date_time(v: &Json) -> Option<String> {
    let date = NaiveDate::parse_from_str(v.as_str()?, "%Y-%m-%d").ok()?;
    let local = Rome
        .from_local_datetime(&date.and_hms_opt(0, 0, 0)?)
        .earliest()?;
    Some(local.to_rfc3339())
}

/// The last instant of a form's date in Rome (`2026-06-04` → `2026-06-04T23:59:59+02:00`):
/// where a term given as a day ends (Reg. 1182/71 art. 3 c.2 lett. b).
fn end_of_day(v: &Json) -> Option<String> {
    let date = NaiveDate::parse_from_str(v.as_str()?, "%Y-%m-%d").ok()?;
    let local = Rome
        .from_local_datetime(&date.and_hms_opt(23, 59, 59)?)
        .latest()?;
    Some(local.to_rfc3339())
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The instant of the first event that completed `state` (with `action`, when given).
fn completed(history: &[Sealed], state: &str, action: Option<&str>) -> Option<String> {
    history
        .iter()
        .find(|e| {
            e.event.from_state.as_deref() == Some(state)
                && e.event.kind == "task_completed"
                && action.is_none_or(|a| e.event.action.as_deref() == Some(a))
        })
        .map(|e| e.event.at.clone())
}

fn category(tipo: &Json) -> Option<&'static str> {
    match tipo.as_str()? {
        "works" => Some("works"),
        "services" | "social_services" => Some("services"),
        "supplies" => Some("goods"),
        _ => None,
    }
}

impl Case {
    fn read(instance: &Instance, history: &[Sealed]) -> Result<Self, OcdsError> {
        // As a JSON value, a missing variable reads as null (a map's index would panic).
        let vars = &Json::Object(instance.variables.clone());
        // Withdrawn or not contracted by the workflow, or cancelled by an administrator: the
        // process is cancelled, never left `active`.
        let withdrawn = matches!(
            instance.status.label(),
            "withdrawn" | "abandoned" | "not_contracted" | "cancelled"
        );
        let ended = (!instance.status.is_active())
            .then(|| history.last().map(|e| e.event.at.clone()))
            .flatten();
        match instance.definition.as_str() {
            "sua-open-tender" => {
                let results = vars["lot_results"].as_array().cloned().unwrap_or_default();
                let lots = vars["lots"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|lot| {
                        let cig = text(&lot["cig"])?;
                        let result = results
                            .iter()
                            .find(|r| r["variables"]["lot"]["cig"].as_str() == Some(cig.as_str()));
                        let awarded = result.is_some_and(|r| r["outcome"] == "awarded");
                        let outcome = result.filter(|_| awarded).map(|r| Outcome {
                            supplier: text(&r["variables"]["aggiudicatario"]).unwrap_or_default(),
                            vat: text(&r["variables"]["partita_iva_aggiudicatario"]),
                            amount: value(&r["variables"]["importo_aggiudicazione"]),
                        });
                        let contract = vars["contratti"]
                            .as_array()
                            .and_then(|cs| {
                                cs.iter().find(|c| c["cig"].as_str() == Some(cig.as_str()))
                            })
                            .map(|c| Contract {
                                date_signed: date_time(&c["data_stipula"]),
                                reference: text(&c["repertorio"]),
                            });
                        let tenderers = vars["esito_lotti"].as_array().and_then(|es| {
                            es.iter()
                                .find(|e| e["cig"].as_str() == Some(cig.as_str()))
                                .and_then(|e| e["offerte_ricevute"].as_i64())
                        });
                        Some(Lot {
                            name: text(&lot["name"]),
                            value: value(&lot["base_amount"]),
                            award_criteria: match lot["criterio"].as_str() {
                                Some("minor_prezzo") => Some("priceOnly"),
                                Some(_) => Some("ratedCriteria"),
                                None => None,
                            },
                            tenderers,
                            // Deserted, or no offer suitable (art. 108 c.10): the lot's tender is unsuccessful.
                            deserted: result.is_some_and(|r| {
                                r["outcome"] == "deserted" || r["outcome"] == "no_suitable_offer"
                            }),
                            outcome,
                            contract,
                            cig,
                        })
                    })
                    .collect();
                Ok(Self {
                    method: "open",
                    method_details: "Procedura aperta (art. 71 d.lgs. 36/2023)",
                    category: category(&vars["tipo"]),
                    subject: text(&vars["oggetto"]).unwrap_or_default(),
                    buyer: text(&vars["ente_committente"]).unwrap_or_default(),
                    lots,
                    published: completed(history, "publication", None),
                    tender_end: text(&vars["scadenza_offerte"]).and_then(|t| {
                        DateTime::parse_from_rfc3339(&t)
                            .ok()
                            .map(|t| t.to_rfc3339())
                            .or_else(|| date_time(&json!(t)))
                    }),
                    awarded: completed(history, "award_decision", Some("award")),
                    // Below the EU threshold the contracts are signed in `contract_below`
                    // (no stand-still, art. 55).
                    signed: completed(history, "contract", Some("sign"))
                        .or_else(|| completed(history, "contract_below", Some("sign"))),
                    withdrawn,
                    terminated: false,
                    ended: ended.clone(),
                })
            }
            "sua-direct-award" => {
                let awarded = completed(history, "award_decision", Some("adopt"));
                let lot = Lot {
                    cig: text(&vars["cig"]).unwrap_or_default(),
                    name: None,
                    value: value(&vars["importo"]),
                    award_criteria: None,
                    tenderers: Some(1),
                    outcome: awarded.as_ref().map(|_| Outcome {
                        supplier: text(&vars["operatore_economico"]).unwrap_or_default(),
                        vat: text(&vars["partita_iva"]),
                        amount: value(&vars["importo"]),
                    }),
                    deserted: false,
                    contract: completed(history, "contract", Some("sign")).map(|_| Contract {
                        date_signed: date_time(&vars["stipula_data"]),
                        reference: text(&vars["repertorio"]),
                    }),
                };
                Ok(Self {
                    method: "direct",
                    method_details: "Affidamento diretto (art. 50 c.1 lett. a-b d.lgs. 36/2023)",
                    category: category(&vars["tipo"]),
                    subject: text(&vars["oggetto"]).unwrap_or_default(),
                    buyer: text(&vars["ente_committente"]).unwrap_or_default(),
                    lots: one_lot(lot),
                    // A direct award has no call for offers: the process is public from the award.
                    published: awarded.clone(),
                    tender_end: None,
                    awarded,
                    signed: completed(history, "contract", Some("sign")),
                    withdrawn,
                    terminated: instance.status.label() == "terminated",
                    ended: ended.clone(),
                })
            }
            "sua-procedura-negoziata" => {
                // The process is public from the invitations (no call for competition, art. 50
                // c.1 lett. c-e): the market-survey notice only asks for expressions of interest.
                let invited = completed(history, "selection", Some("invite"));
                let awarded = completed(history, "award_decision", Some("award"));
                let lot = Lot {
                    cig: text(&vars["cig"]).unwrap_or_default(),
                    name: None,
                    value: value(&vars["importo"]),
                    award_criteria: match vars["criterio"].as_str() {
                        Some("minor_prezzo") => Some("priceOnly"),
                        Some("oepv") => Some("ratedCriteria"),
                        _ => None,
                    },
                    // The offers received (admitted or not); a case evaluated before the
                    // field existed recorded only the admitted ones.
                    tenderers: vars["offerte_pervenute"].as_i64().or_else(|| {
                        vars["offerte"]
                            .as_array()
                            .and_then(|o| i64::try_from(o.len()).ok())
                    }),
                    // The award's amount is the base less the discount and the costs not subject
                    // to it, which the case does not hold: the award carries no value.
                    outcome: awarded.as_ref().map(|_| Outcome {
                        supplier: text(&vars["aggiudicatario"]).unwrap_or_default(),
                        vat: text(&vars["aggiudicatario_partita_iva"]),
                        amount: None,
                    }),
                    deserted: instance.status.label() == "deserted",
                    contract: completed(history, "contract", Some("sign")).map(|_| Contract {
                        date_signed: date_time(&vars["data_stipula"]),
                        reference: text(&vars["repertorio"]),
                    }),
                };
                Ok(Self {
                    method: "limited",
                    method_details: "Procedura negoziata senza bando (art. 50 c.1 lett. c-e d.lgs. 36/2023)",
                    category: category(&vars["tipo"]),
                    subject: text(&vars["oggetto"]).unwrap_or_default(),
                    buyer: text(&vars["ente_committente"]).unwrap_or_default(),
                    lots: one_lot(lot),
                    published: invited,
                    // The letter's term is a day: the offers window closes at its end.
                    tender_end: end_of_day(&vars["scadenza_offerte"]),
                    awarded,
                    signed: completed(history, "contract", Some("sign")),
                    withdrawn,
                    terminated: false,
                    ended: ended.clone(),
                })
            }
            other => Err(OcdsError::NotAContract(other.to_string())),
        }
    }
}

/// A single-lot procedure's lots: its lot, once it has a CIG (no process without an ocid).
fn one_lot(lot: Lot) -> Vec<Lot> {
    if lot.cig.is_empty() {
        vec![]
    } else {
        vec![lot]
    }
}

/// A party id: the tax number where the case has one, else the name made into a slug.
fn party_id(name: &str, vat: Option<&str>) -> String {
    match vat {
        Some(vat) => format!("IT-PIVA-{vat}"),
        None => {
            let slug: String = name
                .to_lowercase()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect();
            let slug = slug
                .split('-')
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join("-");
            format!("IT-ENTE-{slug}")
        }
    }
}

fn lot_releases(case: &Case, lot: &Lot, publisher: &Publisher<'_>) -> Vec<Json> {
    let ocid = format!("{}-{}", publisher.prefix, lot.cig);
    let buyer = json!({ "id": party_id(&case.buyer, None), "name": case.buyer });
    let sua = json!({ "id": party_id(publisher.name, None), "name": publisher.name });
    let title = match &lot.name {
        Some(name) => format!("{} - {name}", case.subject),
        None => case.subject.clone(),
    };
    // The tender as it stood at the call: open, the offers not yet in.
    let mut tender = json!({
        "id": lot.cig,
        "title": title,
        "status": "active",
        "procurementMethod": case.method,
        "procurementMethodDetails": case.method_details,
        "procuringEntity": sua,
    });
    let fields = [
        ("mainProcurementCategory", case.category.map(Json::from)),
        ("value", lot.value.clone()),
        ("awardCriteria", lot.award_criteria.map(Json::from)),
        (
            "tenderPeriod",
            case.tender_end
                .as_ref()
                .map(|end| json!({ "endDate": end })),
        ),
    ];
    for (key, v) in fields {
        if let (Some(v), Json::Object(map)) = (v, &mut tender) {
            map.insert(key.into(), v);
        }
    }
    // A release states the process at its date: from the outcome on, the tender is closed
    // with that outcome, and the offers received are known.
    let closed = |status: &str| {
        let mut closed = tender.clone();
        closed["status"] = json!(status);
        if let (Some(n), Json::Object(map)) = (lot.tenderers, &mut closed) {
            map.insert("numberOfTenderers".into(), json!(n));
        }
        closed
    };
    let mut parties = vec![
        json!({ "id": buyer["id"], "name": case.buyer, "roles": ["buyer"] }),
        json!({ "id": sua["id"], "name": publisher.name, "roles": ["procuringEntity"] }),
    ];
    let release = |stage: &str, date: &str, parties: &[Json], tender: &Json| {
        json!({
            "ocid": ocid,
            "id": format!("{}-{stage}", lot.cig),
            "date": date,
            "tag": [stage],
            "initiationType": "tender",
            "language": "it",
            "parties": parties,
            "buyer": buyer,
            "tender": tender,
        })
    };
    let mut out = Vec::new();
    let Some(published) = &case.published else {
        return out;
    };
    // A direct award has no call: it is public from the award, which settles it at once.
    let called = if case.method == "direct" {
        closed("complete")
    } else {
        tender.clone()
    };
    out.push(release("tender", published, &parties, &called));
    // A lot without an award ends where it was decided: unsuccessful (deserted, or no offer
    // suitable), or cancelled with the case; dated with the award decision that settled the
    // lots, else with the case's end. Until then it stays as called.
    // A lot proposed for award but never awarded by the decree (the decision not to award,
    // or the case cancelled before it) has no award either.
    if lot.outcome.is_none() || case.awarded.is_none() {
        let update = if lot.deserted {
            Some(("tenderUpdate", "unsuccessful"))
        } else if case.withdrawn {
            Some(("tenderCancellation", "cancelled"))
        } else {
            None
        };
        if let (Some((tag, status)), Some(date)) =
            (update, case.awarded.as_ref().or(case.ended.as_ref()))
        {
            out.push(release(tag, date, &parties, &closed(status)));
        }
        return out;
    }
    let (Some(outcome), Some(date)) = (&lot.outcome, &case.awarded) else {
        return out;
    };
    let supplier = json!({ "id": party_id(&outcome.supplier, outcome.vat.as_deref()), "name": outcome.supplier });
    parties.push(json!({ "id": supplier["id"], "name": outcome.supplier, "roles": ["supplier", "tenderer"] }));
    let award_id = format!("{}-award-1", lot.cig);
    let mut award = json!({
        "id": award_id,
        "status": "active",
        "date": date,
        "suppliers": [supplier],
    });
    if let (Some(v), Json::Object(map)) = (&outcome.amount, &mut award) {
        map.insert("value".into(), v.clone());
    }
    let mut awarded = release("award", date, &parties, &closed("complete"));
    awarded["awards"] = json!([award]);
    out.push(awarded);
    let (Some(contract), Some(date)) = (&lot.contract, &case.signed) else {
        // Awarded, then withdrawn or never contracted: the award is cancelled when the case
        // ended.
        if let (true, Some(ended)) = (case.withdrawn, &case.ended) {
            let mut cancelled = award.clone();
            cancelled["status"] = json!("cancelled");
            let mut release = release("awardCancellation", ended, &parties, &closed("cancelled"));
            release["awards"] = json!([cancelled]);
            out.push(release);
        }
        return out;
    };
    let mut signed = json!({
        "id": format!("{}-contract-1", lot.cig),
        "awardID": award_id,
        "status": if case.terminated { "terminated" } else { "active" },
    });
    let extra = [
        ("dateSigned", contract.date_signed.clone().map(Json::from)),
        ("value", outcome.amount.clone()),
        (
            "description",
            contract
                .reference
                .as_ref()
                .map(|r| json!(format!("Repertorio {r}"))),
        ),
    ];
    for (key, v) in extra {
        if let (Some(v), Json::Object(map)) = (v, &mut signed) {
            map.insert(key.into(), v);
        }
    }
    let mut contracted = release("contract", date, &parties, &closed("complete"));
    contracted["awards"] = json!([award]);
    contracted["contracts"] = json!([signed]);
    out.push(contracted);
    out
}

impl crate::Engine {
    /// The OCDS release package of a case the actor may read (`prefix`: the authority's ocid
    /// prefix; `uri`: where the package is published). A case of a workflow that is no public
    /// contract is "not found" as OCDS.
    /// Publishes OCDS under `prefix` (the ocid prefix the Open Contracting Partnership issued
    /// to the authority), each package's `uri` under `public_url`: the case file of a SUA case
    /// then holds `ocds.json`, the package `GET /api/v1/instances/{id}/ocds` serves.
    pub fn with_ocds(mut self, prefix: impl Into<String>, public_url: impl Into<String>) -> Self {
        self.ocds = Some(Publishing {
            prefix: prefix.into(),
            public_url: public_url.into(),
        });
        self
    }

    /// The release package of a case for its case file, when OCDS is published and the case
    /// is a public contract; `None` otherwise.
    pub(crate) async fn ocds_for_case_file(
        &self,
        instance: &Instance,
        history: &[Sealed],
    ) -> crate::engine::Result<Option<Json>> {
        let Some(publishing) = &self.ocds else {
            return Ok(None);
        };
        let names = self.tenant_names().await?;
        let name = names
            .get(instance.tenant.as_str())
            .cloned()
            .unwrap_or_else(|| instance.tenant.to_string());
        let uri = format!(
            "{}/api/v1/instances/{}/ocds",
            publishing.public_url.trim_end_matches('/'),
            instance.id
        );
        let publisher = Publisher {
            prefix: &publishing.prefix,
            name: &name,
            uri: &uri,
            published: self.now(),
        };
        match release_package(instance, history, &publisher) {
            Ok(package) => Ok(Some(package)),
            Err(OcdsError::NotAContract(_)) => Ok(None),
            Err(e @ OcdsError::BadPrefix(_)) => Err(crate::EngineError::Rejected(e.to_string())),
        }
    }

    pub async fn ocds(
        &self,
        actor: &crate::model::Actor,
        id: crate::ids::InstanceId,
        prefix: &str,
        uri: &str,
    ) -> crate::engine::Result<Json> {
        let instance = self.instance(actor, id).await?;
        let history = self.history(actor, id).await?;
        let names = self.tenant_names().await?;
        let name = names
            .get(instance.tenant.as_str())
            .cloned()
            .unwrap_or_else(|| instance.tenant.to_string());
        let publisher = Publisher {
            prefix,
            name: &name,
            uri,
            published: self.now(),
        };
        release_package(&instance, &history, &publisher).map_err(|e| match e {
            OcdsError::NotAContract(_) => crate::EngineError::NotFound(format!("OCDS data: {e}")),
            OcdsError::BadPrefix(_) => crate::EngineError::Rejected(e.to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_is_the_one_the_open_contracting_partnership_issues() {
        assert!(check_prefix("ocds-hu01ve").is_ok());
        for bad in [
            "ocds-HU01VE",
            "ocds-hu01v",
            "ocds-hu01ve1",
            "hu01ve",
            "ocds-hu 1ve",
            "",
        ] {
            assert!(check_prefix(bad).is_err(), "{bad}");
        }
    }

    fn case(method: &'static str, awarded: Option<&str>, withdrawn: bool) -> Case {
        Case {
            method,
            method_details: "",
            category: Some("services"),
            subject: "Servizio di prova".into(),
            buyer: "Comune di Asolo".into(),
            lots: Vec::new(),
            published: Some("2026-04-03T08:00:00Z".into()),
            tender_end: None,
            awarded: awarded.map(str::to_string),
            signed: None,
            withdrawn,
            terminated: false,
            ended: withdrawn.then(|| "2026-06-10T09:00:00Z".to_string()),
        }
    }

    fn proposed_lot() -> Lot {
        Lot {
            cig: "B1C2D3E4F5".into(),
            name: None,
            value: None,
            award_criteria: None,
            tenderers: Some(3),
            outcome: Some(Outcome {
                supplier: "Alfa srl".into(),
                vat: Some("12345670488".into()),
                amount: None,
            }),
            deserted: false,
            contract: None,
        }
    }

    fn stages(releases: &[Json]) -> Vec<(String, String)> {
        releases
            .iter()
            .map(|r| {
                (
                    r["tag"][0].as_str().unwrap_or_default().to_string(),
                    r["tender"]["status"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                )
            })
            .collect()
    }

    fn publisher() -> Publisher<'static> {
        Publisher {
            prefix: "ocds-pr0ced",
            name: "Provincia di Treviso",
            uri: "https://example.org/ocds",
            published: chrono::Utc::now(),
        }
    }

    #[test]
    fn a_lot_proposed_for_award_but_withdrawn_before_the_decree_is_cancelled_not_left_open() {
        let releases = lot_releases(&case("open", None, true), &proposed_lot(), &publisher());
        assert_eq!(
            stages(&releases),
            [
                ("tender".to_string(), "active".to_string()),
                ("tenderCancellation".to_string(), "cancelled".to_string())
            ]
        );
        assert_eq!(releases[1]["date"], json!("2026-06-10T09:00:00Z"));
        assert!(releases.iter().all(|r| r.get("awards").is_none()));
        // Still running, the proposal not yet decreed: the tender stays as called.
        let running = lot_releases(&case("open", None, false), &proposed_lot(), &publisher());
        assert_eq!(
            stages(&running),
            [("tender".to_string(), "active".to_string())]
        );
    }

    #[test]
    fn a_direct_award_is_published_settled_from_its_first_release() {
        let at = "2026-04-20T10:00:00Z";
        let mut direct = case("direct", Some(at), false);
        direct.published = Some(at.into());
        let releases = lot_releases(&direct, &proposed_lot(), &publisher());
        assert_eq!(
            stages(&releases),
            [
                ("tender".to_string(), "complete".to_string()),
                ("award".to_string(), "complete".to_string())
            ]
        );
    }

    #[test]
    fn party_ids_use_the_tax_number_or_a_slug_of_the_name() {
        assert_eq!(
            party_id("Alfa srl", Some("12345670488")),
            "IT-PIVA-12345670488"
        );
        assert_eq!(
            party_id("Comune di Asolo (TV)", None),
            "IT-ENTE-comune-di-asolo-tv"
        );
    }

    #[test]
    fn an_amount_reads_in_either_notation() {
        for stored in [json!("200.000,00"), json!("200000.00"), json!(200000)] {
            assert_eq!(
                value(&stored),
                Some(json!({ "amount": 200000.0, "currency": "EUR" })),
                "{stored}"
            );
        }
        assert_eq!(value(&json!("duecentomila")), None);
    }

    #[test]
    fn a_term_given_as_a_day_ends_at_its_last_second_in_rome() {
        assert_eq!(
            end_of_day(&json!("2026-06-04")).as_deref(),
            Some("2026-06-04T23:59:59+02:00")
        );
        assert_eq!(
            end_of_day(&json!("2026-12-04")).as_deref(),
            Some("2026-12-04T23:59:59+01:00")
        );
        assert_eq!(end_of_day(&json!("04/06/2026")), None);
    }

    #[test]
    fn a_form_date_is_the_start_of_that_day_in_rome() {
        assert_eq!(
            date_time(&json!("2026-07-20")).as_deref(),
            Some("2026-07-20T00:00:00+02:00")
        );
        assert_eq!(date_time(&json!("20/07/2026")), None);
    }
}
