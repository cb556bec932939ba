//! Commands run in a sandbox with `docker exec`, their output kept whole so a reader can
//! resume at any offset, as the router's `TaskExecStdioRead` allows.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{ChildStdin, Command};
use tokio::sync::watch;

/// One output stream of a command: all bytes so far, and whether it has ended.
#[derive(Clone, Default)]
pub struct OutputSoFar {
    pub data: Vec<u8>,
    pub closed: bool,
}

/// How a command ended.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ExitStatus {
    Code(i32),
    Signal(i32),
}

pub struct ExecRecord {
    pub stdout: watch::Sender<OutputSoFar>,
    pub stderr: watch::Sender<OutputSoFar>,
    pub exit: watch::Sender<Option<ExitStatus>>,
    stdin: tokio::sync::Mutex<StdinState>,
}

struct StdinState {
    pipe: Option<ChildStdin>,
    written: u64,
}

/// The commands of one sandbox, by the client's exec id.
/// How long past its timeout a command's `docker exec` may take to report the kill.
const KILL_GRACE: Duration = Duration::from_secs(5);

#[derive(Default)]
pub struct Execs {
    by_id: Mutex<HashMap<String, Arc<ExecRecord>>>,
}

/// What to run.
pub struct ExecSpec {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub workdir: Option<String>,
    pub timeout: Option<Duration>,
    pub pipe_stdout: bool,
    pub pipe_stderr: bool,
}

impl Execs {
    pub fn get(&self, exec_id: &str) -> Option<Arc<ExecRecord>> {
        self.by_id.lock().unwrap().get(exec_id).cloned()
    }

    /// Starts the command unless this exec id already started one (a retried start).
    pub fn start(&self, container: &str, exec_id: &str, spec: ExecSpec) -> Result<(), String> {
        if self.get(exec_id).is_some() {
            return Ok(());
        }
        let mut command = Command::new("docker");
        command.args(["exec", "-i"]);
        for (key, value) in &spec.env {
            command.args(["-e", &format!("{key}={value}")]);
        }
        if let Some(workdir) = &spec.workdir {
            command.args(["-w", workdir]);
        }
        command.arg(container);
        // Ending `docker exec` leaves its process running in the container: the command's
        // timeout is enforced inside, by coreutils' `timeout`, as Modal kills it there.
        if let Some(limit) = spec.timeout {
            command.args(["timeout", "-s", "KILL", &limit.as_secs().max(1).to_string()]);
        }
        command.args(&spec.args);
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot run docker exec: {e}"))?;
        let record = Arc::new(ExecRecord {
            stdout: watch::channel(OutputSoFar::default()).0,
            stderr: watch::channel(OutputSoFar::default()).0,
            exit: watch::channel(None).0,
            stdin: tokio::sync::Mutex::new(StdinState {
                pipe: child.stdin.take(),
                written: 0,
            }),
        });
        let stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        let out_task = tokio::spawn(collect(stdout, record.clone(), spec.pipe_stdout, |r| {
            &r.stdout
        }));
        let err_task = tokio::spawn(collect(stderr, record.clone(), spec.pipe_stderr, |r| {
            &r.stderr
        }));
        self.by_id
            .lock()
            .unwrap()
            .insert(exec_id.to_string(), record.clone());
        let timeout = spec.timeout;
        tokio::spawn(async move {
            let status = match timeout {
                // Past the limit and a grace, the `docker exec` client itself goes too.
                Some(limit) => match tokio::time::timeout(limit + KILL_GRACE, child.wait()).await {
                    Ok(status) => status.ok(),
                    Err(_) => {
                        let _ = child.kill().await;
                        None
                    }
                },
                None => child.wait().await.ok(),
            };
            let _ = tokio::join!(out_task, err_task);
            let exit = match status.and_then(|s| s.code()) {
                Some(code) => ExitStatus::Code(code),
                // Killed for its timeout.
                None => ExitStatus::Signal(9),
            };
            record.exit.send_replace(Some(exit));
        });
        Ok(())
    }
}

impl ExecRecord {
    /// Writes `data` at `offset` of stdin (bytes before what was written already are skipped,
    /// so a retried write is harmless), then closes stdin if `eof`.
    pub async fn write_stdin(&self, offset: u64, data: &[u8], eof: bool) -> Result<(), String> {
        let mut stdin = self.stdin.lock().await;
        if offset > stdin.written {
            return Err(format!(
                "stdin offset {offset} is past the {} bytes written",
                stdin.written
            ));
        }
        let skip = usize::try_from(stdin.written - offset)
            .unwrap_or(usize::MAX)
            .min(data.len());
        let fresh = &data[skip..];
        if !fresh.is_empty() {
            let pipe = stdin.pipe.as_mut().ok_or("stdin is closed")?;
            pipe.write_all(fresh)
                .await
                .map_err(|e| format!("stdin: {e}"))?;
            stdin.written += fresh.len() as u64;
        }
        if eof {
            stdin.pipe = None;
        }
        Ok(())
    }
}

/// Reads a pipe to its end into the record; a stream the client did not ask for is read and
/// dropped, so the command never blocks on a full pipe.
async fn collect(
    mut pipe: impl tokio::io::AsyncRead + Unpin,
    record: Arc<ExecRecord>,
    keep: bool,
    stream: fn(&ExecRecord) -> &watch::Sender<OutputSoFar>,
) {
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        match pipe.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) if keep => {
                stream(&record).send_modify(|out| out.data.extend_from_slice(&chunk[..n]))
            }
            Ok(_) => {}
        }
    }
    stream(&record).send_modify(|out| out.closed = true);
}
