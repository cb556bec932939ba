//! The Docker Engine client: bollard with a call timeout, errors mapped to provider errors,
//! and debug timings. It works with any daemon: a URL (`unix://`, `tcp://` with or without
//! TLS, `ssh://`), the local default, or streams a caller opens ([`Engine::over_connector`]).
//! Build and use it inside a tokio runtime (the provider kit's adapter runs one per plugin).

use crate::connector::Connector;
use bollard::Docker;
use bollard::errors::Error as DockerError;
use bollard::exec::{CreateExecResults, StartExecOptions, StartExecResults};
use bollard::models::ExecConfig;
use futures_util::StreamExt;
use mngr_plugin_api::{ErrorKind, HostServices, LogLevel, ProviderError, ProviderResult};
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

/// How long a single Engine call may take before the daemon counts as unreachable.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct Engine {
    pub docker: Docker,
    /// The daemon, as the user would recognise it in messages.
    pub daemon: String,
    /// Debug lines (`-v`) with how long Engine work took.
    pub services: Option<Arc<dyn HostServices>>,
}

impl Engine {
    /// A client for the daemon at `url`: empty for the local default (`DOCKER_HOST`
    /// honoured), else `unix://`, `tcp://` (with TLS when `tls_cert_dir` holds Docker's
    /// `ca.pem`, `cert.pem` and `key.pem`) or `ssh://`. Nothing is contacted yet.
    pub fn connect(
        url: &str,
        tls_cert_dir: Option<&Path>,
        services: Option<Arc<dyn HostServices>>,
    ) -> ProviderResult<Engine> {
        let (docker, daemon) = if url.is_empty() {
            let daemon = std::env::var("DOCKER_HOST")
                .unwrap_or_else(|_| "unix:///var/run/docker.sock".to_string());
            (Docker::connect_with_defaults(), daemon)
        } else if url.starts_with("ssh://") {
            let docker = crate::ssh_tunnel::docker_over_ssh(url)
                .map_err(|e| ProviderError::invalid_config(format!("'host' = '{url}': {e}")))?;
            (Ok(docker), url.to_string())
        } else if let Some(dir) = tls_cert_dir {
            let docker = Docker::connect_with_ssl(
                url,
                &dir.join("key.pem"),
                &dir.join("cert.pem"),
                &dir.join("ca.pem"),
                120,
                bollard::API_DEFAULT_VERSION,
            );
            (docker, url.to_string())
        } else {
            (Docker::connect_with_host(url), url.to_string())
        };
        let docker = docker.map_err(|e| {
            ProviderError::unavailable(format!(
                "cannot set up a client for the Docker daemon at {daemon}: {e}"
            ))
        })?;
        Ok(Engine {
            docker,
            daemon,
            services,
        })
    }

    /// A client whose requests go over streams `connector` opens (see `connector.rs`);
    /// `daemon` names the daemon in messages.
    pub fn over_connector<C: Connector>(
        connector: C,
        daemon: &str,
        services: Option<Arc<dyn HostServices>>,
    ) -> ProviderResult<Engine> {
        let docker = crate::connector::docker_over(connector).map_err(|e| {
            ProviderError::unavailable(format!(
                "cannot set up a client for the Docker daemon at {daemon}: {e}"
            ))
        })?;
        Ok(Engine {
            docker,
            daemon: daemon.to_string(),
            services,
        })
    }

    /// A debug line saying how long something took.
    pub fn timing(&self, what: &str, since: Instant) {
        if let Some(services) = &self.services {
            services.log(
                LogLevel::Debug,
                &format!("docker: {what} took {} ms", since.elapsed().as_millis()),
            );
        }
    }

    /// Map a bollard error: API answers keep their meaning, anything else means the daemon
    /// could not be reached.
    pub fn error(&self, what: &str, err: DockerError) -> ProviderError {
        match err {
            DockerError::DockerResponseServerError {
                status_code,
                message,
            } => {
                let kind = match status_code {
                    404 => ErrorKind::NotFound,
                    409 => ErrorKind::AlreadyExists,
                    400 => ErrorKind::InvalidInput,
                    _ => ErrorKind::Internal,
                };
                ProviderError::new(kind, format!("{what}: {}", message.trim()))
            }
            DockerError::DockerStreamError { error } => {
                ProviderError::internal(format!("{what}: {}", error.trim()))
            }
            DockerError::RequestTimeoutError => self.unreachable(what, "the request timed out"),
            other => self.unreachable(what, &other.to_string()),
        }
    }

    pub fn unreachable(&self, what: &str, why: &str) -> ProviderError {
        ProviderError::unavailable(format!(
            "cannot reach the Docker daemon at {} ({what}): {why}",
            self.daemon
        ))
        .with_hint("start Docker (or fix the provider's `host` setting), or disable this provider with is_enabled = false")
    }

    /// Await an Engine call with the call timeout, mapping its error.
    pub async fn call<T, F>(&self, what: &str, future: F) -> ProviderResult<T>
    where
        F: Future<Output = Result<T, DockerError>>,
    {
        match tokio::time::timeout(CALL_TIMEOUT, future).await {
            Ok(result) => result.map_err(|e| self.error(what, e)),
            Err(_) => Err(self.unreachable(what, "no answer within 30 s")),
        }
    }

    /// Await an Engine call whose object may already be gone: `None` then, which callers
    /// removing or probing something take as an answer. Unlike [`Engine::call`] there is no
    /// call timeout.
    pub async fn unless_gone<T, F>(&self, what: &str, future: F) -> ProviderResult<Option<T>>
    where
        F: Future<Output = Result<T, DockerError>>,
    {
        match future.await {
            Ok(value) => Ok(Some(value)),
            Err(e) => {
                let err = self.error(what, e);
                if err.kind == ErrorKind::NotFound {
                    Ok(None)
                } else {
                    Err(err)
                }
            }
        }
    }

    /// Remove a container and its anonymous volumes, running or not; absent is fine.
    pub async fn remove_container(&self, what: &str, id: &str) -> ProviderResult<()> {
        let options = bollard::query_parameters::RemoveContainerOptions {
            force: true,
            v: true,
            ..Default::default()
        };
        self.unless_gone(what, self.docker.remove_container(id, Some(options)))
            .await
            .map(|_| ())
    }

    /// Run `sh -c script` in a running container; returns (exit code, stdout+stderr).
    pub async fn exec(&self, container: &str, script: &str) -> ProviderResult<(i64, Vec<u8>)> {
        let exec_started = Instant::now();
        let config = ExecConfig {
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            cmd: Some(vec!["sh".to_string(), "-c".to_string(), script.to_string()]),
            working_dir: Some("/".to_string()),
            ..Default::default()
        };
        let CreateExecResults { id } = self
            .call(
                "creating an exec",
                self.docker.create_exec(container, config),
            )
            .await?;
        let started = self
            .call(
                "starting an exec",
                self.docker
                    .start_exec(&id, Some(StartExecOptions::default())),
            )
            .await?;
        let mut output = Vec::new();
        if let StartExecResults::Attached {
            output: mut stream, ..
        } = started
        {
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| self.error("reading exec output", e))?;
                output.extend_from_slice(chunk.as_ref());
            }
        }
        let inspect = self
            .call("inspecting an exec", self.docker.inspect_exec(&id))
            .await?;
        let first_line = script
            .lines()
            .find(|l| !l.trim().is_empty() && *l != "set -e")
            .unwrap_or("");
        let short: String = first_line.chars().take(50).collect();
        self.timing(&format!("exec `{short}`"), exec_started);
        Ok((inspect.exit_code.unwrap_or(-1), output))
    }
}
