//! Modal's objects as mngr uses them: the app, image layers, sandboxes of the V1 family
//! (`SandboxCreate` …, which takes GPUs), their tunnels and tags, and commands and filesystem
//! snapshots through the sandbox's task command router.

use crate::api::{self, Api};
use mngr_modal_proto::client as pb;
use mngr_modal_proto::task_command_router as tcr;
use mngr_modal_proto::task_command_router::task_command_router_client::TaskCommandRouterClient;
use mngr_plugin_api::{ErrorKind, ProviderError, ProviderResult};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio_stream::StreamExt;

/// How long a new sandbox may take to be scheduled.
const SCHEDULE_WAIT: Duration = Duration::from_secs(300);
/// How long an image layer may take to build.
const IMAGE_WAIT: Duration = Duration::from_secs(1800);
/// Snapshots are kept this long (Modal's clients ask for 30 days).
const SNAPSHOT_TTL_SECS: i64 = 30 * 24 * 3600;
const BUILDER_VERSION: &str = "2025.06";
/// How long a command in a sandbox may run by default (mngr's own commands are short).
pub const EXEC_TIMEOUT: Duration = Duration::from_secs(120);
/// Beyond a command's timeout, how long mngr waits for Modal to report it killed before it
/// gives up on the router itself.
const EXEC_GRACE: Duration = Duration::from_secs(15);

/// What a sandbox is made of.
#[derive(Debug, Clone, PartialEq)]
pub struct SandboxSpec {
    pub image_id: String,
    pub entrypoint: Vec<String>,
    pub milli_cpu: u32,
    pub memory_mb: u32,
    pub gpu: Option<String>,
    pub timeout_secs: u32,
    pub open_port: u32,
    pub tags: BTreeMap<String, String>,
}

/// A command's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecOutput {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn tag_list(tags: &BTreeMap<String, String>) -> Vec<pb::SandboxTag> {
    tags.iter()
        .map(|(k, v)| pb::SandboxTag {
            tag_name: k.clone(),
            tag_value: v.clone(),
        })
        .collect()
}

/// Whether a sandbox's result says it has ended (anything but "still running").
pub fn ended(result: Option<&pb::GenericResult>) -> bool {
    result.is_some_and(|r| r.status != pb::generic_result::GenericStatus::Unspecified as i32)
}

impl Api {
    fn environment(&self) -> String {
        self.credentials().environment.clone()
    }

    /// The app's id; `create` makes it when missing.
    pub async fn app_id(&self, name: &str, create: bool) -> ProviderResult<String> {
        let request = pb::AppGetOrCreateRequest {
            app_name: name.to_string(),
            environment_name: self.environment(),
            object_creation_type: if create {
                pb::ObjectCreationType::CreateIfMissing as i32
            } else {
                pb::ObjectCreationType::Unspecified as i32
            },
        };
        let response = self
            .unary("AppGetOrCreate", request, |mut c, r| async move {
                c.app_get_or_create(r).await
            })
            .await?;
        Ok(response.app_id)
    }

    /// One image layer: `commands` on top of `base` (an image id) or, without one, a
    /// Dockerfile starting `FROM <registry name>`. Waits for the build; its log is in the
    /// error when it fails.
    pub async fn image_layer(
        &self,
        app_id: &str,
        base: Option<&str>,
        commands: Vec<String>,
    ) -> ProviderResult<String> {
        let base_images = base
            .map(|id| {
                vec![pb::BaseImage {
                    image_id: id.to_string(),
                    docker_tag: "base".to_string(),
                }]
            })
            .unwrap_or_default();
        let request = pb::ImageGetOrCreateRequest {
            image: Some(pb::Image {
                base_images,
                dockerfile_commands: commands,
                gpu_config: Some(pb::GpuConfig::default()),
                ..Default::default()
            }),
            app_id: app_id.to_string(),
            namespace: pb::DeploymentNamespace::Workspace as i32,
            builder_version: BUILDER_VERSION.to_string(),
            ..Default::default()
        };
        let created = self
            .unary("ImageGetOrCreate", request, |mut c, r| async move {
                c.image_get_or_create(r).await
            })
            .await?;
        let done = |r: &pb::GenericResult| r.status != 0;
        let mut result = created.result.filter(done);
        let mut log = String::new();
        let start = Instant::now();
        while result.is_none() {
            if start.elapsed() > IMAGE_WAIT {
                return Err(ProviderError::new(
                    ErrorKind::Timeout,
                    format!(
                        "Modal image {} did not build within {} s",
                        created.image_id,
                        IMAGE_WAIT.as_secs()
                    ),
                ));
            }
            let request = self.request(
                pb::ImageJoinStreamingRequest {
                    image_id: created.image_id.clone(),
                    timeout: 55.0,
                    ..Default::default()
                },
                0,
            );
            let mut stream = self
                .grpc
                .clone()
                .image_join_streaming(request)
                .await
                .map_err(|s| api::status_error("ImageJoinStreaming", &s))?
                .into_inner();
            while let Some(message) = stream.next().await {
                let message = message.map_err(|s| api::status_error("ImageJoinStreaming", &s))?;
                for entry in &message.task_logs {
                    log.push_str(&entry.data);
                }
                if let Some(r) = message.result.filter(done) {
                    result = Some(r);
                    break;
                }
            }
        }
        let result = result.expect("loop ends with a result");
        if result.status != pb::generic_result::GenericStatus::Success as i32 {
            let tail: String = log
                .lines()
                .rev()
                .take(20)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n");
            return Err(ProviderError::new(
                ErrorKind::InvalidInput,
                format!(
                    "the Modal image failed to build: {}",
                    result.exception.trim()
                ),
            )
            .with_details(serde_json::json!({ "build_log": tail })));
        }
        Ok(created.image_id)
    }

