//! Where every box, label and line of a workflow drawing goes.
//!
//! States sit in rows by their distance from the initial state. Between two rows runs a
//! *channel*, a band no box enters: it holds the labels of the arrows leaving the row above,
//! packed in lanes so that no two touch, and below them the tracks of the arrows that go round
//! (to a row further down than the next: round the left side; back up or sideways: round the
//! right side). An arrow runs from its state to its label and from its label on, so a label
//! always sits on its own arrow. Labels therefore never overlap each other nor a box, however
//! large the workflow: `engine/tests/diagram_layout.rs` checks it on the SVG of every shipped
//! workflow, estimating text sizes with [`text_width`] as this module does.
//!
//! There are no font metrics without a browser, so text is measured by character count.

use super::Way;
use crate::definition::Definition;
use std::collections::{HashMap, VecDeque};

/// Font size of state titles, in SVG units.
pub const NODE_FONT: f64 = 12.0;
/// Font size of arrow labels.
pub const EDGE_FONT: f64 = 11.0;
/// Line height, in ems.
pub const LINE_HEIGHT: f64 = 1.25;
/// Estimated glyph width, in ems: wider than the average sans-serif glyph, so that a label
/// drawn in any font the browser picks stays inside its estimated box.
const GLYPH_EM: f64 = 0.6;
const BOX_W: f64 = 220.0;
const GAP_X: f64 = 28.0;
/// Characters per line of a state title: 28 × 0.6 × 12 = 202 units, inside the 220 box.
const NODE_CHARS: usize = 28;
const NODE_LINES: usize = 3;
const EDGE_CHARS: usize = 26;
const EDGE_LINES: usize = 3;
/// Distance between parallel tracks of arrows going round.
const TRACK: f64 = 7.0;
const PAD: f64 = 8.0;
/// Free space between two labels of one lane.
const LABEL_GAP: f64 = 10.0;

/// The estimated width of one line of text at `font_size`.
pub fn text_width(text: &str, font_size: f64) -> f64 {
    text.chars().count() as f64 * GLYPH_EM * font_size
}

/// A state's box (top-left corner; every box is `box_w` × `box_h`) and its title's lines.
#[derive(Debug)]
pub struct Node {
    pub name: String,
    pub lines: Vec<String>,
    /// The box carries the "stato attuale" line above its title.
    pub current: bool,
    pub end: bool,
    pub x: f64,
    pub y: f64,
}

/// An arrow's label: its lines centred on `cx`, from `top` down.
#[derive(Debug)]
pub struct Label {
    /// Every way between the two states, joined: shown whole as the arrow's tooltip.
    pub full: String,
    pub lines: Vec<String>,
    pub cx: f64,
    pub top: f64,
    pub width: f64,
    pub height: f64,
}

/// One arrow: from its state to its label (`head`), then from its label to its target
/// (`tail`, ending with the arrowhead).
#[derive(Debug)]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub label: Label,
    pub head: Vec<(f64, f64)>,
    pub tail: Vec<(f64, f64)>,
    /// Goes back up (or sideways): drawn dashed.
    pub back: bool,
}

#[derive(Debug)]
pub struct Layout {
    pub width: f64,
    pub height: f64,
    pub box_w: f64,
    pub box_h: f64,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

/// Breaks a text into at most `max_lines` lines of at most `width` characters, at spaces; what
/// does not fit ends with an ellipsis (the whole text stays in the tooltip).
pub fn wrap(text: &str, width: usize, max_lines: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        if let Some(last) = lines.last_mut() {
            if last.chars().count() >= width {
                *last = last.chars().take(width - 1).collect();
            }
            last.push('…');
        }
    }
    for line in &mut lines {
        if line.chars().count() > width {
            *line = line.chars().take(width - 1).chain(['…']).collect();
        }
    }
    lines
}

/// One lane of a channel: the spans its labels take across, and its height (the tallest).
type Lane = (Vec<(f64, f64)>, f64);

/// How an arrow gets from its row to its target's.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Route {
    /// To the next row, straight.
    Down,
    /// To a row further down, round the left side.
    Around,
    /// Back up or sideways, round the right side.
    Back,
}

