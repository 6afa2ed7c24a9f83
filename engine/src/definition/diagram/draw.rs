//! The SVG of a workflow, drawn by the binary itself (no JavaScript, no network), from the
//! geometry [`super::layout`] decides.
//!
//! On a case's page the drawing also shows where the case stands and how it got there, in ways
//! that do not rest on colour alone (WCAG 1.4.1): the path's boxes and arrows have thicker
//! lines, the current state's box the thickest outline and the words "stato attuale", and the
//! drawing's accessible name says the path in words.

use super::layout::{EDGE_FONT, LINE_HEIGHT, Layout, NODE_FONT, layout};
use crate::definition::Definition;
use std::collections::HashSet;
use std::fmt::Write as _;

/// Where a case stands and the states it entered, in order (the first is the initial state;
/// the last is normally `current`).
#[derive(Debug, Clone, Copy)]
pub struct Highlight<'a> {
    pub current: &'a str,
    pub path: &'a [String],
}

/// The line shown in the current state's box, above its title.
pub const CURRENT_BADGE: &str = "▶ stato attuale";

const PATH_COLOUR: &str = "#0b4f8a";

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The workflow's drawing.
pub fn svg(definition: &Definition) -> String {
    svg_with(definition, None)
}

/// The workflow's drawing, with a case's current state and path when given.
pub fn svg_with(definition: &Definition, highlight: Option<Highlight<'_>>) -> String {
    let ways = super::ways(definition);
    let drawing = layout(definition, &ways, highlight.map(|h| h.current));
    let title_of = |name: &str| {
        definition
            .states
            .get(name)
            .and_then(|s| s.title.clone())
            .unwrap_or_else(|| name.to_string())
    };
    let mut name = format!("Diagramma di {}", definition.title);
    let mut taken: HashSet<(&str, &str)> = HashSet::new();
    let mut visited: HashSet<&str> = HashSet::new();
    if let Some(h) = highlight {
        let _ = write!(name, ". Stato attuale: {}", title_of(h.current));
        if !h.path.is_empty() {
            let steps: Vec<String> = h.path.iter().map(|s| title_of(s)).collect();
            let _ = write!(name, ". Percorso seguito: {}", steps.join(" → "));
        }
        visited.extend(h.path.iter().map(String::as_str));
        visited.insert(h.current);
        taken.extend(h.path.windows(2).map(|w| (w[0].as_str(), w[1].as_str())));
    }
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"{}\" viewBox=\"0 0 {w:.0} {h:.0}\" width=\"{w:.0}\" font-family=\"sans-serif\">\n\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#444\"/></marker>\
         <marker id=\"arrow-taken\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"5\" markerHeight=\"5\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"{PATH_COLOUR}\"/></marker></defs>\n",
        escape(&name),
        w = drawing.width.ceil(),
        h = drawing.height.ceil(),
    );
    lines(&mut out, &drawing, &taken);
    labels(&mut out, &drawing);
    boxes(&mut out, &drawing, &visited);
    out.push_str("</svg>\n");
    out
}

