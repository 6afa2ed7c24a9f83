//! A state that grants or ends a tenant relation on entry (`relation:`): the convenzione by
//! which a Province's SUA acts for a Comune. The relation is the tenancy check every start on
//! behalf of a Comune passes (`Engine::start_on_behalf`), so the convenzione's signature is
//! what lets the SUA run that Comune's tenders, and its expiry or withdrawal what stops it.
//!
//! The relation is written in the same transaction as the step that decides it (an effect,
//! like every other write) and sealed in its event (`relation_granted`, `relation_ended`). The
//! provider is always the case's own tenant: a workflow cannot make another body serve anyone;
//! the client must be a body of the registry other than the case's, and the case, if run on
//! someone's behalf, can only relate to that body. Only shared workflows may use `relation:`
//! (checked at deploy: a tenant's own package cannot grant itself Comuni). Any tenant may run a
//! shared workflow, so the registry's kinds decide who may be which side: the case's tenant
//! must be a body that runs a SUA ([`PROVIDER_KINDS`]), the client a Comune or a union of
//! Comuni ([`CLIENT_KINDS`]); a Comune, the platform or another Province never becomes either
//! side by running the convenzione itself or naming them in its variables.

use super::enter::scope;
use super::{Effect, MachineError, Working};
use crate::definition::{Definition, RelationChange};
use crate::history::Note;
use crate::ids::InstanceId;
use chrono::NaiveDate;
use serde_json::Value as Json;

/// Kinds of tenant that may serve another through a relation: the bodies that run a SUA.
pub const PROVIDER_KINDS: &[&str] = &["provincia", "libero-consorzio", "citta-metropolitana"];
/// Kinds of tenant that may be served: the bodies that entrust their tenders to a SUA.
pub const CLIENT_KINDS: &[&str] = &["comune", "unione-di-comuni"];