    /// Create a sandbox and wait until it is scheduled: its id and task id.
    pub async fn create_sandbox(
        &self,
        app_id: &str,
        spec: &SandboxSpec,
    ) -> ProviderResult<(String, String)> {
        let gpu_config = match &spec.gpu {
            Some(gpu) => {
                let (kind, count) = match gpu.split_once(':') {
                    Some((kind, n)) => (kind, n.parse().unwrap_or(1)),
                    None => (gpu.as_str(), 1),
                };
                pb::GpuConfig {
                    gpu_type: kind.to_ascii_uppercase(),
                    count,
                }
            }
            None => pb::GpuConfig::default(),
        };
        let definition = pb::Sandbox {
            entrypoint_args: spec.entrypoint.clone(),
            image_id: spec.image_id.clone(),
            resources: Some(pb::Resources {
                memory_mb: spec.memory_mb,
                milli_cpu: spec.milli_cpu,
                gpu_config: Some(gpu_config),
                ..Default::default()
            }),
            timeout_secs: spec.timeout_secs,
            open_ports_oneof: Some(pb::sandbox::OpenPortsOneof::OpenPorts(pb::PortSpecs {
                ports: vec![pb::PortSpec {
                    port: spec.open_port,
                    unencrypted: true,
                    tunnel_type: None,
                }],
            })),
            network_access: Some(pb::NetworkAccess {
                network_access_type: pb::network_access::NetworkAccessType::Open as i32,
                ..Default::default()
            }),
            ..Default::default()
        };
        let request = pb::SandboxCreateRequest {
            app_id: app_id.to_string(),
            definition: Some(definition),
            environment_name: self.environment(),
            tags: tag_list(&spec.tags),
        };
        let created = self
            .unary("SandboxCreate", request, |mut c, r| async move {
                c.sandbox_create(r).await
            })
            .await?;
        let task_id = self.task_id(&created.sandbox_id).await?;
        Ok((created.sandbox_id, task_id))
    }

