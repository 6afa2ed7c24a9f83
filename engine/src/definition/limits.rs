//! Bounds on what a package may be, checked before anything else reads it.
//!
//! A package comes from an administrator, and any administrator of any tenant can deploy one:
//! it is input like any other. Without bounds, 10,000 states took 23 s to deploy and a 200 KB
//! deeply nested YAML 17–27 s of CPU. These limits are far above the largest shipped workflow
//! (31 states, nesting depth 9) and are reported as located diagnostics, like every other
//! problem of a package. YAML aliases are refused too: the workflow language has no use for
//! them and they are the way to make a small text expand into a huge one.

use super::Package;
use crate::diagnostic::Diagnostic;
use saphyr_parser::{Event, Parser, Span};

/// Bytes in one file of a package.
pub const MAX_FILE_BYTES: usize = 256 * 1024;
/// Forms, and templates, in one package.
pub const MAX_FILES: usize = 100;
/// States in one workflow.
pub const MAX_STATES: usize = 300;
/// Nesting of mappings and lists in one YAML file.
pub const MAX_DEPTH: usize = 20;
/// Keys, values and items in one YAML file.
pub const MAX_NODES: usize = 50_000;

fn at(span: &Span) -> (usize, usize) {
    (span.start.line(), span.start.col() + 1)
}

/// One open mapping or list while scanning.
struct Frame {
    mapping: bool,
    /// In a mapping: the next node is a key.
    expect_key: bool,
    /// In a mapping: the last key read was the top-level `states`.
    after_states_key: bool,
    /// This mapping is the top-level `states`: its keys are the states.
    is_states: bool,
}

/// Scans one YAML text without building it, refusing depth, size and aliases over the bounds.
fn scan(source: &str) -> Result<(), ((usize, usize), String)> {
    let mut stack: Vec<Frame> = Vec::new();
    let (mut nodes, mut states) = (0usize, 0usize);
    for item in Parser::new_from_str(source) {
        // A syntax error is reported, located, by the deserialiser that runs next; but not
        // the parser's own nesting limit (256 flow levels), which the deserialiser would reach
        // only after seconds of work.
        let (event, span) = match item {
            Ok(item) => item,
            Err(e) if e.info().contains("recursion limit") => {
                return Err((
                    (e.marker().line(), e.marker().col() + 1),
                    format!("mappings and lists may be nested at most {MAX_DEPTH} deep"),
                ));
            }
            Err(_) => break,
        };
        let node = matches!(
            event,
            Event::Scalar(..) | Event::MappingStart(..) | Event::SequenceStart(..)
        );
        if matches!(event, Event::Alias(_)) {
            return Err((
                at(&span),
                "aliases (`*name`) are not part of the workflow language: write the value out"
                    .into(),
            ));
        }
        let mut opens_states = false;
        if node {
            nodes += 1;
            if nodes > MAX_NODES {
                return Err((
                    at(&span),
                    format!("the file has more than {MAX_NODES} keys and values"),
                ));
            }
            let top_level = stack.len() == 1;
            if let Some(frame) = stack.last_mut().filter(|f| f.mapping) {
                if frame.expect_key {
                    if frame.is_states {
                        states += 1;
                        if states > MAX_STATES {
                            return Err((
                                at(&span),
                                format!("a workflow may have at most {MAX_STATES} states"),
                            ));
                        }
                    }
                    frame.after_states_key = top_level
                        && matches!(&event, Event::Scalar(text, ..) if text.as_ref() == "states");
                } else {
                    opens_states = frame.after_states_key;
                }
                frame.expect_key = !frame.expect_key;
            }
        }
        match event {
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                stack.push(Frame {
                    mapping: matches!(event, Event::MappingStart(..)),
                    expect_key: true,
                    after_states_key: false,
                    is_states: opens_states && matches!(event, Event::MappingStart(..)),
                });
                if stack.len() > MAX_DEPTH {
                    return Err((
                        at(&span),
                        format!("mappings and lists may be nested at most {MAX_DEPTH} deep"),
                    ));
                }
            }
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
            }
            _ => {}
        }
    }
    Ok(())
}

/// Every bound the package breaks; when any is broken nothing else is checked.
pub fn check(package: &Package) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    for (kind, count) in [
        ("forms", package.forms.len()),
        ("templates", package.templates.len()),
    ] {
        if count > MAX_FILES {
            found.push(Diagnostic::new(
                package.file(kind),
                (1, 1),
                format!("a package may have at most {MAX_FILES} {kind}, not {count}"),
            ));
        }
    }
    let files = std::iter::once((package.file(super::WORKFLOW_FILE), &package.workflow, true))
        .chain(
            package
                .forms
                .iter()
                .map(|(name, text)| (package.file(&format!("forms/{name}.yaml")), text, true)),
        )
        .chain(
            package
                .templates
                .iter()
                .map(|(name, text)| (package.file(&format!("templates/{name}.hbs")), text, false)),
        );
    for (file, text, yaml) in files {
        if text.len() > MAX_FILE_BYTES {
            found.push(Diagnostic::new(
                file,
                (1, 1),
                format!(
                    "the file has {} bytes; at most {MAX_FILE_BYTES} are allowed",
                    text.len()
                ),
            ));
        } else if let Some(offset) = text.find('\0') {
            let line = text[..offset].matches('\n').count() + 1;
            found.push(Diagnostic::new(
                file,
                (line, 1),
                "the file contains a NUL character: it is not a text file".to_string(),
            ));
        } else if yaml && let Err((position, message)) = scan(text) {
            found.push(Diagnostic::new(file, position, message));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workflow(text: String) -> Package {
        Package {
            origin: "p/".into(),
            workflow: text,
            ..Package::default()
        }
    }

    #[test]
    fn deep_nesting_is_refused_at_the_node_that_goes_too_deep() {
        let deep = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
        let started = std::time::Instant::now();
        let found = check(&workflow(deep));
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].to_string().starts_with("p/workflow.yaml:1:"),
            "{found:?}"
        );
        assert!(
            found[0]
                .to_string()
                .contains(": mappings and lists may be nested"),
            "{found:?}"
        );
    }

    #[test]
    fn too_many_states_are_refused() {
        let mut text = "id: x\ntitle: X\ninitial: s0\nstates:\n".to_string();
        for i in 0..=MAX_STATES {
            text.push_str(&format!("  s{i}: {{ end: done }}\n"));
        }
        let found = check(&workflow(text));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].to_string().contains("at most 300 states"),
            "{found:?}"
        );
        // Nested keys below the states do not count as states.
        let mut text = "id: x\ntitle: X\ninitial: s0\nstates:\n  s0:\n    actions:\n".to_string();
        for i in 0..MAX_STATES {
            text.push_str(&format!("      a{i}: {{ to: s0 }}\n"));
        }
        assert!(check(&workflow(text)).is_empty());
    }

    #[test]
    fn aliases_and_nul_characters_are_refused() {
        let found = check(&workflow("a: &x [1, 2]\nb: [*x, *x]\n".into()));
        assert!(found[0].to_string().contains("aliases"), "{found:?}");
        let found = check(&workflow("id: x\u{0}\n".into()));
        assert!(found[0].to_string().contains("NUL"), "{found:?}");
    }

    #[test]
    fn an_oversized_file_is_refused_before_it_is_read() {
        let found = check(&workflow("#".repeat(MAX_FILE_BYTES + 1)));
        assert!(found[0].to_string().contains("at most 262144"), "{found:?}");
    }
}