fn points(points: &[(f64, f64)]) -> String {
    points
        .iter()
        .map(|(x, y)| format!("{x:.1},{y:.1}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The arrows first, so that labels and boxes lie over them.
fn lines(out: &mut String, drawing: &Layout, taken: &HashSet<(&str, &str)>) {
    for edge in &drawing.edges {
        let on_path = taken.contains(&(edge.from.as_str(), edge.to.as_str()));
        let (stroke, width, marker) = if on_path {
            (PATH_COLOUR, 3.5, "arrow-taken")
        } else {
            ("#555", 1.0, "arrow")
        };
        let dash = if edge.back && !on_path {
            " stroke-dasharray=\"5 3\""
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "<g class=\"way{}\" data-from=\"{}\" data-to=\"{}\"><title>{}</title><polyline points=\"{}\" fill=\"none\" stroke=\"{stroke}\" stroke-width=\"{width}\"{dash}/><polyline points=\"{}\" fill=\"none\" stroke=\"{stroke}\" stroke-width=\"{width}\"{dash} marker-end=\"url(#{marker})\"/></g>",
            if on_path { " taken" } else { "" },
            escape(&edge.from),
            escape(&edge.to),
            escape(&edge.label.full),
            points(&edge.head),
            points(&edge.tail),
        );
    }
}

/// Each arrow's label on a white ground, so that arrows passing behind do not cross the text.
fn labels(out: &mut String, drawing: &Layout) {
    let step = EDGE_FONT * LINE_HEIGHT;
    for edge in &drawing.edges {
        let l = &edge.label;
        let text: String = l
            .lines
            .iter()
            .enumerate()
            .map(|(n, line)| {
                format!(
                    "<tspan x=\"{:.1}\" y=\"{:.1}\">{}</tspan>",
                    l.cx,
                    baseline(l.top, n, step, EDGE_FONT),
                    escape(line)
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#fff\"/><text class=\"way-label\" font-size=\"{EDGE_FONT}\" text-anchor=\"middle\" fill=\"#1a1a1a\">{text}</text>",
            l.cx - l.width / 2.0 - 2.0,
            l.top,
            l.width + 4.0,
            l.height,
        );
    }
}

/// The baseline of line `n` of a block starting at `top`: the text centred in its line.
fn baseline(top: f64, n: usize, step: f64, font: f64) -> f64 {
    top + n as f64 * step + (step - font) / 2.0 + 0.8 * font
}

fn boxes(out: &mut String, drawing: &Layout, visited: &HashSet<&str>) {
    let step = NODE_FONT * LINE_HEIGHT;
    for node in &drawing.nodes {
        let mut lines: Vec<(&str, bool)> = Vec::new();
        if node.current {
            lines.push((CURRENT_BADGE, true));
        }
        lines.extend(node.lines.iter().map(|l| (l.as_str(), false)));
        let top = node.y + (drawing.box_h - lines.len() as f64 * step) / 2.0;
        let cx = node.x + drawing.box_w / 2.0;
        let text: String = lines
            .iter()
            .enumerate()
            .map(|(n, (line, bold))| {
                format!(
                    "<tspan x=\"{cx:.1}\" y=\"{:.1}\"{}>{}</tspan>",
                    baseline(top, n, step, NODE_FONT),
                    if *bold { " font-weight=\"bold\"" } else { "" },
                    escape(line)
                )
            })
            .collect();
        let on_path = visited.contains(node.name.as_str());
        let (stroke, width, fill) = match (node.current, on_path, node.end) {
            (true, _, _) => (PATH_COLOUR, 5.0, "#dce9f7"),
            (false, true, _) => (PATH_COLOUR, 3.0, "#eef4fb"),
            (false, false, true) => ("#003366", 1.0, "#e8f0e8"),
            (false, false, false) => ("#003366", 1.0, "#f7f9fc"),
        };
        let _ = writeln!(
            out,
            "<g class=\"state{}{}\" data-state=\"{}\"><title>{}</title><rect x=\"{:.1}\" y=\"{:.1}\" width=\"{}\" height=\"{:.1}\" rx=\"{}\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"{width}\"/><text font-size=\"{NODE_FONT}\" text-anchor=\"middle\" fill=\"#1a1a1a\">{text}</text></g>",
            if node.current { " current" } else { "" },
            if on_path { " visited" } else { "" },
            escape(&node.name),
            // The tooltip reads as the box does (the state's title), never the bare id.
            escape(&node.lines.join(" ")),
            node.x,
            node.y,
            drawing.box_w,
            drawing.box_h,
            if node.end { 22 } else { 6 },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::{CURRENT_BADGE, Highlight, svg, svg_with};
    use crate::definition::Package;

    const LOOP: &str = "\
id: loop
title: Ciclo
initial: review
states:
  review:
    title: Esame
    task: { role: rup }
    actions:
      fix: { to: correct, title: Chiedi una correzione }
      amend: { to: correct }
      ok: { to: done, title: Approva }
  correct:
    title: Correzione
    task: { role: rup }
    actions:
      resubmit: { to: review, title: Ripresenta }
  done: { end: done, title: Approvato }
";

    fn compiled() -> crate::definition::Definition {
        let package = Package {
            workflow: LOOP.into(),
            ..Package::default()
        };
        package.compile(1).expect("valid")
    }

    #[test]
    fn arrows_carry_the_actions_italian_titles_and_parallel_ones_share_one_label() {
        let drawn = svg(&compiled());
        assert!(
            drawn.contains("<title>Chiedi una correzione / amend</title>"),
            "{drawn}"
        );
        assert!(drawn.contains(">Approva</tspan>"), "{drawn}");
        assert_eq!(drawn.matches("<g class=\"way").count(), 3, "{drawn}");
        assert_eq!(
            drawn.matches("stroke-dasharray").count(),
            2,
            "correct→review goes back up, both its lines dashed: {drawn}"
        );
        assert!(!drawn.contains(CURRENT_BADGE));
    }

    #[test]
    fn a_case_shows_its_current_state_in_words_and_its_path_with_thicker_lines() {
        let path: Vec<String> = ["review", "correct", "review"].map(String::from).into();
        let drawn = svg_with(
            &compiled(),
            Some(Highlight {
                current: "review",
                path: &path,
            }),
        );
        assert!(
            drawn.contains("aria-label=\"Diagramma di Ciclo. Stato attuale: Esame. Percorso seguito: Esame → Correzione → Esame\""),
            "{drawn}"
        );
        assert_eq!(drawn.matches(CURRENT_BADGE).count(), 1, "{drawn}");
        assert!(drawn.contains("class=\"state current visited\" data-state=\"review\""));
        assert!(drawn.contains("class=\"state visited\" data-state=\"correct\""));
        assert!(drawn.contains("class=\"state\" data-state=\"done\""));
        assert_eq!(drawn.matches("class=\"way taken\"").count(), 2, "{drawn}");
    }
}
