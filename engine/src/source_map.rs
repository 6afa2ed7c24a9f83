//! Where each key and value of a YAML document was written.
//!
//! `serde` deserialisation reports syntax and type errors with a location, but semantic checks
//! (an action leading to an unknown state) run on the typed model, which has no positions. The
//! source map is built from the parser's events and answers "where is `states.approval.actions`?"
//! so every semantic error can still point at a line and column. It also reports duplicate
//! keys at the second occurrence, which the YAML deserialiser reports only at 1:1.

use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use std::collections::HashMap;

/// Positions of the nodes of one YAML document, keyed by their path from the root.
#[derive(Debug, Default)]
pub struct SourceMap {
    keys: HashMap<String, (usize, usize)>,
    values: HashMap<String, (usize, usize)>,
    duplicates: Vec<((usize, usize), String)>,
}

const SEP: char = '\u{1f}';

fn join(path: &[&str]) -> String {
    path.join(&SEP.to_string())
}

fn position(span: &Span) -> (usize, usize) {
    (span.start.line(), span.start.col() + 1)
}

impl SourceMap {
    /// Builds the map; on a YAML syntax error it returns what it saw so far (the deserialiser
    /// reports the syntax error itself, with its location).
    pub fn build(source: &str) -> Self {
        let mut map = SourceMap::default();
        let mut events = Parser::new_from_str(source).map_while(Result::ok);
        let mut path = Vec::new();
        while let Some((event, span)) = events.next() {
            if matches!(
                event,
                Event::MappingStart(..) | Event::SequenceStart(..) | Event::Scalar(..)
            ) {
                map.node(event, span, &mut events, &mut path);
            }
        }
        map
    }

    fn node<'a>(
        &mut self,
        event: Event<'a>,
        span: Span,
        events: &mut impl Iterator<Item = (Event<'a>, Span)>,
        path: &mut Vec<String>,
    ) {
        let here = path.join(&SEP.to_string());
        let (line, column) = position(&span);
        // A quoted scalar's text starts after its quote: point at the text itself.
        let quoted = matches!(&event, Event::Scalar(_, style, ..) if matches!(style, ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted));
        self.values
            .entry(here)
            .or_insert((line, column + usize::from(quoted)));
        match event {
            Event::MappingStart(..) => loop {
                let Some((key, key_span)) = events.next() else {
                    return;
                };
                let key = match key {
                    Event::MappingEnd => return,
                    Event::Scalar(text, ..) => text.into_owned(),
                    other => {
                        // Complex keys are not part of the workflow language; skip their node.
                        self.node(other, key_span, events, &mut Vec::new());
                        String::from("?")
                    }
                };
                path.push(key.clone());
                let full = path.join(&SEP.to_string());
                if let Some(first) = self.keys.get(&full) {
                    let msg = format!("duplicate key `{key}` (first defined at line {})", first.0);
                    self.duplicates.push((position(&key_span), msg));
                } else {
                    self.keys.insert(full.clone(), position(&key_span));
                }
                if let Some((value, value_span)) = events.next() {
                    self.values.remove(&full);
                    self.node(value, value_span, events, path);
                }
                path.pop();
            },
            Event::SequenceStart(..) => {
                let mut index = 0usize;
                while let Some((item, item_span)) = events.next() {
                    if matches!(item, Event::SequenceEnd) {
                        return;
                    }
                    path.push(index.to_string());
                    self.node(item, item_span, events, path);
                    path.pop();
                    index += 1;
                }
            }
            _ => {}
        }
    }

    /// Position of the key at `path`, or of its nearest ancestor that was written down.
    pub fn key(&self, path: &[&str]) -> (usize, usize) {
        self.lookup(&self.keys, path)
    }

    /// Position of the value at `path` (where a mistyped state name is), falling back to its key.
    pub fn value(&self, path: &[&str]) -> (usize, usize) {
        self.values
            .get(&join(path))
            .copied()
            .unwrap_or_else(|| self.key(path))
    }

    fn lookup(&self, table: &HashMap<String, (usize, usize)>, path: &[&str]) -> (usize, usize) {
        (0..=path.len())
            .rev()
            .find_map(|n| table.get(&join(&path[..n])).copied())
            .unwrap_or((1, 1))
    }

    /// The first place (by line) where `key` is written somewhere below `prefix`: where an
    /// unknown field reported by the deserialiser, which gives no position, actually is.
    pub fn find_key_below(&self, prefix: &[&str], key: &str) -> Option<(usize, usize)> {
        let prefix = join(prefix);
        self.keys
            .iter()
            .filter(|(path, _)| {
                path.starts_with(&prefix)
                    && path.rsplit(SEP).next() == Some(key)
                    && path.len() > prefix.len()
            })
            .map(|(_, at)| *at)
            .min()
    }

    /// Duplicate keys, each at the position of its second occurrence.
    pub fn duplicates(&self) -> &[((usize, usize), String)] {
        &self.duplicates
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str =
        "id: x\nstates:\n  a:\n    actions:\n      go: { to: b }\n  b: { end: done }\n";

    #[test]
    fn keys_and_values_are_located() {
        let map = SourceMap::build(DOC);
        assert_eq!(map.key(&["states", "b"]), (6, 3));
        assert_eq!(map.value(&["states", "a", "actions", "go", "to"]), (5, 17));
        assert_eq!(map.key(&["states", "a", "missing"]), (3, 3));
    }

    #[test]
    fn duplicate_key_is_reported_where_it_repeats() {
        let map = SourceMap::build("id: x\ntitle: a\nid: y\n");
        assert_eq!(map.duplicates().len(), 1);
        assert_eq!(map.duplicates()[0].0, (3, 1));
    }
}
