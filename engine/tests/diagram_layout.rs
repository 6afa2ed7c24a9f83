//! The drawings of the shipped workflows are readable: in the SVG the binary draws for each of
//! them, no two text labels overlap (state titles and arrow labels alike), no label lies on a
//! state box it does not belong to, and a state's title stays inside its own box.
//!
//! The SVG is parsed back, not the layout inspected: what is checked is what the pages show.
//! Text boxes are estimated as the drawing code estimates them (`text_width`, by font size and
//! character count; from 0.8 em above the baseline to 0.2 em below).

use procedo_engine::definition::Package;
use procedo_engine::definition::diagram::{Highlight, svg, svg_with, text_width};
use std::path::PathBuf;

const WORKFLOWS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../workflows");

#[derive(Debug, Clone, Copy)]
struct Rect {
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
}

impl Rect {
    fn overlaps(&self, other: &Rect) -> bool {
        self.x0 < other.x1 && other.x0 < self.x1 && self.y0 < other.y1 && other.y0 < self.y1
    }
    fn inside(&self, other: &Rect) -> bool {
        self.x0 >= other.x0 && self.x1 <= other.x1 && self.y0 >= other.y0 && self.y1 <= other.y1
    }
}

/// A line of text as drawn: its words, its estimated box, and the state box it belongs to
/// (`None`: an arrow's label).
#[derive(Debug)]
struct Line {
    text: String,
    owner: Option<usize>,
    label: usize,
    area: Rect,
}

struct Drawing {
    /// State boxes, by state name.
    states: Vec<(String, Rect)>,
    lines: Vec<Line>,
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let end = tag[start..].find('"')? + start;
    Some(tag[start..end].to_string())
}

fn number(tag: &str, name: &str) -> f64 {
    attribute(tag, name)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no number {name} in {tag}"))
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// Reads the boxes and text lines back from the SVG, tag by tag.
fn parse(svg: &str) -> Drawing {
    let mut drawing = Drawing {
        states: Vec::new(),
        lines: Vec::new(),
    };
    let (mut in_state, mut font, mut anchor_middle, mut label) = (false, 0.0, false, 0usize);
    let mut rest = svg;
    while let Some(open) = rest.find('<') {
        let close = rest[open..].find('>').expect("tag closes") + open;
        let tag = &rest[open..=close];
        let after = &rest[close + 1..];
        let content = &after[..after.find('<').unwrap_or(after.len())];
        if tag.starts_with("<g ") && tag.contains("class=\"state") {
            in_state = true;
            let name = attribute(tag, "data-state").expect("state name");
            drawing.states.push((
                name,
                Rect {
                    x0: 0.0,
                    y0: 0.0,
                    x1: 0.0,
                    y1: 0.0,
                },
            ));
        } else if tag == "</g>" {
            in_state = false;
        } else if tag.starts_with("<rect ") && in_state {
            let (x, y) = (number(tag, "x"), number(tag, "y"));
            let last = drawing.states.last_mut().expect("inside a state");
            last.1 = Rect {
                x0: x,
                y0: y,
                x1: x + number(tag, "width"),
                y1: y + number(tag, "height"),
            };
        } else if tag.starts_with("<text") {
            font = number(tag, "font-size");
            anchor_middle = attribute(tag, "text-anchor").as_deref() == Some("middle");
            label += 1;
        } else if tag.starts_with("<tspan") {
            let text = unescape(content);
            let (x, y) = (number(tag, "x"), number(tag, "y"));
            let width = text_width(&text, font);
            let x0 = if anchor_middle { x - width / 2.0 } else { x };
            drawing.lines.push(Line {
                owner: in_state.then(|| drawing.states.len() - 1),
                label,
                area: Rect {
                    x0,
                    y0: y - 0.8 * font,
                    x1: x0 + width,
                    y1: y + 0.2 * font,
                },
                text,
            });
        }
        rest = &rest[close + 1..];
    }
    drawing
}

/// Every way the drawing is unreadable, in words.
fn problems(svg: &str) -> Vec<String> {
    let drawing = parse(svg);
    let mut out = Vec::new();
    let name = |line: &Line| match line.owner {
        Some(s) => format!("title of {} «{}»", drawing.states[s].0, line.text),
        None => format!("arrow label «{}»", line.text),
    };
    for (i, a) in drawing.lines.iter().enumerate() {
        for b in &drawing.lines[i + 1..] {
            if a.label != b.label && a.area.overlaps(&b.area) {
                out.push(format!("{} overlaps {}", name(a), name(b)));
            }
        }
        for (s, (state, rect)) in drawing.states.iter().enumerate() {
            if a.owner != Some(s) && a.area.overlaps(rect) {
                out.push(format!("{} lies on the box of {state}", name(a)));
            }
            if a.owner == Some(s) && !a.area.inside(rect) {
                out.push(format!("{} leaves its box", name(a)));
            }
        }
    }
    out
}

fn shipped() -> Vec<(PathBuf, procedo_engine::definition::Definition)> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(WORKFLOWS)
        .unwrap_or_else(|e| panic!("cannot read {WORKFLOWS}: {e}"))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("workflow.yaml").is_file())
        .collect();
    dirs.sort();
    dirs.into_iter()
        .map(|dir| {
            let package = Package::load(&dir).unwrap_or_else(|_| panic!("{} loads", dir.display()));
            let definition = package
                .compile(1)
                .unwrap_or_else(|_| panic!("{} compiles", dir.display()));
            (dir, definition)
        })
        .collect()
}

