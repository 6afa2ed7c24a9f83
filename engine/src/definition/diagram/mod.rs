//! A workflow's states and ways out, drawn for people: Mermaid text for the README and
//! reviewers ([`mermaid`]), and an SVG the binary draws itself for the pages ([`svg`],
//! [`svg_with`]), where a case's current state and the path it took can be highlighted.
//!
//! The drawing is split in two: [`layout`] decides where every box, label and line goes (and
//! guarantees that no two labels overlap), [`draw`] writes that geometry as SVG.

mod draw;
pub mod layout;
mod mermaid;

pub use draw::{Highlight, svg, svg_with};
pub use layout::{EDGE_FONT, NODE_FONT, text_width};
pub use mermaid::{markdown, mermaid};

use super::{Definition, Kind};

/// One way out of a state, labelled for an official: the action's Italian `title` where the
/// workflow declares one (its id otherwise), or what takes an automatic state on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Way {
    pub from: String,
    pub to: String,
    pub label: String,
}

/// Every way out of every state, in the workflow's order.
pub fn ways(definition: &Definition) -> Vec<Way> {
    let mut out = Vec::new();
    for state in definition.states.values() {
        let mut way = |to: &str, label: &str| {
            out.push(Way {
                from: state.name.clone(),
                to: to.to_string(),
                label: label.to_string(),
            })
        };
        for action in state.actions.values() {
            way(&action.to, action.title.as_deref().unwrap_or(&action.name));
        }
        match &state.kind {
            Kind::Choice(arms) => {
                for arm in arms {
                    way(
                        &arm.to,
                        if arm.when.is_some() {
                            "se"
                        } else {
                            "altrimenti"
                        },
                    );
                }
            }
            Kind::Wait { on_timeout, .. } => way(&on_timeout.to, "scadenza"),
            Kind::Spawn { on_done, .. } => way(&on_done.to, "conclusi"),
            Kind::Acquire {
                on_granted,
                on_timeout,
                ..
            } => {
                way(&on_granted.to, "posto ottenuto");
                if let Some(goto) = on_timeout {
                    way(&goto.to, "scadenza");
                }
            }
            Kind::Service {
                service,
                on_done,
                on_error,
            } => {
                way(&on_done.to, "eseguito");
                for (code, goto) in on_error {
                    way(&goto.to, &format!("errore {code}"));
                }
                if let Some((_, goto)) = &service.timeout {
                    way(&goto.to, "scaduto");
                }
            }
            Kind::Task(_) | Kind::End { .. } => {}
        }
    }
    out
}
