//! The words officials read instead of identifiers: titles of workflows, states and actions.

use crate::app::AppState;
use procedo_engine::definition::Definition;
use procedo_engine::model::{Actor, Task};
use std::collections::HashMap;
use std::sync::Arc;

/// The words officials read instead of identifiers: a workflow's title, a state's and an
/// action's (from the latest version of the workflow; the identifier when it has none).
#[derive(Default)]
pub(super) struct Names {
    workflows: HashMap<String, Option<Arc<Definition>>>,
    versions: HashMap<(String, i64), Option<Arc<Definition>>>,
}

impl Names {
    async fn definition(
        &mut self,
        state: &AppState,
        actor: &Actor,
        id: &str,
    ) -> Option<Arc<Definition>> {
        if !self.workflows.contains_key(id) {
            let loaded = state.engine.workflow(actor, id, None).await.ok();
            self.workflows.insert(id.to_string(), loaded);
        }
        self.workflows.get(id).cloned().flatten()
    }

    /// The exact version an instance runs (its keys and titles are that version's).
    pub(super) async fn instance_definition(
        &mut self,
        state: &AppState,
        actor: &Actor,
        instance: &procedo_engine::model::Instance,
    ) -> Option<Arc<Definition>> {
        let key = (instance.definition.clone(), instance.definition_version);
        if !self.versions.contains_key(&key) {
            let loaded = state
                .engine
                .workflow(
                    actor,
                    &instance.definition,
                    Some(instance.definition_version),
                )
                .await
                .ok();
            self.versions.insert(key.clone(), loaded);
        }
        self.versions.get(&key).cloned().flatten()
    }

    /// The workflow's title and the task state's title.
    pub(super) async fn task(
        &mut self,
        state: &AppState,
        actor: &Actor,
        task: &Task,
    ) -> (String, String) {
        match self.definition(state, actor, &task.definition).await {
            Some(d) => {
                let title = d.states.get(&task.state).and_then(|s| s.title.clone());
                (d.title.clone(), title.unwrap_or_else(|| task.state.clone()))
            }
            None => (task.definition.clone(), task.state.clone()),
        }
    }
}

/// How an issued act is listed: by the heading it carries ("Bando di gara n. 3/2026"), not by
/// its template's id, with the template in words where the heading alone does not say which
/// act it is ("Determina n. 1/2026 del 10/04/2026 — determina a contrarre"), and the
/// register number when the heading does not give it.
pub(super) fn act_label(document: &procedo_engine::documents::Document) -> String {
    let kind = document.template.replace('-', " ");
    let heading = first_heading(&document.content).filter(|h| !h.is_empty());
    let mut label = match heading {
        Some(h) if h.starts_with("Determina n.") => format!("{h} — {kind}"),
        Some(h) => h,
        None => {
            let mut chars = kind.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().collect::<String>() + chars.as_str())
                .unwrap_or_default()
        }
    };
    if let Some(number) = document.number.as_deref().filter(|n| !label.contains(*n)) {
        label.push_str(&format!(" n. {number}"));
    }
    label
}

/// The text of the first `<h1>` of an act (tags dropped, the entities acts use decoded),
/// at most 200 characters.
fn first_heading(html: &str) -> Option<String> {
    let start = html.find("<h1")?;
    let open_end = start + html[start..].find('>')? + 1;
    let close = open_end + html[open_end..].find("</h1>")?;
    let mut text = String::new();
    let mut in_tag = false;
    for c in html[open_end..close].chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    let text = text
        .replace("&mdash;", "—")
        .replace("&ndash;", "–")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    Some(text.chars().take(200).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn act(
        template: &str,
        number: Option<&str>,
        content: &str,
    ) -> procedo_engine::documents::Document {
        procedo_engine::documents::Document {
            id: uuid::Uuid::nil(),
            instance: (uuid::Uuid::nil()).into(),
            tenant: "provincia-treviso".into(),
            template: template.into(),
            definition: "sua-open-tender".into(),
            definition_version: 1,
            content_type: "text/html; charset=utf-8".into(),
            register: number.map(|_| "determine".to_string()),
            number: number.map(str::to_string),
            content: content.into(),
            sha256: String::new(),
            data_sha256: String::new(),
            created_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn an_act_is_listed_by_its_heading_not_its_template_id() {
        assert_eq!(
            act_label(&act(
                "bando",
                Some("3/2026"),
                "<body><h1>Bando di gara n. 3/2026</h1>"
            )),
            "Bando di gara n. 3/2026"
        );
        assert_eq!(
            act_label(&act(
                "determina-a-contrarre",
                Some("1/2026"),
                "<h1>Determina n. 1/2026 del 01/04/2026</h1>"
            )),
            "Determina n. 1/2026 del 01/04/2026 — determina a contrarre"
        );
        assert_eq!(
            act_label(&act(
                "piano-finanziario",
                None,
                "<h1>Piano finanziario approvato &mdash; <em>GREEN</em></h1>"
            )),
            "Piano finanziario approvato — GREEN"
        );
        assert_eq!(
            act_label(&act(
                "verbale-seduta",
                Some("7/2026"),
                "<p>senza titolo</p>"
            )),
            "Verbale seduta n. 7/2026"
        );
    }
}
