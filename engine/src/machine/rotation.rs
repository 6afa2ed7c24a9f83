//! The rotation principle (art. 49 d.lgs. 36/2023): a register of outgoing contractors per
//! contracting authority, category and value band, written by the awards cases make and read
//! by the invitations and awards that follow, in any workflow.
//!
//! - `rotation:` on a state records, on entry, the operator the case awarded to
//!   ([`record`]): an [`Effect::RecordRotation`] written in the step's transaction and sealed
//!   as `rotation_recorded`. The authority is never the workflow's to name: it is the body the
//!   case runs for (`on_behalf_of`, which a start may name only under a convenzione), else the
//!   case's own tenant, so a case writes and reads only its own authority's register.
//! - `rotation_check:` on an action ([`check`]) refuses, before any effect, a submission
//!   naming the outgoing contractor (the operator of the register's latest award in that
//!   category and band: art. 49 c.2, "il contraente uscente"), with a message at the form's
//!   field naming the operator and the rule, unless the workflow's `unless` holds (the
//!   motivated exception of c.4, the exemptions of c.5-6). Every check is sealed as
//!   `rotation_checked`: what the register said, and whether the exception was used.
//!
//! Category and band are compared trimmed and lowercased; operators by their identifier
//! (partita IVA or codice fiscale) uppercased without spaces and without an `IT` prefix.
//! The register is read when the completion is loaded, and an award that read it is written
//! only over the line it read (`Effect::RecordRotation::over`): of two cases of the same
//! authority, category and band awarding at once, the later loses the race, is retried, and
//! is checked against the award that won.

use super::enter::scope;
use super::{Effect, MachineError, Working};
use crate::definition::{Definition, RotationCheck, RotationRecord};
use crate::expr::Expr;
use crate::history::Note;
use crate::history::note::{RotationChecked, RotationEntry};
use crate::ids::InstanceId;
use crate::model::Instance;
use serde_json::{Map, Value as Json};

/// Whose register a case writes and reads: the body it runs for, else its own tenant.
pub fn authority(instance: &Instance) -> String {
    instance
        .on_behalf_of
        .as_ref()
        .unwrap_or(&instance.tenant)
        .to_string()
}

/// A category or band as the register keys it.
fn key(text: &str) -> String {
    text.trim().to_lowercase()
}

/// An operator's identifier as the register keys it: `IT 02111340267` and `02111340267` are
/// the same partita IVA.
pub fn operator_key(text: &str) -> String {
    let compact: String = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase();
    match compact.strip_prefix("IT") {
        Some(rest) if rest.len() == 11 && rest.chars().all(|c| c.is_ascii_digit()) => {
            rest.to_string()
        }
        _ => compact,
    }
}

