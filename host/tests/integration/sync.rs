//! `mngr rsync` and `mngr git push|pull` through the real binary: round trips with a real
//! docker agent (binary files, symlinks, modes, deletions, a tree changing during the copy,
//! include/exclude, dry runs) and commits moved both ways; the system ssh refusing a host key
//! that is not the pinned one; the same commands on the local provider; and `create --from`
//! on this machine without the rsync program.

use crate::common;
use crate::docker_common::{DockerHost, DockerWorld};
use common::agents::AgentWorld;
use mngr::agents::sync::{RsyncPlan, Side, rsync_over};
use mngr::transport::connect;
use mngr_plugin_api::HostAccess;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Bytes that are not text: every byte value, in an order that does not repeat quickly.
fn binary_bytes(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

/// A tree with a binary file, an executable, symlinks (one dangling), a nested directory and
/// two logs.
fn make_tree(dir: &Path) -> Vec<u8> {
    std::fs::create_dir_all(dir.join("nested/deeper")).unwrap();
    let blob = binary_bytes(300_000, 7);
    std::fs::write(dir.join("nested/deeper/blob.bin"), &blob).unwrap();
    std::fs::write(dir.join("run.sh"), "#!/bin/sh\necho run\n").unwrap();
    std::fs::set_permissions(dir.join("run.sh"), std::fs::Permissions::from_mode(0o750)).unwrap();
    symlink("nested/deeper/blob.bin", dir.join("link")).unwrap();
    symlink("/does/not/exist", dir.join("dangling")).unwrap();
    std::fs::write(dir.join("keep.txt"), "keep\n").unwrap();
    std::fs::write(dir.join("debug.log"), "noise\n").unwrap();
    std::fs::write(dir.join("wanted.log"), "signal\n").unwrap();
    blob
}

fn changes(run: &common::Run) -> Vec<(String, String)> {
    run.ok();
    run.json()["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["change"].as_str().unwrap().to_string(),
                c["path"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn has(changes: &[(String, String)], kind: &str, path: &str) -> bool {
    changes.iter().any(|(k, p)| k == kind && p == path)
}

/// What a user checks after a copy back: same bytes, links and modes.
fn assert_same_tree(a: &Path, b: &Path) {
    for file in ["nested/deeper/blob.bin", "run.sh", "keep.txt"] {
        assert_eq!(
            std::fs::read(a.join(file)).unwrap(),
            std::fs::read(b.join(file)).unwrap(),
            "{file}"
        );
    }
    for link in ["link", "dangling"] {
        assert_eq!(
            std::fs::read_link(a.join(link)).unwrap(),
            std::fs::read_link(b.join(link)).unwrap()
        );
    }
    let mode = |p: &Path| std::fs::metadata(p).unwrap().mode() & 0o777;
    assert_eq!(mode(&b.join("run.sh")), 0o750);
}

#[test]
fn rsync_and_git_round_trips_with_a_docker_agent() {
    let mut d = DockerWorld::new();
    let repo = d.w.repo_with_commit();
    d.w.create(&["syncer", "--in", "docker", "--", "sleep", "100000"]);
    let w = &d.w;
    let data = w.path("data");
    let blob = make_tree(&data);
    let on_agent = |script: &str| w.run(&["exec", "syncer", script]).ok().to_string();

    // Into the work dir, logs excluded but one included back; the .git dir never travels.
    let run = w.run(&[
        "rsync",
        &format!("{}/", data.display()),
        "syncer:data/",
        "--include",
        "wanted.log",
        "--exclude",
        "*.log",
        "--format",
        "json",
    ]);
    let sent = changes(&run);
    assert!(has(&sent, "created", "nested/deeper/blob.bin"), "{sent:?}");
    assert!(has(&sent, "created", "link"), "{sent:?}");
    assert!(!sent.iter().any(|(_, p)| p == "debug.log"), "{sent:?}");
    let remote = on_agent(
        "cd data && sha256sum nested/deeper/blob.bin | cut -c1-16; readlink link; readlink dangling; \
         stat -c %a run.sh; cat wanted.log; test -e debug.log && echo LOG; echo end",
    );
    let local_sum = {
        let out = std::process::Command::new("sha256sum")
            .arg(data.join("nested/deeper/blob.bin"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)[..16].to_string()
    };
    assert_eq!(
        remote,
        format!("{local_sum}\nnested/deeper/blob.bin\n/does/not/exist\n750\nsignal\nend\n")
    );

    // A dry run reports the change and the deletion and changes nothing on the host.
    std::fs::write(data.join("keep.txt"), "changed here\n").unwrap();
    std::fs::remove_file(data.join("run.sh")).unwrap();
    let src = format!("{}/", data.display());
    let dry = changes(&w.run(&[
        "rsync",
        &src,
        "syncer:data",
        "--delete",
        "--dry-run",
        "--exclude",
        "*.log",
        "--format",
        "json",
    ]));
    assert!(has(&dry, "updated", "keep.txt"), "{dry:?}");
    assert!(has(&dry, "deleted", "run.sh"), "{dry:?}");
    assert_eq!(
        on_agent("cat data/keep.txt; test -e data/run.sh && echo here"),
        "keep\nhere\n"
    );

    // Without --dry-run: updated and deleted; an excluded file on the host stays.
    let real = changes(&w.run(&[
        "rsync",
        &src,
        "syncer:data",
        "--delete",
        "--exclude",
        "*.log",
        "--format",
        "json",
    ]));
    assert!(has(&real, "deleted", "run.sh"), "{real:?}");
    assert_eq!(
        on_agent("cat data/keep.txt; test -e data/run.sh || echo gone; cat data/wanted.log"),
        "changed here\ngone\nsignal\n"
    );

    // Back to this machine, by absolute path on the host, into a new directory.
    std::fs::write(data.join("run.sh"), "#!/bin/sh\necho run\n").unwrap();
    std::fs::set_permissions(data.join("run.sh"), std::fs::Permissions::from_mode(0o750)).unwrap();
    w.run(&["rsync", &src, "syncer:data/", "-q"]).ok();
    let work_dir = w.agent("syncer").unwrap()["work_dir"]
        .as_str()
        .unwrap()
        .to_string();
    let back = w.path("back");
    let run = w.run(&[
        "rsync",
        &format!("syncer:{work_dir}/data/"),
        back.to_str().unwrap(),
    ]);
    assert!(run.ok().contains("Copied syncer:"), "{}", run.stdout);
    assert_same_tree(&data, &back);
    assert_eq!(
        std::fs::read(back.join("nested/deeper/blob.bin")).unwrap(),
        blob
    );

    // A tree changing during the copy: files rewritten and removed while rsync runs. The copy
    // succeeds (a vanished file is a warning), and the next one brings the final state.
    let stop = Arc::new(AtomicBool::new(false));
    let churn_dir = data.clone();
    let churn = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut round = 0u32;
            while !stop.load(Ordering::Relaxed) {
                for i in 0..20 {
                    let path = churn_dir.join(format!("churn-{i}.bin"));
                    std::fs::write(&path, binary_bytes(50_000, round + i)).unwrap();
                    if (round + i).is_multiple_of(3) {
                        let _ = std::fs::remove_file(&path);
                    }
                }
                std::fs::write(churn_dir.join("growing.bin"), binary_bytes(400_000, round))
                    .unwrap();
                round += 1;
            }
        })
    };
    for _ in 0..3 {
        let run = w.run(&["rsync", &src, "syncer:data/", "-q"]);
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    stop.store(true, Ordering::Relaxed);
    churn.join().unwrap();
    w.run(&["rsync", &src, "syncer:data/", "--delete", "-q"])
        .ok();
    let local = std::process::Command::new("sh")
        .arg("-c")
        .arg("cd \"$0\" && sha256sum growing.bin churn-*.bin")
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(
        on_agent("cd data && sha256sum growing.bin churn-*.bin"),
        String::from_utf8_lossy(&local.stdout)
    );

    // Commits made inside the agent come here, and commits made here go back.
    let commit_on_agent = |file: &str, message: &str| {
        on_agent(&format!(
            "echo {file} > {file} && git add {file} && git -c user.name=agent -c user.email=a@example.invalid commit -qm '{message}'"
        ));
    };
    commit_on_agent("agent.txt", "from the agent");
    let run = w.run(&["git", "pull", "syncer"]);
    assert!(
        run.ok()
            .starts_with("Pulled new branch 'mngr/syncer' from syncer"),
        "{}",
        run.stdout
    );
    assert_eq!(
        w.git(&repo, &["log", "-1", "--format=%s", "mngr/syncer"]),
        "from the agent\n"
    );
    w.git(&repo, &["checkout", "-q", "mngr/syncer"]);
    std::fs::write(repo.join("here.txt"), "here\n").unwrap();
    w.git(&repo, &["add", "here.txt"]);
    w.git(&repo, &["commit", "-qm", "from here"]);
    let run = w.run(&["git", "push", "syncer", "--format", "json"]);
    assert_eq!(run.json()["branch"], "mngr/syncer", "{}", run.stderr);
    // The agent has the branch checked out: its files moved with it.
    assert_eq!(
        on_agent("git log -1 --format=%s; cat here.txt"),
        "from here\nhere\n"
    );

    // Diverged: refused both ways without --force, naming what to do.
    commit_on_agent("second.txt", "agent again");
    std::fs::write(repo.join("mine.txt"), "mine\n").unwrap();
    w.git(&repo, &["add", "mine.txt"]);
    w.git(&repo, &["commit", "-qm", "here again"]);
    let line = w.run(&["git", "push", "syncer"]).error_line(1);
    assert!(line.contains("diverged"), "{line}");
    let line = w.run(&["git", "pull", "syncer"]).error_line(1);
    assert!(line.contains("diverged"), "{line}");
    assert_eq!(on_agent("git log -1 --format=%s"), "agent again\n");
    w.run(&["git", "push", "syncer", "--force", "-q"]).ok();
    assert_eq!(
        on_agent("git log -1 --format=%s; cat mine.txt"),
        "here again\nmine\n"
    );

    // Bad sides are usage errors.
    let line = w.run(&["rsync", "a", "b"]).error_line(2);
    assert!(line.contains("names an agent"), "{line}");
    let line = w.run(&["rsync", "syncer:a", "syncer:b"]).error_line(2);
    assert!(line.contains("both"), "{line}");
    let line = w.run(&["rsync", "nobody:x", "."]).error_line(9);
    assert!(line.contains("nobody"), "{line}");

    d.w.run(&["destroy", "syncer", "--force"]).ok();
    d.assert_clean();
}

#[test]
fn rsync_through_the_system_ssh_refuses_a_host_key_that_is_not_the_pinned_one() {
    let host = DockerHost::create();
    let src = tempfile::tempdir().unwrap();
    std::fs::write(src.path().join("file"), "x").unwrap();
    let plan = RsyncPlan {
        source: Side::Here(format!("{}/", src.path().display())),
        dest: Side::OnHost("/tmp/pinned/".to_string()),
        includes: vec![],
        excludes: vec![],
        dry_run: false,
        delete: false,
    };
    let mut wrong = host.endpoint.clone();
    wrong.host_public_key =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl".into();
    let t = connect(&HostAccess::Ssh(wrong)).unwrap();
    let err = rsync_over(t.as_ref(), &plan, "the test host").unwrap_err();
    assert_eq!(err.code as i32, 6, "{}", err.message);
    assert!(
        err.message.contains("does not match the key pinned"),
        "{}",
        err.message
    );
    let right = connect(&HostAccess::Ssh(host.endpoint.clone())).unwrap();
    assert_eq!(
        right
            .run("test -e /tmp/pinned/file || echo absent", None)
            .unwrap()
            .stdout,
        "absent\n"
    );
    // The pinned key itself works.
    let changes = rsync_over(right.as_ref(), &plan, "the test host").unwrap();
    assert_eq!(changes.iter().filter(|c| c.path == "file").count(), 1);
    assert_eq!(right.run("cat /tmp/pinned/file", None).unwrap().stdout, "x");
}

#[test]
fn rsync_and_git_on_the_local_provider_use_local_paths() {
    let mut w = AgentWorld::new();
    let repo = w.repo_with_commit();
    w.create(&["here", "--copy", "--", "sleep", "100000"]);
    let data = w.path("data");
    make_tree(&data);
    let src = format!("{}/", data.display());
    w.run(&["rsync", &src, "here:data/", "-q"]).ok();
    let work_dir = w.agent("here").unwrap()["work_dir"]
        .as_str()
        .unwrap()
        .to_string();
    assert_same_tree(&data, &Path::new(&work_dir).join("data"));
    let back = w.path("back");
    w.run(&["rsync", "here:data/", back.to_str().unwrap(), "-q"])
        .ok();
    assert_same_tree(&data, &back);

    w.run(&[
        "exec",
        "here",
        "echo a > a.txt && git add a.txt && git commit -qm 'on the agent'",
    ])
    .ok();
    w.run(&["git", "pull", "here"]).ok();
    assert_eq!(
        w.git(&repo, &["log", "-1", "--format=%s", "mngr/here"]),
        "on the agent\n"
    );
    w.git(&repo, &["checkout", "-q", "mngr/here"]);
    std::fs::write(repo.join("b.txt"), "b\n").unwrap();
    w.git(&repo, &["add", "b.txt"]);
    w.git(&repo, &["commit", "-qm", "from here"]);
    w.run(&["git", "push", "here"]).ok();
    assert_eq!(
        std::fs::read_to_string(Path::new(&work_dir).join("b.txt")).unwrap(),
        "b\n"
    );
    let run = w.run(&["git", "push", "here"]);
    assert!(run.ok().contains("already up to date"), "{}", run.stdout);

    // Outside a repository, git says so.
    let out = w
        .command(&["git", "pull", "here"])
        .current_dir(w.path("data"))
        .output()
        .unwrap();
    let run = common::Run::from(out);
    let line = run.error_line(9);
    assert!(line.contains("not in a git repository"), "{line}");
    w.run(&["destroy", "here", "--force"]).ok();
}

#[test]
fn create_from_a_directory_on_this_machine_needs_no_rsync() {
    let w = AgentWorld::new();
    let source = w.path("plain");
    make_tree(&source);
    let no_rsync = w.path_without(&["rsync"]);
    let out = w
        .command(&[
            "create",
            "copied",
            "--no-connect",
            "--copy",
            "--from",
            source.to_str().unwrap(),
            "--",
            "sleep",
            "100000",
        ])
        .env("PATH", &no_rsync)
        .output()
        .unwrap();
    common::Run::from(out).ok();
    let work_dir = w.agent("copied").unwrap()["work_dir"]
        .as_str()
        .unwrap()
        .to_string();
    assert_same_tree(&source, Path::new(&work_dir));
    assert_eq!(
        std::fs::read_to_string(Path::new(&work_dir).join("debug.log")).unwrap(),
        "noise\n"
    );
    w.run(&["destroy", "copied", "--force"]).ok();
}
