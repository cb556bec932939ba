//! The Docker CLI, run as a child process: the stand-in is a test tool, and the CLI's own
//! messages are the clearest errors to hand on.

use std::path::Path;
use std::process::Stdio;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

#[derive(Debug)]
pub struct DockerError(pub String);

impl std::fmt::Display for DockerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub type DockerResult<T> = Result<T, DockerError>;

/// What a command's stdin is fed from.
pub enum Input<'a> {
    Nothing,
    Bytes(&'a [u8]),
    File(&'a Path),
}

/// Run `docker ARGS`, returning its stdout; a failure carries its stderr.
pub async fn docker(args: &[&str]) -> DockerResult<String> {
    docker_with(args, Input::Nothing).await
}

pub async fn docker_with(args: &[&str], input: Input<'_>) -> DockerResult<String> {
    let what = || args.iter().take(3).copied().collect::<Vec<_>>().join(" ");
    let mut command = Command::new("docker");
    command
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    match input {
        Input::Nothing => command.stdin(Stdio::null()),
        Input::Bytes(_) => command.stdin(Stdio::piped()),
        Input::File(path) => command.stdin(
            std::fs::File::open(path)
                .map_err(|e| DockerError(format!("opening {}: {e}", path.display())))?,
        ),
    };
    let mut child = command
        .spawn()
        .map_err(|e| DockerError(format!("running docker {}: {e}", what())))?;
    if let Input::Bytes(bytes) = input {
        let mut stdin = child.stdin.take().expect("stdin is piped");
        stdin
            .write_all(bytes)
            .await
            .map_err(|e| DockerError(format!("feeding docker {}: {e}", what())))?;
    }
    let output = child
        .wait_with_output()
        .await
        .map_err(|e| DockerError(format!("waiting for docker {}: {e}", what())))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(DockerError(format!(
            "docker {} failed ({}): {}",
            what(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}