fn text(value: Json, what: &str) -> Result<String, MachineError> {
    match value {
        Json::String(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        other => Err(MachineError::Inconsistent(format!(
            "rotation: {what} must be a text, got {other}"
        ))),
    }
}

/// Appends the award of the state being entered to the authority's register.
pub fn record(
    work: &mut Working<'_>,
    id: InstanceId,
    definition: &Definition,
    rotation: &RotationRecord,
) -> Result<(), MachineError> {
    let (entry, tenant) = {
        let instance = work.get(id)?;
        let scope = scope(instance, None, definition, work);
        let eval = |expr: &Expr, what: &str| -> Result<String, MachineError> {
            text(expr.eval(&scope)?, what)
        };
        let entry = RotationEntry {
            authority: authority(instance),
            category: key(&eval(&rotation.category, "the category")?),
            band: key(&eval(&rotation.band, "the band")?),
            operator: operator_key(&eval(&rotation.operator, "the operator")?),
            operator_name: eval(&rotation.name, "the operator's name")?,
        };
        (entry, instance.tenant.clone())
    };
    // The line this award extends, as the transition read it; the award then joins what was
    // read, so a later check or award in the same step sees it.
    let over = work.rotation_read.then(|| {
        work.rotation
            .iter()
            .rfind(|r| r.category == entry.category && r.band == entry.band)
            .map(|r| r.id)
    });
    let row_id = work.new_id();
    if work.rotation_read {
        work.rotation.push(crate::store::RotationRow {
            id: row_id,
            category: entry.category.clone(),
            band: entry.band.clone(),
            operator: entry.operator.clone(),
            operator_name: entry.operator_name.clone(),
            instance: id,
            recorded_at: work.now,
        });
    }
    let effect = Effect::RecordRotation {
        id: row_id,
        authority: entry.authority.clone(),
        category: entry.category.clone(),
        band: entry.band.clone(),
        operator: entry.operator.clone(),
        operator_name: entry.operator_name.clone(),
        tenant: tenant.into_string(),
        instance: id,
        at: work.now,
        over,
    };
    work.effect(id, effect, Note::RotationRecorded(entry))
}

/// Checks a submission against the authority's register: the outgoing contractor of the
/// category and band may not be named unless `unless` holds. Returns what to seal.
pub fn check(
    work: &Working<'_>,
    instance: &Instance,
    definition: &Definition,
    rule: &RotationCheck,
    form: &Map<String, Json>,
    action: &str,
) -> Result<Note, MachineError> {
    let mut scope = scope(instance, Some(form), definition, work);
    scope.action = Some(action);
    // Compared by their keys, named in the message as the official typed them.
    let category_typed = text(rule.category.eval(&scope)?, "the category")?;
    let band_typed = text(rule.band.eval(&scope)?, "the band")?;
    let (category, band) = (key(&category_typed), key(&band_typed));
    let named: Vec<String> = match rule.operators.eval(&scope)? {
        Json::Array(items) => items
            .into_iter()
            .map(|i| text(i, "each operator").map(|o| operator_key(&o)))
            .collect::<Result<_, _>>()?,
        Json::Null => Vec::new(),
        other => {
            return Err(MachineError::Inconsistent(format!(
                "rotation_check: the operators must be a list of identifiers, got {other}"
            )));
        }
    };
    let authority = authority(instance);
    let outgoing = work
        .rotation
        .iter()
        .rfind(|r| r.category == category && r.band == band);
    let mut sealed = RotationChecked {
        authority: authority.clone(),
        category: category.clone(),
        band: band.clone(),
        outgoing: outgoing.map(|r| r.operator.clone()),
        outgoing_case: outgoing.map(|r| r.instance),
        named_under_exception: false,
    };
    if let Some(outgoing) = outgoing
        && named.contains(&outgoing.operator)
    {
        let excepted = match &rule.unless {
            Some(unless) => unless.eval_bool(&scope)?,
            None => false,
        };
        if !excepted {
            let day = outgoing
                .recorded_at
                .with_timezone(&chrono_tz::Europe::Rome)
                .format("%d/%m/%Y");
            let who = work.tenant_names.get(&authority).unwrap_or(&authority);
            return Err(MachineError::InvalidData(vec![
                procedo_forms::FieldError::new(
                    rule.field.clone(),
                    "rotation",
                    format!(
                        "«{}» ({}) è il contraente uscente: ha avuto l'ultimo affidamento dell'ente {who} nella categoria «{}», fascia «{}» (aggiudicazione registrata il {day}). Il principio di rotazione vieta di invitarlo e di affidargli di nuovo il contratto (art. 49 c.2 d.lgs. 36/2023), salvo deroga motivata dalla struttura del mercato e dall'effettiva assenza di alternative, con l'accurata esecuzione del precedente contratto (art. 49 c.4).",
                        outgoing.operator_name,
                        outgoing.operator,
                        category_typed.trim(),
                        band_typed.trim()
                    ),
                ),
            ]));
        }
        sealed.named_under_exception = true;
    }
    Ok(Note::RotationChecked(sealed))
}

#[cfg(test)]
mod tests {
    use super::operator_key;

    #[test]
    fn an_italian_vat_number_reads_the_same_with_or_without_its_country_prefix() {
        assert_eq!(operator_key(" IT 02111340267 "), "02111340267");
        assert_eq!(operator_key("it02111340267"), "02111340267");
        assert_eq!(operator_key("02111340267"), "02111340267");
        // A codice fiscale that starts with IT stays as it is.
        assert_eq!(operator_key("itlmra80a01h501u"), "ITLMRA80A01H501U");
    }
}
