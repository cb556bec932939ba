//! Debug timings (`mngr -v`): how long each step of a command took, on stderr. Deep layers
//! (transports, the agent layer) report through here without carrying the options around.

use std::sync::atomic::{AtomicI8, Ordering};
use std::time::Instant;

/// -1 quiet, 0 normal, 2 debug (-v), 3 trace (-vv): the levels of `StderrServices`.
static VERBOSITY: AtomicI8 = AtomicI8::new(0);

/// The verbosity for `-q` / `-v` counts.
pub fn verbosity_of(quiet: bool, verbose: u8) -> i8 {
    match (quiet, verbose) {
        (true, _) => -1,
        (false, 0) => 0,
        (false, n) => (n as i8).saturating_add(1).min(3),
    }
}

pub fn set_verbosity(level: i8) {
    VERBOSITY.store(level, Ordering::Relaxed);
}

fn verbosity() -> i8 {
    VERBOSITY.load(Ordering::Relaxed)
}

/// Print `debug: WHAT took N ms` when debugging. `what` is only built then, so callers on hot
/// paths pay nothing otherwise.
pub fn report(what: impl FnOnce() -> String, since: Instant) {
    if verbosity() >= 2 {
        eprintln!("debug: {} took {} ms", what(), since.elapsed().as_millis());
    }
}

/// Print `debug: LINE` when debugging (`-v`): a fact worth explaining, not a timing.
pub fn debug(line: impl FnOnce() -> String) {
    if verbosity() >= 2 {
        eprintln!("debug: {}", line());
    }
}

/// Time a closure's run (see [`report`]).
pub fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    report(|| what.to_string(), start);
    out
}