/// Lays out `ways` (arrows between the same two states merged, their labels joined).
/// `current`: the state whose box carries the "stato attuale" line.
pub fn layout(definition: &Definition, ways: &[Way], current: Option<&str>) -> Layout {
    let mut merged: Vec<(&str, &str, String)> = Vec::new();
    for way in ways {
        match merged
            .iter_mut()
            .find(|(f, t, _)| *f == way.from && *t == way.to)
        {
            Some((_, _, label)) => {
                label.push_str(" / ");
                label.push_str(&way.label);
            }
            None => merged.push((&way.from, &way.to, way.label.clone())),
        }
    }
    let rows = rows(definition, &merged);
    let row_of: HashMap<&str, usize> = rows
        .iter()
        .enumerate()
        .flat_map(|(r, row)| row.iter().map(move |name| (*name, r)))
        .collect();

    // Boxes: one height for all, enough for the longest title (and the "stato attuale" line).
    let lines: HashMap<&str, Vec<String>> = definition
        .states
        .values()
        .map(|s| {
            let title = s.title.as_deref().unwrap_or(&s.name);
            (s.name.as_str(), wrap(title, NODE_CHARS, NODE_LINES))
        })
        .collect();
    let most = lines.values().map(Vec::len).max().unwrap_or(1) + usize::from(current.is_some());
    let box_h = most as f64 * NODE_FONT * LINE_HEIGHT + 2.0 * PAD;
    let widest = rows.iter().map(Vec::len).max().unwrap_or(1) as f64;
    let content_w = widest * (BOX_W + GAP_X) - GAP_X;
    let mut centre_x: HashMap<&str, f64> = HashMap::new();
    for row in &rows {
        let offset = (content_w - (row.len() as f64 * (BOX_W + GAP_X) - GAP_X)) / 2.0;
        for (c, name) in row.iter().enumerate() {
            centre_x.insert(name, offset + c as f64 * (BOX_W + GAP_X) + BOX_W / 2.0);
        }
    }

    // Arrows: their route, their label's wished position, their tracks.
    struct Draft<'a> {
        from: &'a str,
        to: &'a str,
        full: String,
        lines: Vec<String>,
        width: f64,
        height: f64,
        route: Route,
        left: f64,
        lane: usize,
        margin_track: usize,
        exit_track: usize,
        entry_track: usize,
    }
    let channels = rows.len() + 1;
    let mut tracks_in = vec![0usize; channels];
    let (mut around, mut back) = (0usize, 0usize);
    let route_of = |from: &str, to: &str| {
        let (r, q) = (row_of.get(from)?, row_of.get(to)?);
        Some(if *q == r + 1 {
            Route::Down
        } else if *q > r + 1 {
            Route::Around
        } else {
            Route::Back
        })
    };
    // Arrows leave a box from points spread along its bottom, left to right as they go
    // (round the left, down by their targets' places, round the right), so that two arrows
    // never leave along one line.
    let mut exit_x: HashMap<(&str, &str), f64> = HashMap::new();
    for row in &rows {
        for from in row {
            let mut out: Vec<(u8, f64, &str)> = merged
                .iter()
                .filter(|(f, _, _)| f == from)
                .filter_map(|(_, to, _)| {
                    let side = match route_of(from, to)? {
                        Route::Around => 0,
                        Route::Down => 1,
                        Route::Back => 2,
                    };
                    Some((side, centre_x[to], *to))
                })
                .collect();
            out.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
            let n = out.len() as f64;
            let spread = if n > 1.0 {
                f64::min(28.0, (BOX_W - 40.0) / (n - 1.0))
            } else {
                0.0
            };
            for (k, (_, _, to)) in out.iter().enumerate() {
                let x = centre_x[from] + (k as f64 - (n - 1.0) / 2.0) * spread;
                exit_x.insert((from, to), x);
            }
        }
    }
    let mut drafts: Vec<Draft> = Vec::new();
    for (from, to, full) in &merged {
        let (Some(&r), Some(&q)) = (row_of.get(from), row_of.get(to)) else {
            continue;
        };
        let Some(route) = route_of(from, to) else {
            continue;
        };
        let lines = wrap(full, EDGE_CHARS, EDGE_LINES);
        let width = lines
            .iter()
            .map(|l| text_width(l, EDGE_FONT))
            .fold(0.0, f64::max);
        let height = lines.len() as f64 * EDGE_FONT * LINE_HEIGHT;
        let (sx, tx) = (exit_x[&(*from, *to)], centre_x[to]);
        let wished = match route {
            Route::Down => sx + (tx - sx) * 0.3,
            Route::Around | Route::Back => sx,
        };
        let left = (wished - width / 2.0).clamp(0.0, (content_w - width).max(0.0));
        let mut draft = Draft {
            from,
            to,
            full: full.clone(),
            lines,
            width,
            height,
            route,
            left,
            lane: 0,
            margin_track: 0,
            exit_track: 0,
            entry_track: 0,
        };
        if route != Route::Down {
            draft.margin_track = if route == Route::Around {
                around += 1;
                around - 1
            } else {
                back += 1;
                back - 1
            };
            draft.exit_track = tracks_in[r + 1];
            tracks_in[r + 1] += 1;
            draft.entry_track = tracks_in[q];
            tracks_in[q] += 1;
        }
        drafts.push(draft);
    }

    // Labels into lanes of the channel below their state's row: the first lane where the
    // label fits at its wished place, or a new lane.
    let mut lanes: Vec<Vec<Lane>> = vec![Vec::new(); channels];
    let mut order: Vec<usize> = (0..drafts.len()).collect();
    order.sort_by(|a, b| drafts[*a].left.total_cmp(&drafts[*b].left));
    for i in order {
        let channel = row_of[drafts[i].from] + 1;
        let (l, r) = (drafts[i].left, drafts[i].left + drafts[i].width);
        let lanes = &mut lanes[channel];
        let free = lanes.iter().position(|(taken, _)| {
            taken
                .iter()
                .all(|(a, b)| r + LABEL_GAP <= *a || l >= *b + LABEL_GAP)
        });
        let lane = match free {
            Some(lane) => lane,
            None => {
                lanes.push((Vec::new(), 0.0));
                lanes.len() - 1
            }
        };
        lanes[lane].0.push((l, r));
        lanes[lane].1 = f64::max(lanes[lane].1, drafts[i].height);
        drafts[i].lane = lane;
    }

    // Heights: each channel, then its row.
    let mut channel_top = vec![0.0; channels];
    let mut lane_top: Vec<Vec<f64>> = vec![Vec::new(); channels];
    let mut band_top = vec![0.0; channels];
    let mut row_top = vec![0.0; rows.len()];
    let mut y = 0.0;
    for c in 0..channels {
        channel_top[c] = y;
        y += PAD;
        for (_, h) in &lanes[c] {
            lane_top[c].push(y);
            y += h + PAD / 2.0;
        }
        band_top[c] = y + PAD / 2.0;
        y += PAD + tracks_in[c] as f64 * TRACK + PAD;
        if c < rows.len() {
            row_top[c] = y;
            y += box_h;
        }
    }
    let height = y;

    // Across: the left margin for the arrows going round it, the content, the right margin.
    let margin = |n: usize| {
        if n == 0 {
            0.0
        } else {
            2.0 * PAD + n as f64 * TRACK
        }
    };
    let shift = margin(around);
    let width = shift + content_w + margin(back);
    let nodes = rows
        .iter()
        .enumerate()
        .flat_map(|(r, row)| {
            let row_top = row_top[r];
            let lines = &lines;
            let centre_x = &centre_x;
            row.iter().map(move |name| Node {
                name: name.to_string(),
                lines: lines.get(name).cloned().unwrap_or_default(),
                current: current == Some(*name),
                end: matches!(
                    definition.states.get(*name).map(|s| &s.kind),
                    Some(crate::definition::Kind::End { .. })
                ),
                x: shift + centre_x[name] - BOX_W / 2.0,
                y: row_top,
            })
        })
        .collect();
    let edges = drafts
        .into_iter()
        .map(|d| {
            let (r, q) = (row_of[d.from], row_of[d.to]);
            let (sx, sy) = (shift + exit_x[&(d.from, d.to)], row_top[r] + box_h);
            let (tx, ty) = (shift + centre_x[d.to], row_top[q]);
            let cx = shift + d.left + d.width / 2.0;
            let top = lane_top[r + 1][d.lane];
            let bottom = top + d.height;
            let tail = match d.route {
                Route::Down => vec![(cx, bottom), (tx, ty)],
                Route::Around | Route::Back => {
                    let exit = band_top[r + 1] + d.exit_track as f64 * TRACK;
                    let entry = band_top[q] + d.entry_track as f64 * TRACK;
                    let side = if d.route == Route::Around {
                        shift - PAD - d.margin_track as f64 * TRACK
                    } else {
                        shift + content_w + PAD + d.margin_track as f64 * TRACK
                    };
                    vec![
                        (cx, bottom),
                        (cx, exit),
                        (side, exit),
                        (side, entry),
                        (tx, entry),
                        (tx, ty),
                    ]
                }
            };
            Edge {
                from: d.from.to_string(),
                to: d.to.to_string(),
                label: Label {
                    full: d.full,
                    lines: d.lines,
                    cx,
                    top,
                    width: d.width,
                    height: d.height,
                },
                head: vec![(sx, sy), (cx, top)],
                tail,
                back: d.route == Route::Back,
            }
        })
        .collect();
    Layout {
        width,
        height,
        box_w: BOX_W,
        box_h,
        nodes,
        edges,
    }
}

