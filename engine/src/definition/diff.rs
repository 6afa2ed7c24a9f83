//! What a package changes against the version running, file by file and line by line, for
//! the administrator who reviews it before deploying (a new version is sealed in the history of
//! every case started on it, so it should be deployed knowingly).

use super::{Package, WORKFLOW_FILE};

/// What happened to one file of the package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Added,
    Removed,
    Modified,
    Unchanged,
}

/// One line of a file's diff: kept, added or removed, with its numbers in the old and new
/// file; `Gap` stands for unchanged lines left out between two changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    Same {
        old: usize,
        new: usize,
        text: String,
    },
    Added {
        new: usize,
        text: String,
    },
    Removed {
        old: usize,
        text: String,
    },
    Gap,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDiff {
    /// As in the package's folder: `workflow.yaml`, `forms/NAME.yaml`, `templates/NAME.hbs`.
    pub path: String,
    pub change: Change,
    pub added: usize,
    pub removed: usize,
    /// The changed lines with [`CONTEXT`] lines around them (empty when unchanged).
    pub lines: Vec<Line>,
}

/// Unchanged lines shown around each change.
pub const CONTEXT: usize = 3;
/// Above this many cells (lines × lines, after the common start and end are set aside) a file
/// is shown as wholly replaced instead of searched for its longest common part.
const MAX_CELLS: usize = 4_000_000;

/// Every file of either package, in the folder's order (workflow, forms, templates).
pub fn diff(running: Option<&Package>, uploaded: &Package) -> Vec<FileDiff> {
    let files = |p: &Package| -> Vec<(String, String)> {
        let mut out = vec![(WORKFLOW_FILE.to_string(), p.workflow.clone())];
        out.extend(
            p.forms
                .iter()
                .map(|(n, t)| (format!("forms/{n}.yaml"), t.clone())),
        );
        out.extend(
            p.templates
                .iter()
                .map(|(n, t)| (format!("templates/{n}.hbs"), t.clone())),
        );
        out
    };
    let old = running.map(files).unwrap_or_default();
    let new = files(uploaded);
    let mut paths: Vec<&str> = new.iter().map(|(p, _)| p.as_str()).collect();
    for (path, _) in &old {
        if !paths.contains(&path.as_str()) {
            paths.push(path);
        }
    }
    let find = |files: &[(String, String)], path: &str| {
        files
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, t)| t.clone())
    };
    paths
        .into_iter()
        .map(|path| {
            let (before, after) = (find(&old, path), find(&new, path));
            let change = match (&before, &after) {
                (None, _) => Change::Added,
                (_, None) => Change::Removed,
                (Some(a), Some(b)) if a == b => Change::Unchanged,
                _ => Change::Modified,
            };
            let all = lines(
                before.as_deref().unwrap_or_default(),
                after.as_deref().unwrap_or_default(),
            );
            let added = all
                .iter()
                .filter(|l| matches!(l, Line::Added { .. }))
                .count();
            let removed = all
                .iter()
                .filter(|l| matches!(l, Line::Removed { .. }))
                .count();
            FileDiff {
                path: path.to_string(),
                change,
                added,
                removed,
                lines: if change == Change::Unchanged {
                    Vec::new()
                } else {
                    hunks(all)
                },
            }
        })
        .collect()
}

