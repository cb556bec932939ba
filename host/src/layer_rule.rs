//! The layer rule, checked on the source: `cli/` parses arguments and renders results; every
//! module below it takes [`crate::run_options::RunOptions`] and names neither `cli` nor clap.
//! Since nothing below `cli/` imports it, no import cycle can pass through it.

use std::path::{Path, PathBuf};

/// What a module below the command line must not write (outside comments).
const FORBIDDEN: [&str; 5] = [
    "crate::cli",
    "super::cli",
    "clap::",
    "use clap",
    "derive(Parser",
];

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

#[test]
fn nothing_below_cli_names_cli_or_clap() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut found = Vec::new();
    for file in files {
        let relative = file.strip_prefix(&src).unwrap();
        // main.rs only calls `cli::main`; this file names the words it looks for.
        if relative.starts_with("cli")
            || relative == Path::new("main.rs")
            || relative == Path::new("layer_rule.rs")
        {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for word in FORBIDDEN {
                if code.contains(word) {
                    found.push(format!(
                        "{}:{}: {}",
                        relative.display(),
                        number + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "modules below cli/ must take RunOptions, not cli or clap types:\n{}",
        found.join("\n")
    );
}