pub fn change(
    work: &mut Working<'_>,
    id: InstanceId,
    definition: &Definition,
    change: &RelationChange,
) -> Result<(), MachineError> {
    let today = work
        .now
        .with_timezone(&chrono_tz::Europe::Rome)
        .date_naive();
    let (provider, on_behalf_of) = {
        let instance = work.get(id)?;
        (instance.tenant.clone(), instance.on_behalf_of.clone())
    };
    let provides = work
        .tenant_kinds
        .get(provider.as_str())
        .is_some_and(|k| PROVIDER_KINDS.contains(&k.as_str()));
    // Ending takes rights away and touches only the case's own tenant's relations: a case
    // that granted one ends it even if the registry changed since.
    if !provides && matches!(change, RelationChange::Grant { .. }) {
        return Err(MachineError::Forbidden(format!(
            "«{provider}» non è un ente che gestisce una stazione unica appaltante ({}): la convenzione non gli dà titolo ad agire per altri",
            PROVIDER_KINDS.join(", ")
        )));
    }
    let evaluate = |work: &Working<'_>, expr: &crate::expr::Expr| -> Result<Json, MachineError> {
        let instance = work.get(id)?;
        Ok(expr.eval(&scope(instance, None, definition, work))?)
    };
    let day = |work: &Working<'_>, expr: &crate::expr::Expr| -> Result<NaiveDate, MachineError> {
        let instance = work.get(id)?;
        let at = expr.eval_instant(&scope(instance, None, definition, work))?;
        Ok(at.with_timezone(&chrono_tz::Europe::Rome).date_naive())
    };
    let client_of = |work: &Working<'_>,
                     expr: &crate::expr::Expr|
     -> Result<String, MachineError> {
        let client = match evaluate(work, expr)? {
            Json::String(s) => s.trim().to_string(),
            other => {
                return Err(MachineError::Inconsistent(format!(
                    "relation: the client must be a tenant id, got {other}"
                )));
            }
        };
        let served = work
            .tenant_kinds
            .get(&client)
            .is_some_and(|k| CLIENT_KINDS.contains(&k.as_str()));
        let ending = matches!(change, RelationChange::End { .. });
        if client == provider || !(served || ending && work.tenant_kinds.contains_key(&client)) {
            return Err(MachineError::NotNow(format!(
                "«{client}» non è un Comune (o un'unione di Comuni) del registro diverso dall'ente che gestisce la pratica: la convenzione non può valere per lui"
            )));
        }
        if on_behalf_of.as_deref().is_some_and(|o| o != client) {
            return Err(MachineError::Forbidden(format!(
                "la pratica è svolta per conto di «{}»: non può riguardare «{client}»",
                on_behalf_of.as_deref().unwrap_or_default()
            )));
        }
        Ok(client)
    };
    match change {
        RelationChange::Grant {
            client,
            scope: covered,
            from,
            until,
        } => {
            let client = client_of(work, client)?;
            let covered = match covered {
                None => None,
                Some(expr) => Some(workflow_ids(evaluate(work, expr)?)?),
            };
            let from = match from {
                Some(expr) => day(work, expr)?,
                None => today,
            };
            let until = match until {
                Some(expr) => Some(day(work, expr)?),
                None => None,
            };
            if until.is_some_and(|until| until < from) {
                return Err(MachineError::NotNow(format!(
                    "la convenzione finirebbe il {} prima di cominciare il {}",
                    until
                        .map(|d| d.format("%d/%m/%Y").to_string())
                        .unwrap_or_default(),
                    from.format("%d/%m/%Y")
                )));
            }
            // Another case's convenzione in force on a day this one would cover holds the
            // relation: the new one starts after it ends (a withdrawal, the expiry).
            let case = id.to_string();
            if let Some(held) = work.relations.iter().find(|r| {
                r.provider == provider
                    && r.client == client
                    && r.granted_by.as_ref().is_some_and(|g| *g != case)
                    && r.until.is_none_or(|until| until >= from)
            }) {
                return Err(MachineError::NotNow(format!(
                    "{} ha già una convenzione in vigore, sottoscritta in un'altra pratica{}: questa può decorrere solo dal giorno dopo la sua fine, per recesso o scadenza",
                    work.tenant_names.get(&client).unwrap_or(&client),
                    held.until
                        .map(|d| format!(" fino al {}", d.format("%d/%m/%Y")))
                        .unwrap_or_default()
                )));
            }
            let iso = |d: NaiveDate| d.format("%Y-%m-%d").to_string();
            let effect = Effect::Relate {
                provider: provider.into_string(),
                client: client.clone(),
                scope: covered.as_ref().map(|s| s.join(",")),
                from: Some(iso(from)),
                until: until.map(iso),
                at: work.now,
                case,
            };
            let note = Note::RelationGranted {
                client,
                scope: covered,
                from: iso(from),
                until: until.map(iso),
            };
            work.effect(id, effect, note)
        }
        RelationChange::End { client, last_day } => {
            let client = client_of(work, client)?;
            let last_day = day(work, last_day)?.format("%Y-%m-%d").to_string();
            let effect = Effect::EndRelation {
                provider: provider.into_string(),
                client: client.clone(),
                last_day: last_day.clone(),
                case: id.to_string(),
            };
            work.effect(id, effect, Note::RelationEnded { client, last_day })
        }
    }
}

/// The workflow ids of a scope: a list of identifiers (a relation names what it covers).
fn workflow_ids(value: Json) -> Result<Vec<String>, MachineError> {
    let bad =
        || MachineError::Inconsistent("relation: the scope must be a list of workflow ids".into());
    let Json::Array(items) = value else {
        return Err(bad());
    };
    let ids: Vec<String> = items
        .iter()
        .map(|i| i.as_str().map(str::to_string).ok_or_else(bad))
        .collect::<Result<_, _>>()?;
    if ids.is_empty()
        || ids.len() > 64
        || !ids.iter().all(|id| crate::definition::is_identifier(id))
    {
        return Err(bad());
    }
    Ok(ids)
}