/// Every line of both texts, as kept, removed or added (longest common subsequence).
fn lines(old: &str, new: &str) -> Vec<Line> {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let start = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let end = a[start..]
        .iter()
        .rev()
        .zip(b[start..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (mid_a, mid_b) = (&a[start..a.len() - end], &b[start..b.len() - end]);
    let mut out: Vec<Line> = (0..start)
        .map(|i| Line::Same {
            old: i + 1,
            new: i + 1,
            text: a[i].to_string(),
        })
        .collect();
    let (n, m) = (mid_a.len(), mid_b.len());
    if n * m > MAX_CELLS {
        out.extend((0..n).map(|i| Line::Removed {
            old: start + i + 1,
            text: mid_a[i].to_string(),
        }));
        out.extend((0..m).map(|j| Line::Added {
            new: start + j + 1,
            text: mid_b[j].to_string(),
        }));
    } else {
        // longest[i][j]: the longest common part of mid_a[i..] and mid_b[j..].
        let mut longest = vec![0u32; (n + 1) * (m + 1)];
        let at = |i: usize, j: usize| i * (m + 1) + j;
        for i in (0..n).rev() {
            for j in (0..m).rev() {
                longest[at(i, j)] = if mid_a[i] == mid_b[j] {
                    longest[at(i + 1, j + 1)] + 1
                } else {
                    longest[at(i + 1, j)].max(longest[at(i, j + 1)])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < n || j < m {
            if i < n && j < m && mid_a[i] == mid_b[j] {
                out.push(Line::Same {
                    old: start + i + 1,
                    new: start + j + 1,
                    text: mid_a[i].to_string(),
                });
                i += 1;
                j += 1;
            } else if i < n && (j == m || longest[at(i + 1, j)] >= longest[at(i, j + 1)]) {
                out.push(Line::Removed {
                    old: start + i + 1,
                    text: mid_a[i].to_string(),
                });
                i += 1;
            } else {
                out.push(Line::Added {
                    new: start + j + 1,
                    text: mid_b[j].to_string(),
                });
                j += 1;
            }
        }
    }
    let (old_end, new_end) = (a.len() - end, b.len() - end);
    out.extend((0..end).map(|k| Line::Same {
        old: old_end + k + 1,
        new: new_end + k + 1,
        text: a[old_end + k].to_string(),
    }));
    out
}

/// Keeps the changes and [`CONTEXT`] lines around each; what is left out becomes one `Gap`.
fn hunks(all: Vec<Line>) -> Vec<Line> {
    let changed: Vec<usize> = all
        .iter()
        .enumerate()
        .filter(|(_, l)| !matches!(l, Line::Same { .. }))
        .map(|(i, _)| i)
        .collect();
    let near = |i: usize| changed.iter().any(|&c| c.abs_diff(i) <= CONTEXT);
    let mut out = Vec::new();
    for (i, line) in all.into_iter().enumerate() {
        if near(i) {
            out.push(line);
        } else if out.last().is_some_and(|l| *l != Line::Gap) {
            out.push(Line::Gap);
        }
    }
    if out.last() == Some(&Line::Gap) {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(workflow: &str, form: Option<&str>) -> Package {
        let mut p = Package {
            workflow: workflow.into(),
            ..Package::default()
        };
        if let Some(form) = form {
            p.forms.insert("richiesta".into(), form.into());
        }
        p
    }

    #[test]
    fn a_changed_line_shows_as_removed_and_added_with_three_lines_around_it() {
        let old: String = (1..=20).map(|n| format!("riga {n}\n")).collect();
        let new = old.replace("riga 10\n", "riga dieci\n");
        let files = diff(Some(&package(&old, None)), &package(&new, None));
        assert_eq!(files.len(), 1);
        let file = &files[0];
        assert_eq!(
            (file.change, file.added, file.removed),
            (Change::Modified, 1, 1)
        );
        assert_eq!(file.lines.len(), 3 + 2 + 3, "{:?}", file.lines);
        assert_eq!(
            file.lines[0],
            Line::Same {
                old: 7,
                new: 7,
                text: "riga 7".into()
            }
        );
        // The old line first, then the new one, as a reader compares them.
        assert_eq!(
            file.lines[3..5],
            [
                Line::Removed {
                    old: 10,
                    text: "riga 10".into()
                },
                Line::Added {
                    new: 10,
                    text: "riga dieci".into()
                }
            ]
        );
    }

    #[test]
    fn far_apart_changes_are_separated_by_a_gap() {
        let old: String = (1..=30).map(|n| format!("{n}\n")).collect();
        let new = old
            .replace("\n2\n", "\ndue\n")
            .replace("\n28\n", "\nventotto\n");
        let files = diff(Some(&package(&old, None)), &package(&new, None));
        assert_eq!(
            files[0].lines.iter().filter(|l| **l == Line::Gap).count(),
            1
        );
    }

    #[test]
    fn files_added_removed_and_unchanged_are_told_apart() {
        let running = package("id: a\n", Some("title: Richiesta\n"));
        let mut uploaded = package("id: a\n", None);
        uploaded
            .templates
            .insert("atto".into(), "Atto {{n}}\n".into());
        let files = diff(Some(&running), &uploaded);
        let by: Vec<(&str, Change)> = files.iter().map(|f| (f.path.as_str(), f.change)).collect();
        assert_eq!(
            by,
            [
                ("workflow.yaml", Change::Unchanged),
                ("templates/atto.hbs", Change::Added),
                ("forms/richiesta.yaml", Change::Removed),
            ]
        );
        assert!(files[0].lines.is_empty());
    }

    #[test]
    fn a_first_deploy_shows_every_file_as_added() {
        let files = diff(None, &package("id: a\ntitle: A\n", None));
        assert_eq!((files[0].change, files[0].added), (Change::Added, 2));
    }
}
