//! Drives this machine's Docker Engine through the `docker` CLI. Every object the stand-in makes
//! carries its instance label, so cleanup finds them all.

use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

pub const LABEL_KEY: &str = "mngr-modal-standin";

#[derive(Clone)]
pub struct Docker {
    /// The value of [`LABEL_KEY`] on this instance's objects.
    pub instance: String,
}

impl Docker {
    pub fn label(&self) -> String {
        format!("{LABEL_KEY}={}", self.instance)
    }

    /// Runs `docker ARGS`, returning trimmed stdout or an error naming the command and its stderr.
    pub async fn run<I, S>(&self, args: I) -> Result<String, String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut command = Command::new("docker");
        command.args(args).env("DOCKER_BUILDKIT", "0");
        let output = command
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|e| format!("cannot run docker: {e}"))?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
        } else {
            Err(format!(
                "docker failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ))
        }
    }

    /// Runs `docker ARGS`, handing each output line (stdout and stderr) to `on_line`.
    pub async fn run_streaming(
        &self,
        args: Vec<String>,
        mut on_line: impl FnMut(String),
    ) -> Result<(), String> {
        let mut child = Command::new("docker")
            .args(&args)
            .env("DOCKER_BUILDKIT", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run docker: {e}"))?;
        let mut stdout = BufReader::new(child.stdout.take().expect("piped")).lines();
        let mut stderr = BufReader::new(child.stderr.take().expect("piped")).lines();
        let (mut out_open, mut err_open) = (true, true);
        while out_open || err_open {
            tokio::select! {
                line = stdout.next_line(), if out_open => match line {
                    Ok(Some(line)) => on_line(line),
                    _ => out_open = false,
                },
                line = stderr.next_line(), if err_open => match line {
                    Ok(Some(line)) => on_line(line),
                    _ => err_open = false,
                },
            }
        }
        let status = child.wait().await.map_err(|e| format!("docker: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!(
                "docker {} failed ({status})",
                args.first().map_or("", |a| a)
            ))
        }
    }

    pub async fn image_exists(&self, reference: &str) -> bool {
        self.run(["image", "inspect", "--format", "{{.Id}}", reference])
            .await
            .is_ok()
    }

    /// Removes every container and image this instance made (best effort).
    pub async fn remove_everything(&self) {
        let filter = format!("label={}", self.label());
        if let Ok(ids) = self.run(["ps", "-aq", "--filter", &filter]).await {
            let ids: Vec<&str> = ids.split_whitespace().collect();
            if !ids.is_empty() {
                let _ = self.run(["rm", "-f"].into_iter().chain(ids)).await;
            }
        }
        if let Ok(refs) = self
            .run([
                "images",
                "--format",
                "{{.Repository}}:{{.Tag}}",
                "--filter",
                &filter,
            ])
            .await
        {
            let refs: Vec<&str> = refs
                .split_whitespace()
                .filter(|r| !r.contains("<none>"))
                .collect();
            if !refs.is_empty() {
                let _ = self.run(["rmi", "-f"].into_iter().chain(refs)).await;
            }
        }
    }
}
