//! The layer rules, checked on the source. `cli/` parses arguments and renders results; every
//! module below it takes [`crate::run_options::RunOptions`] and names neither `cli` nor clap, so
//! no import cycle can pass through `cli/`; and no import cycle exists anywhere else either
//! (what two modules both need gets a module of its own). Below `cli/`, warnings go through
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

/// The module a source file is (`agents/gc.rs` -> `agents::gc`, `agents/mod.rs` -> `agents`).
fn module_of(relative: &Path) -> String {
    let mut parts: Vec<String> = relative
        .with_extension("")
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts.join("::")
}

/// The paths a line of `module` names from the crate: `crate::a::b`, `super::a` (resolved
/// against `module`) and the first names inside `crate::{a, b::c}`.
fn crate_paths(code: &str, module: &str) -> Vec<String> {
    let base_of_super = module
        .rsplit_once("::")
        .map_or(String::new(), |(parent, _)| parent.to_string());
    let mut found = Vec::new();
    for (root, base) in [("crate::", String::new()), ("super::", base_of_super)] {
        for (at, _) in code.match_indices(root) {
            let before = code[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let rest = &code[at + root.len()..];
            let heads: Vec<&str> = match rest.strip_prefix('{') {
                Some(group) => group
                    .split('}')
                    .next()
                    .unwrap_or("")
                    .split(',')
                    .map(str::trim)
                    .collect(),
                None => vec![rest],
            };
            for head in heads {
                let path: String = head
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                    .collect();
                let path = path.trim_end_matches(':');
                if path.is_empty() || path == "self" {
                    continue;
                }
                found.push(if base.is_empty() {
                    path.to_string()
                } else {
                    format!("{base}::{path}")
                });
            }
        }
    }
    found
}

/// Module -> the modules it names (the longest module prefix of each path it uses).
fn module_graph() -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: Vec<(String, PathBuf)> = files
        .iter()
        .map(|f| (module_of(f.strip_prefix(&src).unwrap()), f.clone()))
        .filter(|(m, _)| !["lib", "main", "layer_rule"].contains(&m.as_str()))
        .collect();
    let known: std::collections::BTreeSet<&str> = modules.iter().map(|(m, _)| m.as_str()).collect();
    let mut graph = std::collections::BTreeMap::new();
    for (module, file) in &modules {
        let text = std::fs::read_to_string(file).unwrap();
        let mut named = std::collections::BTreeSet::new();
        for line in text.lines() {
            let code = line.split("//").next().unwrap_or("");
            for path in crate_paths(code, module) {
                let mut target = path.as_str();
                while !known.contains(target) {
                    match target.rsplit_once("::") {
                        Some((prefix, _)) => target = prefix,
                        None => break,
                    }
                }
                if known.contains(target) && target != module {
                    named.insert(target.to_string());
                }
            }
        }
        graph.insert(module.clone(), named);
    }
    graph
}

fn is_cli(module: &str) -> bool {
    module == "cli" || module.starts_with("cli::")
}

#[test]
fn no_module_below_cli_depends_on_cli_even_through_others() {
    let graph = module_graph();
    let mut found = Vec::new();
    for start in graph.keys().filter(|m| !is_cli(m)) {
        // Depth first, remembering the way each module was reached.
        let mut way: std::collections::BTreeMap<&str, &str> = std::collections::BTreeMap::new();
        let mut todo = vec![start.as_str()];
        while let Some(module) = todo.pop() {
            for next in graph.get(module).into_iter().flatten() {
                if next == start || way.contains_key(next.as_str()) {
                    continue;
                }
                way.insert(next, module);
                if is_cli(next) {
                    let mut chain = vec![next.as_str()];
                    while let Some(back) = way.get(chain.last().unwrap()).copied() {
                        chain.push(back);
                        if back == start {
                            break;
                        }
                    }
                    chain.reverse();
                    found.push(chain.join(" -> "));
                } else {
                    todo.push(next);
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "modules below cli/ reach it (an import cycle through cli/):\n{}",
        found.join("\n")
    );
}

/// One import cycle through each module that has one, the shortest: `a -> b -> a`. A cycle is
/// printed once, starting at its smallest module. (A parent module naming its own children by
/// their bare names is the module tree, not an import, and is not in the graph.)
fn import_cycles(
    graph: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
) -> Vec<String> {
    let mut cycles = std::collections::BTreeSet::new();
    for start in graph.keys() {
        // Breadth first from `start`, so the way back to it is a shortest cycle.
        let mut way: std::collections::BTreeMap<&str, &str> = std::collections::BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start.as_str()]);
        let mut closing = None;
        while let Some(module) = queue.pop_front() {
            for next in graph.get(module).into_iter().flatten() {
                if next == start {
                    closing = Some(module);
                    break;
                }
                if !way.contains_key(next.as_str()) {
                    way.insert(next, module);
                    queue.push_back(next);
                }
            }
            if closing.is_some() {
                break;
            }
        }
        let Some(last) = closing else { continue };
        let mut chain = vec![last];
        while let Some(back) = way.get(chain.last().unwrap()).copied() {
            chain.push(back);
        }
        if chain.last() != Some(&start.as_str()) {
            chain.push(start);
        }
        chain.reverse();
        // Rotated to start at its smallest module, so each cycle is listed once.
        let smallest = (0..chain.len()).min_by_key(|&i| chain[i]).unwrap();
        chain.rotate_left(smallest);
        chain.push(chain[0]);
        cycles.insert(chain.join(" -> "));
    }
    cycles.into_iter().collect()
}

#[test]
fn no_import_cycle_anywhere_in_host_src() {
    let cycles = import_cycles(&module_graph());
    assert!(
        cycles.is_empty(),
        "import cycles in host/src (move what both sides need into a module of its own):\n{}",
        cycles.join("\n")
    );
}

#[test]
fn a_cycle_is_found_and_printed_once() {
    let edges = |pairs: &[(&str, &str)]| {
        let mut graph =
            std::collections::BTreeMap::<String, std::collections::BTreeSet<String>>::new();
        for (from, to) in pairs {
            graph
                .entry(from.to_string())
                .or_default()
                .insert(to.to_string());
            graph.entry(to.to_string()).or_default();
        }
        graph
    };
    let looped = edges(&[("c", "a"), ("a", "b"), ("b", "c"), ("b", "d")]);
    assert_eq!(import_cycles(&looped), ["a -> b -> c -> a"]);
    let acyclic = edges(&[("a", "b"), ("b", "c"), ("a", "c")]);
    assert!(import_cycles(&acyclic).is_empty());
}

#[test]
fn the_module_graph_sees_crate_and_super_paths() {
    assert_eq!(
        crate_paths(
            "use crate::{cli::x, app}; crate::error::Result",
            "agents::gc"
        ),
        ["cli::x", "app", "error::Result"]
    );
    assert_eq!(
        crate_paths("use super::host::Host;", "agents::gc"),
        ["agents::host::Host"]
    );
    assert_eq!(crate_paths("use super::Foo;", "agents"), ["Foo"]);
    let graph = module_graph();
    assert!(graph["cli::agents::create"].contains("agents::placement"));
    assert!(graph["agents::gc"].contains("agents::host"));
}