#[test]
fn no_label_of_any_shipped_workflow_overlaps_another_label_or_a_box() {
    let shipped = shipped();
    assert!(shipped.len() >= 5, "the shipped workflows are found");
    let mut all = Vec::new();
    for (dir, definition) in &shipped {
        let drawn = svg(definition);
        // To look at them: PROCEDO_DIAGRAM_DIR=/tmp/diagrams cargo test --test diagram_layout
        if let Ok(out) = std::env::var("PROCEDO_DIAGRAM_DIR") {
            let file = PathBuf::from(out).join(format!("{}.svg", definition.id));
            std::fs::write(&file, &drawn).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        }
        let drawing = parse(&drawn);
        assert_eq!(
            drawing.states.len(),
            definition.states.len(),
            "{}",
            dir.display()
        );
        assert!(
            drawing.lines.iter().any(|l| l.owner.is_none()),
            "{} has arrow labels",
            dir.display()
        );
        all.extend(
            problems(&drawn)
                .into_iter()
                .map(|p| format!("{}: {p}", dir.display())),
        );
    }
    assert!(
        all.is_empty(),
        "{} problems:\n{}",
        all.len(),
        all.join("\n")
    );
}

#[test]
fn a_case_highlighted_in_any_state_of_any_shipped_workflow_stays_readable() {
    let mut all = Vec::new();
    for (dir, definition) in &shipped() {
        // The "stato attuale" line makes boxes taller: every state in turn carries it.
        for state in definition.states.keys() {
            let path = vec![definition.initial.clone(), state.clone()];
            let drawn = svg_with(
                definition,
                Some(Highlight {
                    current: state,
                    path: &path,
                }),
            );
            if let Ok(out) = std::env::var("PROCEDO_DIAGRAM_DIR") {
                let file = PathBuf::from(out).join(format!("{}-at-{state}.svg", definition.id));
                std::fs::write(&file, &drawn).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            }
            all.extend(
                problems(&drawn)
                    .into_iter()
                    .map(|p| format!("{} at {state}: {p}", dir.display())),
            );
        }
    }
    assert!(
        all.is_empty(),
        "{} problems:\n{}",
        all.len(),
        all.join("\n")
    );
}

#[test]
fn arrows_of_the_open_tender_read_the_actions_italian_titles() {
    let (_, tender) = shipped()
        .into_iter()
        .find(|(_, d)| d.id == "sua-open-tender")
        .expect("the open tender is shipped");
    let drawn = svg(&tender);
    let drawing = parse(&drawn);
    let labels: String = drawing
        .lines
        .iter()
        .filter(|l| l.owner.is_none())
        .map(|l| l.text.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let mut titled = 0;
    for state in tender.states.values() {
        for action in state.actions.values() {
            if let Some(title) = &action.title {
                titled += 1;
                let first = title.split_whitespace().next().unwrap_or_default();
                assert!(labels.contains(first), "«{title}» on an arrow: {labels}");
            }
        }
    }
    assert!(titled > 0, "the open tender titles its actions");
}

#[test]
fn overlapping_labels_are_found() {
    let overlapping = "<svg><text font-size=\"12\" text-anchor=\"middle\"><tspan x=\"100\" y=\"20\">una etichetta</tspan></text>\
        <text font-size=\"12\" text-anchor=\"middle\"><tspan x=\"110\" y=\"24\">un'altra</tspan></text>\
        <g class=\"state\" data-state=\"a\"><rect x=\"0\" y=\"100\" width=\"50\" height=\"20\"/><text font-size=\"12\" text-anchor=\"middle\"><tspan x=\"25\" y=\"115\">titolo troppo lungo</tspan></text></g></svg>";
    let found = problems(overlapping);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].contains("overlaps"), "{found:?}");
    assert!(found[1].contains("leaves its box"), "{found:?}");
}