    /// The sandbox's task, once scheduled.
    pub async fn task_id(&self, sandbox_id: &str) -> ProviderResult<String> {
        let start = Instant::now();
        loop {
            let request = pb::SandboxGetTaskIdRequest {
                sandbox_id: sandbox_id.to_string(),
                timeout: Some(10.0),
                wait_until_ready: false,
            };
            let response = self
                .unary("SandboxGetTaskId", request, |mut c, r| async move {
                    c.sandbox_get_task_id(r).await
                })
                .await?;
            match response.task_id.filter(|t| !t.is_empty()) {
                Some(task) => return Ok(task),
                None if response.task_result.is_some() => {
                    return Err(ProviderError::new(
                        ErrorKind::Unavailable,
                        format!("Modal sandbox {sandbox_id} has already ended"),
                    ));
                }
                None if start.elapsed() > SCHEDULE_WAIT => {
                    return Err(ProviderError::new(
                        ErrorKind::Timeout,
                        format!(
                            "Modal sandbox {sandbox_id} was not scheduled within {} s",
                            SCHEDULE_WAIT.as_secs()
                        ),
                    ));
                }
                None => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
    }

    /// The address and port of the unencrypted tunnel to `port`.
    pub async fn tunnel(&self, sandbox_id: &str, port: u32) -> ProviderResult<(String, u16)> {
        let request = pb::SandboxGetTunnelsRequest {
            sandbox_id: sandbox_id.to_string(),
            timeout: 50.0,
        };
        let response = self
            .unary("SandboxGetTunnels", request, |mut c, r| async move {
                c.sandbox_get_tunnels(r).await
            })
            .await?;
        let tunnel = response
            .tunnels
            .iter()
            .find(|t| t.container_port == port)
            .and_then(|t| Some((t.unencrypted_host.clone()?, t.unencrypted_port?)))
            .ok_or_else(|| {
                ProviderError::new(
                    ErrorKind::Unavailable,
                    format!("Modal sandbox {sandbox_id} has no unencrypted tunnel to port {port}"),
                )
            })?;
        let port = u16::try_from(tunnel.1).map_err(|_| {
            ProviderError::internal(format!("tunnel port {} is out of range", tunnel.1))
        })?;
        Ok((tunnel.0, port))
    }

    /// The sandbox's state now: `None` while running, else how it ended.
    pub async fn sandbox_result(
        &self,
        sandbox_id: &str,
    ) -> ProviderResult<Option<pb::GenericResult>> {
        let request = pb::SandboxWaitRequest {
            sandbox_id: sandbox_id.to_string(),
            timeout: 0.0,
        };
        let response = self
            .unary("SandboxWait", request, |mut c, r| async move {
                c.sandbox_wait(r).await
            })
            .await?;
        Ok(response.result.filter(|r| ended(Some(r))))
    }

    /// The app's sandboxes that are still running (newest first, every page).
    pub async fn list_sandboxes(&self, app_id: &str) -> ProviderResult<Vec<pb::SandboxInfo>> {
        let mut all = Vec::new();
        let mut before = 0.0;
        loop {
            let request = pb::SandboxListRequest {
                app_id: app_id.to_string(),
                before_timestamp: before,
                environment_name: self.environment(),
                include_finished: false,
                tags: Vec::new(),
            };
            let page = self
                .unary("SandboxList", request, |mut c, r| async move {
                    c.sandbox_list(r).await
                })
                .await?
                .sandboxes;
            let Some(last) = page.last() else {
                return Ok(all);
            };
            before = last.created_at;
            all.extend(page);
        }
    }

    pub async fn set_sandbox_tags(
        &self,
        sandbox_id: &str,
        tags: &BTreeMap<String, String>,
    ) -> ProviderResult<()> {
        let request = pb::SandboxTagsSetRequest {
            environment_name: self.environment(),
            sandbox_id: sandbox_id.to_string(),
            tags: tag_list(tags),
        };
        self.unary("SandboxTagsSet", request, |mut c, r| async move {
            c.sandbox_tags_set(r).await
        })
        .await?;
        Ok(())
    }

    /// Delete an image (a snapshot); one already gone is fine.
    pub async fn delete_image(&self, image_id: &str) -> ProviderResult<()> {
        let request = pb::ImageDeleteRequest {
            image_id: image_id.to_string(),
        };
        match self
            .unary("ImageDelete", request, |mut c, r| async move {
                c.image_delete(r).await
            })
            .await
        {
            Err(e) if e.kind != ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// End a sandbox; one already gone is fine.
    pub async fn terminate(&self, sandbox_id: &str) -> ProviderResult<()> {
        let request = pb::SandboxTerminateRequest {
            sandbox_id: sandbox_id.to_string(),
        };
        match self
            .unary("SandboxTerminate", request, |mut c, r| async move {
                c.sandbox_terminate(r).await
            })
            .await
        {
            Err(e) if e.kind != ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// The task's command router: a client and the bearer token its calls carry.
    async fn router(&self, task_id: &str) -> ProviderResult<Router> {
        let request = pb::TaskGetCommandRouterAccessRequest {
            task_id: task_id.to_string(),
        };
        let access = self
            .unary(
                "TaskGetCommandRouterAccess",
                request,
                |mut c, r| async move { c.task_get_command_router_access(r).await },
            )
            .await?;
        // A plaintext control plane on loopback hands out `https://` router URLs it serves
        // plaintext; behind a TLS control plane the router speaks TLS too.
        let policy = if self.credentials().server_url.starts_with("http://") {
            api::HttpsPolicy::PlainOnLoopback
        } else {
            api::HttpsPolicy::Verified
        };
        let client = TaskCommandRouterClient::new(api::channel(&access.url, policy)?);
        Ok(Router {
            client,
            bearer: format!("Bearer {}", access.jwt),
            task_id: task_id.to_string(),
        })
    }

    /// Run `argv` in the sandbox and collect its output, within [`EXEC_TIMEOUT`].
    pub async fn exec(&self, task_id: &str, argv: Vec<String>) -> ProviderResult<ExecOutput> {
        self.exec_within(task_id, argv, EXEC_TIMEOUT).await
    }

    /// Run `argv` in the sandbox, killed by Modal once `limit` passes; a router that stops
    /// answering cannot hold mngr past `limit` plus a short grace either.
    pub async fn exec_within(
        &self,
        task_id: &str,
        argv: Vec<String>,
        limit: Duration,
    ) -> ProviderResult<ExecOutput> {
        let timed_out = || {
            ProviderError::new(
                ErrorKind::Timeout,
                format!(
                    "a command in Modal task {task_id} did not finish within {} s",
                    limit.as_secs()
                ),
            )
        };
        let started = Instant::now();
        let run = async { self.router(task_id).await?.exec(argv, limit).await };
        let output = tokio::time::timeout(limit + EXEC_GRACE, run)
            .await
            .map_err(|_| timed_out())??;
        // Killed by Modal for its timeout (SIGKILL): not the command's own answer.
        if output.code == 128 + 9 && started.elapsed() >= limit {
            return Err(timed_out());
        }
        Ok(output)
    }

    /// Snapshot the sandbox's filesystem: the new image's id.
    pub async fn snapshot_filesystem(&self, task_id: &str) -> ProviderResult<String> {
        let router = self.router(task_id).await?;
        let message = tcr::TaskSnapshotFilesystemRequest {
            task_id: task_id.to_string(),
            snapshot_id: uuid::Uuid::new_v4().to_string(),
            ttl_seconds: Some(SNAPSHOT_TTL_SECS),
            container_id: String::new(),
        };
        let response = api::with_retries("TaskSnapshotFilesystem", |_| {
            let request = router.request(message.clone());
            let mut client = router.client.clone();
            async move { client.task_snapshot_filesystem(request).await }
        })
        .await?;
        Ok(response.into_inner().image_id)
    }
}

struct Router {
    client: TaskCommandRouterClient<tonic::transport::Channel>,
    bearer: String,
    task_id: String,
}

impl Router {
    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Ok(value) = self.bearer.parse() {
            request.metadata_mut().insert("authorization", value);
        }
        request
    }

    async fn exec(&self, argv: Vec<String>, limit: Duration) -> ProviderResult<ExecOutput> {
        let exec_id = uuid::Uuid::new_v4().to_string();
        let start = tcr::TaskExecStartRequest {
            task_id: self.task_id.clone(),
            exec_id: exec_id.clone(),
            command_args: argv,
            stdout_config: tcr::TaskExecStdoutConfig::Pipe as i32,
            stderr_config: tcr::TaskExecStderrConfig::Pipe as i32,
            timeout_secs: Some(limit.as_secs().clamp(1, u64::from(u32::MAX)) as u32),
            ..Default::default()
        };
        // The exec id makes a retried start the same command.
        api::with_retries("TaskExecStart", |_| {
            let request = self.request(start.clone());
            let mut client = self.client.clone();
            async move { client.task_exec_start(request).await }
        })
        .await?;
        let (stdout, stderr) = tokio::try_join!(
            self.read(&exec_id, tcr::TaskExecStdioFileDescriptor::Stdout),
            self.read(&exec_id, tcr::TaskExecStdioFileDescriptor::Stderr)
        )?;
        let wait = tcr::TaskExecWaitRequest {
            task_id: self.task_id.clone(),
            exec_id,
        };
        // The router holds each wait a while and answers DEADLINE_EXCEEDED while the command
        // runs: wait again (the caller's deadline bounds the whole command).
        let status = loop {
            let outcome = api::with_retries("TaskExecWait", |_| {
                let request = self.request(wait.clone());
                let mut client = self.client.clone();
                async move { client.task_exec_wait(request).await }
            })
            .await;
            match outcome {
                Err(e) if e.kind == ErrorKind::Timeout => continue,
                other => break other?.into_inner(),
            }
        };
        let code = match status.exit_status {
            Some(tcr::task_exec_wait_response::ExitStatus::Code(code)) => code,
            Some(tcr::task_exec_wait_response::ExitStatus::Signal(signal)) => 128 + signal,
            None => -1,
        };
        Ok(ExecOutput {
            code,
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        })
    }

    async fn read(
        &self,
        exec_id: &str,
        fd: tcr::TaskExecStdioFileDescriptor,
    ) -> ProviderResult<Vec<u8>> {
        let mut out = Vec::new();
        let message = tcr::TaskExecStdioReadRequest {
            task_id: self.task_id.clone(),
            exec_id: exec_id.to_string(),
            offset: 0,
            file_descriptor: fd as i32,
        };
        let mut stream = self
            .client
            .clone()
            .task_exec_stdio_read(self.request(message))
            .await
            .map_err(|s| api::status_error("TaskExecStdioRead", &s))?
            .into_inner();
        while let Some(chunk) = stream.next().await {
            out.extend(
                chunk
                    .map_err(|s| api::status_error("TaskExecStdioRead", &s))?
                    .data,
            );
        }
        Ok(out)
    }
}
