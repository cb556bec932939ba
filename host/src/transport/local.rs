//! The local transport: this machine, through `std::process` and the filesystem.

use super::{
    CommandOutput, HOLDER_FILE, HostLockGuard, LOCK_NOTICE_AFTER, LockWait, PushOptions, Transport,
    TransportError, TransportResult, holder_line, lock_timeout,
};
use crate::paths::write_atomic;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Default, Clone)]
pub struct LocalTransport;

impl LocalTransport {
    pub fn new() -> Self {
        LocalTransport
    }
}

fn exit_code(status: ExitStatus) -> i32 {
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

struct LocalLock {
    _file: File,
}

impl HostLockGuard for LocalLock {}

fn flock(file: &File, flags: libc::c_int) -> std::io::Result<()> {
    // SAFETY: flock on a valid, open file descriptor owned by `file`.
    let rc = unsafe { libc::flock(file.as_raw_fd(), flags) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn bump_generation(host_dir: &Path) -> std::io::Result<()> {
    let path = host_dir.join("host_lock.generation");
    let current = std::fs::read_to_string(&path)
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(0);
    write_atomic(&path, (current + 1).to_string().as_bytes(), None)
}

impl Transport for LocalTransport {
    fn run(&self, script: &str, timeout: Option<Duration>) -> TransportResult<CommandOutput> {
        let mut command = Command::new("sh");
        command.arg("-c").arg(script).stdin(Stdio::null());
        let Some(timeout) = timeout else {
            let out = command.output()?;
            return Ok(CommandOutput {
                exit_code: exit_code(out.status),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            });
        };
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let mut stdout = child.stdout.take().expect("piped");
        let mut stderr = child.stderr.take().expect("piped");
        let out_reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stdout.read_to_end(&mut buf);
            buf
        });
        let err_reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stderr.read_to_end(&mut buf);
            buf
        });
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(TransportError::Timeout(format!(
                    "command did not finish within {} s",
                    timeout.as_secs_f64()
                )));
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        Ok(CommandOutput {
            exit_code: exit_code(status),
            stdout: String::from_utf8_lossy(&out_reader.join().unwrap_or_default()).into_owned(),
            stderr: String::from_utf8_lossy(&err_reader.join().unwrap_or_default()).into_owned(),
        })
    }

    fn read_file(&self, path: &str) -> TransportResult<Option<Vec<u8>>> {
        match std::fs::read(path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(TransportError::Io(format!("reading {path}: {e}"))),
        }
    }

    fn write_file(&self, path: &str, data: &[u8], mode: Option<u32>) -> TransportResult<()> {
        write_atomic(Path::new(path), data, mode)
            .map_err(|e| TransportError::Io(format!("writing {path}: {e}")))
    }

    /// A Rust copy ([`super::local_copy`]): no `rsync` program needed on this machine.
    fn push_dir(&self, src: &Path, dest: &str, options: &PushOptions) -> TransportResult<()> {
        super::local_copy::copy_tree(src, Path::new(dest), options)
            .map_err(|e| TransportError::Io(format!("copying {} to {dest}: {e}", src.display())))
    }

    fn lock_host(
        &self,
        host_dir: &str,
        wait: &LockWait,
    ) -> TransportResult<Box<dyn HostLockGuard>> {
        let dir = Path::new(host_dir);
        crate::paths::private_dir(dir)
            .map_err(|e| TransportError::Io(format!("creating {host_dir}: {e}")))?;
        let path = dir.join("host_lock");
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| TransportError::Io(format!("opening {}: {e}", path.display())))?;
        let holder = || {
            std::fs::read_to_string(dir.join(HOLDER_FILE))
                .ok()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "another process (it left no holder line)".to_string())
        };
        // Polled, not blocking: the wait is told about, bounded, and ends on a signal.
        let started = Instant::now();
        let mut told = false;
        loop {
            match flock(&file, libc::LOCK_EX | libc::LOCK_NB) {
                Ok(()) => break,
                Err(e) if e.raw_os_error() == Some(libc::EWOULDBLOCK) => {
                    if crate::interrupt::signal().is_some() {
                        return Err(TransportError::Interrupted);
                    }
                    let waited = started.elapsed();
                    if let Some(timeout) = wait.timeout
                        && waited >= timeout
                    {
                        return Err(lock_timeout(&path.to_string_lossy(), timeout, &holder()));
                    }
                    if !told && waited >= LOCK_NOTICE_AFTER {
                        (wait.on_wait)(&holder());
                        told = true;
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => return Err(e.into()),
            }
        }
        write_atomic(&dir.join(HOLDER_FILE), holder_line().as_bytes(), None)?;
        bump_generation(dir)?;
        Ok(Box::new(LocalLock { _file: file }))
    }

    fn run_interactive(&self, script: &str) -> TransportResult<i32> {
        let status = Command::new("sh").arg("-c").arg(script).status()?;
        Ok(exit_code(status))
    }

    fn is_local(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_scripts_and_reports_exit_codes() {
        let t = LocalTransport::new();
        let out = t.run("echo hi; echo err >&2; exit 3", None).unwrap();
        assert_eq!(
            (out.exit_code, out.stdout.as_str(), out.stderr.as_str()),
            (3, "hi\n", "err\n")
        );
        let out = t.run("echo fast", Some(Duration::from_secs(5))).unwrap();
        assert_eq!(out.stdout, "fast\n");
        let err = t
            .run("sleep 5", Some(Duration::from_millis(50)))
            .unwrap_err();
        assert!(matches!(err, TransportError::Timeout(_)));
    }

    #[test]
    fn writes_atomically_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let t = LocalTransport::new();
        let path = dir.path().join("a/b/file");
        let path = path.to_str().unwrap();
        assert!(t.read_file(path).unwrap().is_none());
        t.write_file(path, b"one", Some(0o600)).unwrap();
        t.write_file(path, b"two", None).unwrap();
        assert_eq!(t.read_file(path).unwrap().unwrap(), b"two");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("a/b")).unwrap().collect();
        assert_eq!(leftovers.len(), 1);
    }

    #[test]
    fn host_lock_excludes_a_second_holder_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let host_dir = dir.path().to_str().unwrap();
        let t = LocalTransport::new();
        let guard = t.lock_host(host_dir, &LockWait::quietly(None)).unwrap();
        let err = t
            .lock_host(
                host_dir,
                &LockWait::quietly(Some(Duration::from_millis(30))),
            )
            .err()
            .expect("second lock must wait");
        // The holder is named: this process.
        let TransportError::LockTimeout(message) = err else {
            panic!("{err:?}")
        };
        assert!(
            message.contains(&format!("pid {}", std::process::id())),
            "{message}"
        );
        drop(guard);
        let _again = t
            .lock_host(host_dir, &LockWait::quietly(Some(Duration::from_secs(1))))
            .unwrap();
        let generation = std::fs::read_to_string(dir.path().join("host_lock.generation")).unwrap();
        assert_eq!(generation, "2");
    }

    #[test]
    fn push_dir_copies_everything_or_only_listed_files() {
        let src = tempfile::tempdir().unwrap();
        let dst = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(src.path().join("sub")).unwrap();
        std::fs::write(src.path().join("sub/a"), "a").unwrap();
        std::fs::write(src.path().join("b"), "b").unwrap();
        std::fs::write(src.path().join("skip.log"), "x").unwrap();
        let t = LocalTransport::new();
        let all = dst.path().join("all");
        let options = PushOptions {
            excludes: vec!["*.log".into()],
            files: None,
        };
        t.push_dir(src.path(), all.to_str().unwrap(), &options)
            .unwrap();
        assert!(all.join("sub/a").exists() && all.join("b").exists());
        assert!(!all.join("skip.log").exists());
        let some = dst.path().join("some");
        let options = PushOptions {
            excludes: vec![],
            files: Some(vec!["sub/a".into()]),
        };
        t.push_dir(src.path(), some.to_str().unwrap(), &options)
            .unwrap();
        assert!(some.join("sub/a").exists() && !some.join("b").exists());
    }
}
