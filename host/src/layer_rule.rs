//! The layer rules, checked on the source. `cli/` parses arguments and renders results; every
//! module below it takes [`crate::run_options::RunOptions`] and names neither `cli` nor clap, so
//! no import cycle can pass through `cli/`. Below `cli/`, warnings go through
//! [`crate::warnings::warn`], so they all carry its one prefix.

use std::path::{Path, PathBuf};

/// What a module below the command line must not write (outside comments).
const NO_CLI: [&str; 5] = [
    "crate::cli",
    "super::cli",
    "clap::",
    "use clap",
    "derive(Parser",
];

/// A warning line printed by hand instead of through the reporter.
const NO_HAND_WARNINGS: [&str; 2] = ["\"Warning: ", "\"warning: "];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `file:line: text` of every line that holds one of `words`, outside comments, `cli/`,
/// `main.rs` (which only calls `cli::main`) and this file.
fn lines_below_cli_with(words: &[&str], except_in: Option<&str>) -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut found = Vec::new();
    for file in files {
        let relative = file.strip_prefix(&src).unwrap();
        if relative.starts_with("cli")
            || ["main.rs", "layer_rule.rs"]
                .iter()
                .chain(&except_in)
                .any(|f| relative == Path::new(f))
        {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if words.iter().any(|w| code.contains(w)) {
                found.push(format!(
                    "{}:{}: {}",
                    relative.display(),
                    number + 1,
                    line.trim()
                ));
            }
        }
    }
    found
}

#[test]
fn nothing_below_cli_names_cli_or_clap() {
    let found = lines_below_cli_with(&NO_CLI, None);
    assert!(
        found.is_empty(),
        "modules below cli/ must take RunOptions, not cli or clap types:\n{}",
        found.join("\n")
    );
}

#[test]
fn warnings_below_cli_go_through_the_reporter() {
    let found = lines_below_cli_with(&NO_HAND_WARNINGS, Some("warnings.rs"));
    assert!(
        found.is_empty(),
        "modules below cli/ report warnings with crate::warnings::warn:\n{}",
        found.join("\n")
    );
}
