//! Holds the README's settings tables to what a binary reads: a test lists the variables the
//! binary's settings struct declares, with their defaults
//! ([`described`](crate::settings::described)), then [`check`] compares them with the tables
//! under the binary's README section. Every setting declared is in a table (its own section's,
//! or a section that documents shared settings once), with the default the code applies where
//! the table gives it as a literal; every setting the binary's own tables list is one it
//! declares.

use crate::settings::Declared;
use crate::telemetry::{LOG_FILTER, LOG_FORMAT};

/// A row of a settings table: `| `NAME` / `OTHER` | `default` / `other` | meaning |`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Row {
    var: String,
    /// The default when the table gives it as a literal (in backticks), else `None`.
    default: Option<String>,
}

/// The text of `## {title}` up to the next `## ` heading.
fn section<'a>(readme: &'a str, title: &str) -> &'a str {
    let heading = format!("\n## {title}\n");
    let Some(start) = readme.find(&heading) else {
        return "";
    };
    let body = &readme[start + heading.len()..];
    &body[..body.find("\n## ").unwrap_or(body.len())]
}

/// The backticked items of a table cell, when the cell holds nothing else (besides ` / `).
fn literals(cell: &str) -> Option<Vec<String>> {
    let parts: Vec<&str> = cell.split(" / ").map(str::trim).collect();
    parts
        .iter()
        .map(|part| {
            let inner = part.strip_prefix('`')?.strip_suffix('`')?;
            (!inner.contains('`')).then(|| inner.to_string())
        })
        .collect()
}

/// Every settings-table row of `text`: rows whose first cell names variables in backticks.
fn rows(text: &str) -> Vec<Row> {
    let mut found = Vec::new();
    for line in text.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let (Some(names), Some(defaults)) = (cells.get(1), cells.get(2)) else {
            continue;
        };
        let Some(vars) = literals(names) else {
            continue;
        };
        if !vars
            .iter()
            .all(|v| v.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        {
            continue;
        }
        let defaults = literals(defaults).filter(|d| d.len() == vars.len());
        for (i, var) in vars.into_iter().enumerate() {
            let default = defaults.as_ref().map(|d| d[i].clone());
            found.push(Row { var, default });
        }
    }
    found
}

/// What is wrong between `declared` (what the binary's configuration declares) and the README:
/// `own` is the binary's section, `shared` sections that document settings it shares with
/// others. Every binary also reads logging's settings first ([`crate::telemetry::start`]).
pub fn check(declared: &[Declared], readme: &str, own: &str, shared: &[&str]) -> Vec<String> {
    let mut declared = declared.to_vec();
    for (var, default) in [LOG_FORMAT, LOG_FILTER] {
        declared.push(Declared {
            var: var.to_string(),
            default: Some(default.to_string()),
        });
    }
    let own_rows = rows(section(readme, own));
    let mut all_rows = own_rows.clone();
    for title in shared {
        all_rows.extend(rows(section(readme, title)));
    }
    let mut problems = Vec::new();
    if own_rows.is_empty() {
        problems.push(format!("README has no settings table under \"## {own}\""));
    }
    for setting in &declared {
        match all_rows.iter().find(|row| row.var == setting.var) {
            None => problems.push(format!(
                "{} is read but no settings table under \"## {own}\" (or {shared:?}) lists it",
                setting.var
            )),
            Some(row) => {
                if let (Some(documented), Some(applied)) = (&row.default, &setting.default) {
                    if documented != applied {
                        problems.push(format!(
                            "{}: README gives the default `{documented}`, the code applies `{applied}`",
                            setting.var
                        ));
                    }
                }
            }
        }
    }
    for row in &own_rows {
        let read = declared.iter().any(|d| d.var == row.var);
        if !read {
            problems.push(format!(
                "{} is in the README's table under \"## {own}\" but {own} does not read it",
                row.var
            ));
        }
    }
    problems
}

/// Panics listing every disagreement [`check`] finds between the README and the settings a
/// binary's configuration declares.
pub fn assert_documented(declared: &[Declared], readme: &str, own: &str, shared: &[&str]) {
    let problems = check(declared, readme, own, shared);
    assert!(
        problems.is_empty(),
        "README's settings tables and {own} disagree: {problems:#?}"
    );
}

/// A test, `the_readme_lists_every_setting_with_its_default`, that the README table under
/// `## {own}` (with the `shared` tables) lists exactly the variables settings struct `$config`
/// declares, with its defaults. For a binary's configuration module, whose crate sits beside
/// README.md.
#[macro_export]
macro_rules! readme_lists_every_setting {
    ($config:ty, own: $own:literal, shared: [$($shared:literal),*]) => {
        #[test]
        fn the_readme_lists_every_setting_with_its_default() {
            $crate::documented::assert_documented(
                &$crate::settings::described::<$config>(),
                include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")),
                $own,
                &[$($shared),*],
            );
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    const README: &str = "intro\n\n## svc\n\ntext\n\n| variable | default | meaning |\n| --- | --- | --- |\n| `A_MS` | `100` | a |\n| `B` / `C` | `x` / `y` | b and c |\n| `D` | system store | d |\n| `LOG_FORMAT` | `text` | logs |\n| `RUST_LOG` | `info` | filter |\n\n## other\n\n| `SHARED` | `1` | s |\n";

    fn declared(list: &[(&str, Option<&str>)]) -> Vec<Declared> {
        list.iter()
            .map(|(var, default)| Declared {
                var: var.to_string(),
                default: default.map(str::to_string),
            })
            .collect()
    }

    #[test]
    fn tables_are_read_with_their_literal_defaults() {
        let read: Vec<(String, Option<String>)> = rows(section(README, "svc"))
            .into_iter()
            .map(|row| (row.var, row.default))
            .collect();
        let expected = [
            ("A_MS", Some("100")),
            ("B", Some("x")),
            ("C", Some("y")),
            ("D", None),
            ("LOG_FORMAT", Some("text")),
            ("RUST_LOG", Some("info")),
        ]
        .map(|(var, default)| (var.to_string(), default.map(str::to_string)));
        assert_eq!(read, expected);
    }

    #[test]
    fn matching_settings_pass() {
        let read = declared(&[
            ("A_MS", Some("100")),
            ("B", Some("x")),
            ("C", None),
            ("D", None),
            ("SHARED", Some("1")),
        ]);
        assert_eq!(
            check(&read, README, "svc", &["other"]),
            Vec::<String>::new()
        );
    }

    #[test]
    fn drift_either_way_is_named() {
        let read = declared(&[
            ("A_MS", Some("250")),
            ("B", None),
            ("NEW", None),
            ("D", None),
        ]);
        let problems = check(&read, README, "svc", &[]);
        assert_eq!(problems.len(), 3, "{problems:#?}");
        assert!(problems[0].contains("A_MS") && problems[0].contains("`250`"));
        assert!(problems[1].starts_with("NEW is read"));
        assert!(problems[2].starts_with("C is in the README"));
        assert_eq!(
            check(&[], "no tables", "svc", &[]),
            vec![
                "README has no settings table under \"## svc\"".to_string(),
                "LOG_FORMAT is read but no settings table under \"## svc\" (or []) lists it"
                    .to_string(),
                "RUST_LOG is read but no settings table under \"## svc\" (or []) lists it"
                    .to_string(),
            ]
        );
    }
}
