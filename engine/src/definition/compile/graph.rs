//! The workflow as a graph: every state reachable, and an end reachable from every state.

use crate::definition::document::{StateDoc, WorkflowDoc};
use std::collections::{HashSet, VecDeque};

impl super::Checker<'_> {
    /// Unreachable states, and states from which no end can be reached.
    pub(super) fn check_graph(&mut self, doc: &WorkflowDoc) {
        let edges = |s: &StateDoc| -> Vec<String> {
            let mut out: Vec<String> = s.actions.values().map(|a| a.to.clone()).collect();
            for arm in s.choice.iter().flatten() {
                out.extend(arm.to.clone().into_iter().chain(arm.otherwise.clone()));
            }
            out.extend(
                s.on_timeout
                    .iter()
                    .chain(s.on_done.iter())
                    .chain(s.on_granted.iter())
                    .chain(s.on_error.values())
                    .map(|g| g.to.clone()),
            );
            out
        };
        let mut reached = HashSet::new();
        let mut queue = VecDeque::from([doc.initial.clone()]);
        while let Some(name) = queue.pop_front() {
            if let Some(state) = doc.states.get(&name)
                && reached.insert(name)
            {
                queue.extend(edges(state));
            }
        }
        let mut can_end: HashSet<&str> = doc
            .states
            .iter()
            .filter(|(_, s)| s.end.is_some())
            .map(|(n, _)| n.as_str())
            .collect();
        loop {
            let before = can_end.len();
            for (name, state) in &doc.states {
                if edges(state).iter().any(|t| can_end.contains(t.as_str())) {
                    can_end.insert(name);
                }
            }
            if can_end.len() == before {
                break;
            }
        }
        for (name, state) in &doc.states {
            if !reached.contains(name) && doc.states.contains_key(&doc.initial) {
                self.at_key(
                    &["states", name],
                    format!("state `{name}` is unreachable from `{}`", doc.initial),
                );
            } else if !can_end.contains(name.as_str()) && !edges(state).is_empty() {
                self.at_key(
                    &["states", name],
                    format!("no end state can be reached from `{name}`"),
                );
            }
        }
    }
}