/// States in rows by their distance from the initial state (states it cannot reach: a last
/// row), each row ordered by where its predecessors stand, so that arrows cross less.
fn rows<'d>(definition: &'d Definition, merged: &[(&str, &str, String)]) -> Vec<Vec<&'d str>> {
    let mut depth: HashMap<&str, usize> = HashMap::new();
    let mut queue = VecDeque::from([(definition.initial.as_str(), 0usize)]);
    while let Some((name, d)) = queue.pop_front() {
        if depth.contains_key(name) || !definition.states.contains_key(name) {
            continue;
        }
        depth.insert(name, d);
        for (from, to, _) in merged {
            if *from == name {
                queue.push_back((to, d + 1));
            }
        }
    }
    let reached = depth.values().max().map_or(0, |d| d + 1);
    let mut rows: Vec<Vec<&str>> = vec![Vec::new(); reached];
    let mut unreached = Vec::new();
    for name in definition.states.keys() {
        match depth.get(name.as_str()) {
            Some(&d) => rows[d].push(name),
            None => unreached.push(name.as_str()),
        }
    }
    if !unreached.is_empty() {
        rows.push(unreached);
    }
    for r in 1..rows.len() {
        let place: HashMap<&str, f64> = rows[..r]
            .iter()
            .flat_map(|row| {
                let n = row.len() as f64;
                row.iter()
                    .enumerate()
                    .map(move |(c, name)| (*name, (c as f64 + 0.5) / n))
            })
            .collect();
        let n = rows[r].len() as f64;
        let mut keyed: Vec<(f64, &str)> = rows[r]
            .iter()
            .enumerate()
            .map(|(c, name)| {
                let above: Vec<f64> = merged
                    .iter()
                    .filter(|(_, to, _)| to == name)
                    .filter_map(|(from, _, _)| place.get(from).copied())
                    .collect();
                let key = if above.is_empty() {
                    (c as f64 + 0.5) / n
                } else {
                    above.iter().sum::<f64>() / above.len() as f64
                };
                (key, *name)
            })
            .collect();
        keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
        rows[r] = keyed.into_iter().map(|(_, name)| name).collect();
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn long_titles_wrap_at_spaces_and_what_does_not_fit_ends_with_an_ellipsis() {
        assert_eq!(
            wrap("Determina a contrarre (art. 17 c.1)", 28, 3),
            vec!["Determina a contrarre (art.", "17 c.1)"]
        );
        assert_eq!(
            wrap(
                "Verifica del termine per le offerte e della pubblicazione nazionale",
                28,
                2
            ),
            vec!["Verifica del termine per le", "offerte e della…"]
        );
        assert_eq!(wrap("Avvio", 28, 3), vec!["Avvio"]);
        let long = wrap("Supercalifragilistichespiralidoso-e-ancora", 10, 2);
        assert!(long.iter().all(|l| l.chars().count() <= 10), "{long:?}");
    }
}
