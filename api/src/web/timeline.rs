//! What an auditor reads in each history event besides who and when: the data submitted, the
//! deadlines set with how they were counted, and the kinds of effects.

use procedo_engine::calendar::Rule;
use procedo_engine::history::{Event, EventKind, Note};
use serde_json::{Value, json};

/// The deadlines of the tasks this event opened, with their derivation.
pub(super) fn deadlines(event: &Event) -> Vec<Value> {
    event
        .notes()
        .filter_map(|note| {
            let Note::TaskOpened(opened) = note else {
                return None;
            };
            let due = opened.due?;
            let skipped: Vec<String> = due
                .skipped
                .iter()
                .map(|d| d.format("%d/%m/%Y").to_string())
                .collect();
            Some(json!({
                "role": opened.role,
                "at": super::rome(due.at),
                "base": super::rome(due.base),
                "spec": spec_in_words(&due.spec),
                "rule": rule(due.rule),
                "skipped": skipped.join(", "),
                "calendar": due.calendar_version,
            }))
        })
        .collect()
}

/// What this event did to a tenant relation (the convenzione's signature, withdrawal or
/// expiry), as sentences: `provider` is the case's tenant, `name` gives display names.
pub(super) fn relations(
    event: &Event,
    provider: &str,
    name: &dyn Fn(&str) -> String,
) -> Vec<String> {
    let day = |iso: &str| {
        chrono::NaiveDate::parse_from_str(iso, "%Y-%m-%d")
            .map(|d| d.format("%d/%m/%Y").to_string())
            .unwrap_or_else(|_| iso.to_string())
    };
    event
        .notes()
        .filter_map(|note| match note {
            Note::RelationGranted {
                client,
                from,
                until,
                ..
            } => Some(format!(
                "Da questo passo {} può avviare per conto di {} i procedimenti affidati, dal {}{}.",
                name(provider),
                name(&client),
                day(&from),
                until.map_or_else(
                    || " senza scadenza".to_string(),
                    |u| format!(" al {}", day(&u))
                )
            )),
            Note::RelationEnded { client, last_day } => Some(format!(
                "Da questo passo {} non può più avviare procedimenti per conto di {} dopo il {}.",
                name(provider),
                name(&client),
                day(&last_day)
            )),
            _ => None,
        })
        .collect()
}

/// The kinds of effects, e.g. `task_opened, timer_set`: of every note, known to this version
/// or not.
pub(super) fn effect_kinds(event: &Event) -> String {
    let kinds: Vec<&str> = event.effects.iter().filter_map(Note::name_of).collect();
    kinds.join(", ")
}

/// How a period was counted, in the words of Reg. (CEE, Euratom) 1182/71.
pub(super) fn rule(rule: Rule) -> &'static str {
    match rule {
        Rule::Instant => "durata esatta, senza proroga",
        Rule::Days => {
            "giorni di calendario (Reg. 1182/71 art. 3), prorogato al primo giorno lavorativo"
        }
        Rule::WorkingDays => "giorni lavorativi (Reg. 1182/71 art. 2 e 3)",
        Rule::Weeks => "settimane (Reg. 1182/71 art. 3.2.c), prorogato al primo giorno lavorativo",
        Rule::Months => "mesi (Reg. 1182/71 art. 3.2.c), prorogato al primo giorno lavorativo",
        Rule::Years => "anni (Reg. 1182/71 art. 3.2.c), prorogato al primo giorno lavorativo",
    }
}

/// The words of one workflow version for the timeline: state and action titles and form
/// labels instead of identifiers.
pub(super) struct Words<'d> {
    definition: Option<&'d procedo_engine::definition::Definition>,
}

impl<'d> Words<'d> {
    pub(super) fn new(definition: Option<&'d procedo_engine::definition::Definition>) -> Self {
        Self { definition }
    }

    pub(super) fn state(&self, id: &str) -> String {
        self.definition
            .and_then(|d| d.states.get(id)?.title.clone())
            .unwrap_or_else(|| id.to_string())
    }

    fn action(&self, state: &str, action: &str) -> String {
        self.definition
            .and_then(|d| d.states.get(state)?.actions.get(action)?.title.clone())
            .unwrap_or_else(|| action.to_string())
    }

    /// The submitted data by the forms' labels, each value as HTML in Italian (money, dates,
    /// option labels, lists as tables), in the order stored.
    pub(super) fn data(&self, submitted: &Value) -> Vec<Value> {
        let Some(fields) = submitted.as_object() else {
            return Vec::new();
        };
        fields
            .iter()
            .filter(|(name, value)| !name.starts_with('_') && !value.is_null())
            .map(|(name, value)| {
                let label = self
                    .definition
                    .and_then(|d| d.field_describing(name))
                    .map_or(name.as_str(), |f| f.label.as_str());
                json!({ "name": label, "value": super::case::value(self.definition, name, value) })
            })
            .collect()
    }

    /// One event as a sentence: who did what, and where the case went.
    pub(super) fn sentence(&self, event: &Event, actor: &str) -> String {
        let from = event.from_state.as_deref().map(|s| self.state(s));
        let to = self.state(&event.to_state);
        let moved = match &from {
            Some(f) if *f != to => format!("; la pratica passa da «{f}» a «{to}»"),
            Some(_) => String::new(),
            None => format!("; fase «{to}»"),
        };
        match event.event_kind() {
            EventKind::Started => format!("{actor} ha avviato la pratica{moved}"),
            EventKind::TaskCompleted => {
                let state = event.from_state.as_deref().unwrap_or(&event.to_state);
                let action = event.action.as_deref().map(|a| self.action(state, a));
                match action {
                    Some(a) => format!(
                        "{actor} ha completato «{}» con l'azione «{a}»{moved}",
                        self.state(state)
                    ),
                    None => format!("{actor} ha completato «{}»{moved}", self.state(state)),
                }
            }
            EventKind::TimerFired => format!("È scaduto un termine{moved}"),
            EventKind::ChildEnded => format!("Si è conclusa una pratica collegata{moved}"),
            EventKind::Cancelled => format!("{actor} ha annullato la pratica"),
            EventKind::SlaPaused => format!("{actor} ha sospeso il termine dell'attività"),
            EventKind::SlaResumed => format!("{actor} ha ripreso il termine dell'attività"),
            EventKind::PoolGranted => format!("È stato assegnato un posto disponibile{moved}"),
            other => format!("{actor}: {other}{moved}"),
        }
    }
}

/// A deadline's duration as an official reads it ("30 giorni", "1 mese e 15 giorni"), not in
/// ISO 8601 (`P30D`); a text the language does not know is shown as written.
pub(super) fn spec_in_words(spec: &str) -> String {
    spec.parse::<procedo_engine::calendar::DurationSpec>()
        .map_or_else(|_| spec.to_string(), |d| d.italian())
}
