//! `mngr rename --host` through the real binary: the example `dirs` plugin renames its hosts,
//! the local provider refuses.

use crate::common::agents::AgentWorld;

#[test]
fn a_dirs_host_is_renamed_and_its_agent_follows_it() {
    let w = AgentWorld::new();
    w.create(&["fixer", "--in", "dirs", "--in-place", "--", "sleep", "1000"]);
    let host_of = |name: &str| w.agent(name).expect("listed")["host"]["name"].clone();
    assert_eq!(host_of("fixer"), "fixer");

    let dry = w.run(&["rename", "--host", "fixer.dirs", "box", "--dry-run"]);
    assert_eq!(dry.ok(), "Would rename host: fixer -> box\n");
    assert_eq!(host_of("fixer"), "fixer", "a dry run changes nothing");

    let run = w.run(&["rename", "--host", "fixer.dirs", "box"]);
    assert_eq!(run.ok(), "Renamed host: fixer -> box\n");
    assert_eq!(host_of("fixer"), "box");
    assert_eq!(w.agent("fixer").unwrap()["address"], "fixer@box.dirs");
    let again = w.run(&["rename", "--host", "box", "box"]);
    assert_eq!(again.ok(), "Host already named: box\n");

    let json = w.run(&["rename", "--host", "box.dirs", "fixer", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(json.ok()).expect("json");
    assert_eq!(
        (&v["old_name"], &v["new_name"]),
        (&"box".into(), &"fixer".into())
    );
    assert_eq!(v["provider"], "dirs");
    assert_eq!(v["host_id"], w.agent("fixer").unwrap()["host"]["id"]);

    w.run(&["destroy", "fixer"]).ok();
}

#[test]
fn renaming_a_host_is_refused_where_the_provider_cannot_and_for_bad_names() {
    let w = AgentWorld::new();
    for args in [
        &["rename", "--host", "localhost", "other"][..],
        &["rename", "--host", "localhost.local", "other", "--dry-run"][..],
    ] {
        let line = w.run(args).error_line(10);
        assert_eq!(
            line,
            "Error: provider 'local' cannot rename its hosts (host 'localhost')"
        );
    }
    let line = w
        .run(&["rename", "--host", "nosuch", "other"])
        .error_line(9);
    assert_eq!(line, "Error: no host named 'nosuch'");
    let line = w
        .run(&["rename", "--host", "localhost", "bad name"])
        .error_line(2);
    assert!(line.contains("bad name"), "{line}");
}
