//! Fields required only for one action (`required_if: "action == 'exclude'"`) marked as such
//! on the page, so an official sees what a button will ask before pressing it: on an action's
//! own page the field is simply required (`*`); under a task's form with several buttons its
//! help says for which ("Obbligatorio per «Escludi l'offerente»."). Only the marks change:
//! the engine validates the submission against the workflow's form as it is.

use procedo_engine::forms::{Field, FormSpec};

/// The form as the page shows it, for the `buttons` it offers (name, title): `only` is the
/// action of a page of its own.
pub(super) fn marked(form: &FormSpec, buttons: &[(&str, &str)], only: Option<&str>) -> FormSpec {
    let mut form = form.clone();
    mark(&mut form.fields, buttons, only);
    form
}

fn mark(fields: &mut [Field], buttons: &[(&str, &str)], only: Option<&str>) {
    for field in fields {
        if let Some(items) = field.fields.as_mut() {
            mark(items, buttons, only);
        }
        if field.required {
            continue;
        }
        let Some(action) = field.required_if.as_deref().and_then(for_action) else {
            continue;
        };
        match only {
            Some(only) => field.required = only == action,
            None => {
                if let Some((_, title)) = buttons.iter().find(|(name, _)| *name == action) {
                    let note = format!("Obbligatorio per «{title}».");
                    field.help = Some(match field.help.take() {
                        Some(help) => format!("{help} {note}"),
                        None => note,
                    });
                }
            }
        }
    }
}

/// The action of a condition that is exactly `action == 'NAME'`.
fn for_action(condition: &str) -> Option<&str> {
    let name = condition
        .trim()
        .strip_prefix("action")?
        .trim_start()
        .strip_prefix("==")?
        .trim()
        .strip_prefix('\'')?
        .strip_suffix('\'')?;
    name.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_')
        .then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> FormSpec {
        FormSpec::parse(
            "f",
            "title: F\nfields:\n  - { name: motivo, label: Motivo, type: textarea, required_if: \"action == 'reject'\" }\n  - { name: urgente, label: Urgente, type: text, required_if: \"has(form.x)\" }\n  - { name: nota, label: Nota, type: text, help: Breve., required_if: \"action == 'approve'\" }\n",
        )
        .expect("parses")
    }

    #[test]
    fn a_field_required_for_one_action_says_so_under_the_task_and_is_required_on_its_page() {
        let buttons = [("approve", "Approva"), ("reject", "Respingi")];
        let task = marked(&form(), &buttons, None);
        assert_eq!(
            task.fields[0].help.as_deref(),
            Some("Obbligatorio per «Respingi».")
        );
        assert_eq!(
            task.fields[2].help.as_deref(),
            Some("Breve. Obbligatorio per «Approva».")
        );
        assert!(
            task.fields.iter().all(|f| !f.required),
            "none is required for every button"
        );
        assert_eq!(
            task.fields[1].help, None,
            "another condition is left as it is"
        );
        let page = marked(&form(), &buttons[1..], Some("reject"));
        assert!(page.fields[0].required && !page.fields[2].required);
    }

    #[test]
    fn only_a_plain_action_comparison_names_an_action() {
        assert_eq!(for_action("action == 'exclude'"), Some("exclude"));
        assert_eq!(for_action(" action=='no_go' "), Some("no_go"));
        assert_eq!(for_action("action == 'a' || action == 'b'"), None);
        assert_eq!(for_action("action == 'candidate' && !has(vars.x)"), None);
    }
}
