//! Waiting for the host lock: a command says who holds it, and gives up after `lock_timeout`
//! with an error naming the holder. The lock is a real `flock` on the local host dir.

use crate::common;
use common::agents::AgentWorld;
use mngr::transport::local::LocalTransport;
use mngr::transport::{LockWait, Transport};
use std::time::{Duration, Instant};

#[test]
fn a_held_host_lock_is_named_while_waiting_and_the_wait_gives_up_after_lock_timeout() {
    let w = AgentWorld::new();
    // Any command that changes the host writes its holder line beside the lock.
    w.create(&["first", "--in-place", "--", "sleep", "1000"]);
    let holder = std::fs::read_to_string(w.root().join("host_lock.holder")).unwrap();
    assert!(holder.starts_with("`mngr create` (pid "), "{holder}");

    // This test process holds the lock, as another mngr would.
    let guard = LocalTransport::new()
        .lock_host(w.root().to_str().unwrap(), &LockWait::quietly(None))
        .unwrap();
    let me = format!("(pid {} on ", std::process::id());
    let start = Instant::now();
    let run = w.run(&[
        "-S",
        "lock_timeout=3",
        "create",
        "second",
        "--no-connect",
        "--in-place",
        "--",
        "sleep",
        "1000",
    ]);
    let took = start.elapsed();
    let line = run.error_line(1);
    assert!(
        line.contains("gave up after 3 s waiting for the host lock") && line.contains(&me),
        "{line}"
    );
    assert!(
        run.stderr.contains("hint: wait for that command to finish"),
        "{}",
        run.stderr
    );
    let waiting: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("Waiting for the host lock of host 'localhost', held by "))
        .collect();
    assert!(
        waiting.len() == 1 && waiting[0].contains(&me),
        "{}",
        run.stderr
    );
    assert!(
        took >= Duration::from_secs(3) && took < Duration::from_secs(20),
        "{took:?}"
    );
    assert!(w.agent("second").is_none());

    // Once the holder lets go, the same command goes through.
    drop(guard);
    w.create(&["second", "--in-place", "--", "sleep", "1000"]);
}

#[test]
fn lock_timeout_must_be_a_duration_in_range() {
    let w = AgentWorld::new();
    for (bad, why) in [
        ("0", "is out of range"),
        ("-1", "is not a duration"),
        ("'soon'", "is not a duration"),
        ("'2d'", "is out of range"),
    ] {
        let run = w.run(&["-S", &format!("lock_timeout={bad}"), "list"]);
        let line = run.error_line(8);
        assert!(
            line.contains("'lock_timeout' = ") && line.contains(why),
            "{bad}: {line}"
        );
    }
}
