//! Checks that a backend's list of embedded migrations is its folder of migration files.
//!
//! The migrations are listed by hand (`include_str!` per file, so the binary needs no files at
//! run time): a file added to the folder but left off the list would silently never run, and a
//! list entry pointing at the wrong file would run the wrong SQL under the right name.

/// What is wrong between the files of `folder` (name and text) and the `listed` migrations
/// (version, name, SQL): every file must be named `NNNN_name.sql` and listed once, with the
/// version and name its file name gives and its text; nothing may be listed without a file.
pub(super) fn mismatches(
    files: &[(String, String)],
    listed: &[(i64, String, String)],
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut on_disk = Vec::new();
    for (file, text) in files {
        let parsed = file
            .strip_suffix(".sql")
            .and_then(|stem| stem.split_once('_'))
            .and_then(|(version, name)| Some((version.parse::<i64>().ok()?, name)));
        match parsed {
            Some((version, name)) => on_disk.push((version, name, file, text)),
            None => problems.push(format!(
                "`{file}` is not named NNNN_name.sql: it would never be listed"
            )),
        }
    }
    for (version, name, file, text) in &on_disk {
        match listed.iter().find(|(v, _, _)| v == version) {
            None => problems.push(format!("`{file}` is not in the list: it would never run")),
            Some((_, listed_name, _)) if listed_name != name => {
                problems.push(format!("`{file}` is listed as `{listed_name}`"))
            }
            Some((_, _, sql)) if sql != *text => problems.push(format!(
                "the list runs other SQL than `{file}` under its version"
            )),
            Some(_) => {}
        }
    }
    for (version, name, _) in listed {
        if !on_disk.iter().any(|(v, _, _, _)| v == version) {
            problems.push(format!("migration {version} `{name}` has no file"));
        }
    }
    problems
}

/// The files of `folder` (a folder of the crate), with their text, by name.
pub(super) fn read(folder: &str) -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(folder);
    let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            (name, text)
        })
        .collect();
    files.sort();
    files
}

/// `migrator`'s migrations as (version, name, SQL).
pub(super) fn listed(migrator: &sqlx::migrate::Migrator) -> Vec<(i64, String, String)> {
    migrator
        .iter()
        .map(|m| {
            (
                m.version,
                m.description.to_string(),
                m.sql.as_str().to_string(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::mismatches;

    fn file(name: &str, text: &str) -> (String, String) {
        (name.to_string(), text.to_string())
    }

    fn entry(version: i64, name: &str, sql: &str) -> (i64, String, String) {
        (version, name.to_string(), sql.to_string())
    }

    #[test]
    fn a_file_left_off_the_list_is_found() {
        let files = [file("0001_init.sql", "a"), file("0002_more.sql", "b")];
        let problems = mismatches(&files, &[entry(1, "init", "a")]);
        assert_eq!(
            problems,
            ["`0002_more.sql` is not in the list: it would never run"]
        );
    }

    #[test]
    fn a_misnamed_file_a_wrong_text_and_a_listed_migration_without_a_file_are_found() {
        let files = [file("0001_init.sql", "a"), file("2-more.sql", "b")];
        let listed = [entry(1, "init", "b"), entry(3, "gone", "c")];
        assert_eq!(mismatches(&files, &listed).len(), 3);
    }

    #[test]
    fn a_list_that_is_the_folder_passes() {
        let files = [file("0001_init.sql", "a"), file("0003_more.sql", "b")];
        let listed = [entry(1, "init", "a"), entry(3, "more", "b")];
        assert!(mismatches(&files, &listed).is_empty());
    }
}
