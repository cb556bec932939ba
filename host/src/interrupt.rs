//! Ctrl-C (SIGINT) and SIGTERM.
//!
//! Outside a guarded operation a signal ends mngr at once, as it would without a handler. While
//! an operation that changes things runs (an [`Undo`] or a [`guard`] is alive), the signal is
//! only noted: the operation sees it at its next [`check`] between steps, the steps it took are
//! undone in reverse order, and mngr exits 130 (SIGINT) or 143 (SIGTERM). A second signal ends
//! mngr at once; `mngr gc` removes what that leaves. A wait that runs until a signal comes
//! (`mngr forward`, under [`awaiting`]) notes it quietly and ends with the same exit codes.
//!
//! A terminal sends Ctrl-C to the whole foreground process group, so a git or rsync that mngr
//! runs dies of it too: an error while a signal is noted is the interruption, not the error
//! the child reported (see [`explain`]).

use crate::error::{ExitCode, MngrError, Result};
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};

/// The first signal received (0: none).
static SIGNAL: AtomicI32 = AtomicI32::new(0);
/// How many guarded operations are running.
static GUARDED: AtomicUsize = AtomicUsize::new(0);
/// How many waits that a signal ends (see [`awaiting`]) are running.
static AWAITING: AtomicUsize = AtomicUsize::new(0);

const NOTE: &[u8] =
    b"mngr: interrupted; undoing the step in progress (press Ctrl-C again to quit at once)\n";

extern "C" fn on_signal(sig: libc::c_int) {
    let first = SIGNAL
        .compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst)
        .is_ok();
    let guarded = GUARDED.load(Ordering::SeqCst) > 0;
    if !first || !(guarded || AWAITING.load(Ordering::SeqCst) > 0) {
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(128 + sig) };
    }
    if !guarded {
        // A wait that ends on a signal: its end is the normal one, nothing to say.
        return;
    }
    // SAFETY: write(2) on stderr is async-signal-safe; a failed write changes nothing.
    unsafe { libc::write(2, NOTE.as_ptr().cast(), NOTE.len()) };
}

/// Handle SIGINT and SIGTERM for the rest of the process (call once, at start).
pub fn install() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction with a plain handler and an empty mask is valid; the
        // handler only touches atomics and calls async-signal-safe functions.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, std::ptr::null_mut());
        }
    }
}

/// The signal received during a guarded operation, if any.
pub fn signal() -> Option<i32> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        sig => Some(sig),
    }
}

/// The error of an interrupted command.
fn interrupted(sig: i32) -> MngrError {
    let (code, name) = if sig == libc::SIGTERM {
        (ExitCode::Terminated, "SIGTERM")
    } else {
        (ExitCode::Interrupted, "SIGINT (Ctrl-C)")
    };
    MngrError::new(
        code,
        format!("interrupted by {name}: the step in progress was undone"),
    )
    .with_hint("mngr list shows what exists; run the command again to finish it")
}

/// `Err` when a signal came: the point between two steps where an operation stops.
pub fn check() -> Result<()> {
    match signal() {
        Some(sig) => Err(interrupted(sig)),
        None => Ok(()),
    }
}

/// An error as the user should see it: after a signal, the interruption.
pub fn explain(err: MngrError) -> MngrError {
    match signal() {
        Some(sig) if !matches!(err.code, ExitCode::Interrupted | ExitCode::Terminated) => {
            interrupted(sig)
        }
        _ => err,
    }
}

/// While alive, a signal is noted instead of ending mngr.
pub struct Guard(());

pub fn guard() -> Guard {
    GUARDED.fetch_add(1, Ordering::SeqCst);
    Guard(())
}

impl Drop for Guard {
    fn drop(&mut self) {
        GUARDED.fetch_sub(1, Ordering::SeqCst);
    }
}

/// While alive, a signal is noted (quietly) for a wait that runs until one comes, such as
/// `mngr forward`; the wait sees it in [`signal`], ends cleanly and reports [`ended`].
pub struct Awaiting(());

pub fn awaiting() -> Awaiting {
    AWAITING.fetch_add(1, Ordering::SeqCst);
    Awaiting(())
}

impl Drop for Awaiting {
    fn drop(&mut self) {
        AWAITING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// How a wait that a signal ended exits: 130 or 143 with nothing more printed.
pub fn ended(sig: i32) -> MngrError {
    let code = if sig == libc::SIGTERM {
        ExitCode::Terminated
    } else {
        ExitCode::Interrupted
    };
    MngrError::new(code, String::new())
}

/// The undo steps of an operation, registered as its steps are taken (each before the step
/// that needs it, so a step that fails half-way is undone too). Dropped without [`Undo::keep`]
/// (an error, or `?` on [`check`]), it runs them, last first. Guards against signals while alive.
pub struct Undo<'a> {
    steps: Vec<Box<dyn FnOnce() + 'a>>,
    _guard: Guard,
}

impl<'a> Undo<'a> {
    pub fn new() -> Undo<'a> {
        Undo {
            steps: Vec::new(),
            _guard: guard(),
        }
    }

    /// Register how to undo the step about to be taken.
    pub fn push(&mut self, step: impl FnOnce() + 'a) {
        self.steps.push(Box::new(step));
    }

    /// The operation succeeded: keep what it made.
    pub fn keep(mut self) {
        self.steps.clear();
    }
}

impl Default for Undo<'_> {
    fn default() -> Self {
        Undo::new()
    }
}

impl Drop for Undo<'_> {
    fn drop(&mut self) {
        while let Some(step) = self.steps.pop() {
            step();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[test]
    fn undo_runs_steps_last_first_unless_kept() {
        let log = RefCell::new(Vec::new());
        {
            let mut undo = Undo::new();
            undo.push(|| log.borrow_mut().push("first"));
            undo.push(|| log.borrow_mut().push("second"));
        }
        assert_eq!(*log.borrow(), ["second", "first"]);
        let mut undo = Undo::new();
        undo.push(|| log.borrow_mut().push("kept"));
        undo.keep();
        assert_eq!(log.borrow().len(), 2);
        assert_eq!(GUARDED.load(Ordering::SeqCst), 0);
    }
}
