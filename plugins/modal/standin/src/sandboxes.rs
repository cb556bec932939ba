//! Sandboxes are containers on this machine's Docker Engine. Each runs its entrypoint until it
//! exits, is terminated, or its timeout passes (then it is removed and reports TIMEOUT); each
//! open port is published on 127.0.0.1 and reported as its tunnel.

use crate::auth;
use crate::docker::Docker;
use crate::exec::Execs;
use crate::ids;
use mngr_modal_proto::client::generic_result::GenericStatus;
use mngr_modal_proto::client::network_access::NetworkAccessType;
use mngr_modal_proto::client::{GenericResult, Sandbox, SandboxTag, TunnelData};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::watch;

/// Modal's default when a create names no timeout.
const DEFAULT_TIMEOUT_SECS: u32 = 300;

pub struct SandboxRecord {
    pub id: String,
    pub task_id: String,
    pub app_id: String,
    pub name: Option<String>,
    pub image_id: String,
    pub container: String,
    pub created_at: f64,
    pub timeout_secs: u32,
    pub router_jwt: String,
    pub tags: Mutex<Vec<SandboxTag>>,
    pub tunnels: Vec<TunnelData>,
    /// Set once, when the sandbox ends (exit, terminate or timeout).
    pub result: watch::Sender<Option<GenericResult>>,
    pub execs: Execs,
}

impl SandboxRecord {
    pub fn finished(&self) -> Option<GenericResult> {
        self.result.borrow().clone()
    }

    /// Records how the sandbox ended, unless it already had; says whether this call did.
    fn finish(&self, result: GenericResult) -> bool {
        self.result.send_if_modified(|current| {
            if current.is_some() {
                return false;
            }
            *current = Some(result);
            true
        })
    }
}

/// What a create asks for, taken from either family's request.
pub struct CreateSpec {
    pub app_id: String,
    pub definition: Sandbox,
    pub env: Vec<(String, String)>,
    pub tags: Vec<SandboxTag>,
    pub v2: bool,
}

pub struct Sandboxes {
    docker: Docker,
    by_id: Mutex<HashMap<String, Arc<SandboxRecord>>>,
    last_created_at: Mutex<f64>,
}

impl Sandboxes {
    pub fn new(docker: Docker) -> Self {
        Sandboxes {
            docker,
            by_id: Mutex::new(HashMap::new()),
            last_created_at: Mutex::new(0.0),
        }
    }

    pub fn get(&self, id: &str) -> Option<Arc<SandboxRecord>> {
        self.by_id.lock().unwrap().get(id).cloned()
    }

    pub fn by_task(&self, task_id: &str) -> Option<Arc<SandboxRecord>> {
        self.by_id
            .lock()
            .unwrap()
            .values()
            .find(|s| s.task_id == task_id)
            .cloned()
    }

    /// Every sandbox, newest first.
    pub fn all(&self) -> Vec<Arc<SandboxRecord>> {
        let mut all: Vec<_> = self.by_id.lock().unwrap().values().cloned().collect();
        all.sort_by(|a, b| b.created_at.total_cmp(&a.created_at));
        all
    }

    /// Starts the container and its timeout; `image_ref` is the local image to run.
    pub async fn create(
        self: &Arc<Self>,
        spec: CreateSpec,
        image_ref: &str,
    ) -> Result<Arc<SandboxRecord>, String> {
        let definition = &spec.definition;
        let id = ids::sandbox(spec.v2);
        let task_id = ids::task(spec.v2);
        let container = format!("mngr-modal-{}", id.to_ascii_lowercase());
        let args = run_args(
            &self.docker,
            &container,
            &id,
            definition,
            &spec.env,
            image_ref,
        );
        self.docker.run(&args).await?;
        let mut tunnels = Vec::new();
        let open_ports = definition
            .open_ports_oneof
            .as_ref()
            .map(|oneof| match oneof {
                mngr_modal_proto::client::sandbox::OpenPortsOneof::OpenPorts(specs) => {
                    specs.ports.clone()
                }
            });
        for port in open_ports.unwrap_or_default() {
            match published_port(&self.docker, &container, port.port).await {
                Ok(host_port) => tunnels.push(TunnelData {
                    host: "127.0.0.1".into(),
                    port: host_port,
                    unencrypted_host: port.unencrypted.then(|| "127.0.0.1".to_string()),
                    unencrypted_port: port.unencrypted.then_some(host_port),
                    container_port: port.port,
                }),
                Err(e) => {
                    let _ = self.docker.run(["rm", "-f", container.as_str()]).await;
                    return Err(e);
                }
            }
        }
        let timeout_secs = match definition.timeout_secs {
            0 => DEFAULT_TIMEOUT_SECS,
            secs => secs,
        };
        let record = Arc::new(SandboxRecord {
            router_jwt: auth::router_jwt(&task_id),
            id: id.clone(),
            task_id,
            app_id: spec.app_id,
            name: definition.name.clone().filter(|n| !n.is_empty()),
            image_id: definition.image_id.clone(),
            container,
            created_at: self.next_created_at(),
            timeout_secs,
            tags: Mutex::new(spec.tags),
            tunnels,
            result: watch::channel(None).0,
            execs: Execs::default(),
        });
        self.by_id.lock().unwrap().insert(id, record.clone());
        self.watch_lifetime(record.clone());
        Ok(record)
    }

    /// Ends the sandbox as TERMINATED; returns the result it already had, if any.
    pub async fn terminate(&self, record: &SandboxRecord) -> Option<GenericResult> {
        let existing = record.finished();
        if record.finish(status_result(
            GenericStatus::Terminated,
            137,
            "Sandbox terminated",
        )) {
            let _ = self
                .docker
                .run(["rm", "-f", record.container.as_str()])
                .await;
        }
        existing
    }

    /// Waits up to `timeout` for the sandbox to end.
    pub async fn wait(&self, record: &SandboxRecord, timeout: Duration) -> Option<GenericResult> {
        let mut result = record.result.subscribe();
        let ended = tokio::time::timeout(timeout, result.wait_for(Option::is_some)).await;
        ended.ok().and_then(|r| r.ok()).and_then(|r| r.clone())
    }

    /// Created-at times are strictly increasing, so listing pages never skip or repeat one.
    fn next_created_at(&self) -> f64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let mut last = self.last_created_at.lock().unwrap();
        *last = if now > *last { now } else { *last + 1e-6 };
        *last
    }

    /// Ends the sandbox when its entrypoint exits or its timeout passes, whichever is first.
    fn watch_lifetime(self: &Arc<Self>, record: Arc<SandboxRecord>) {
        let docker = self.docker.clone();
        tokio::spawn(async move {
            let deadline = Duration::from_secs(u64::from(record.timeout_secs));
            let mut ended = record.result.subscribe();
            // If `docker wait` itself fails, only the timeout or an end recorded elsewhere remain.
            let exited = async {
                match docker.run(["wait", record.container.as_str()]).await {
                    Ok(code) => {
                        let code: i32 = code.parse().unwrap_or(-1);
                        let status = if code == 0 {
                            GenericStatus::Success
                        } else {
                            GenericStatus::Failure
                        };
                        status_result(status, code, "")
                    }
                    Err(_) => std::future::pending().await,
                }
            };
            let outcome = tokio::select! {
                _ = tokio::time::sleep(deadline) => Some(status_result(GenericStatus::Timeout, 124, "Sandbox timed out")),
                result = exited => Some(result),
                _ = ended.wait_for(Option::is_some) => None,
            };
            if let Some(result) = outcome
                && record.finish(result)
            {
                let _ = docker.run(["rm", "-f", record.container.as_str()]).await;
            }
        });
    }
}

pub fn status_result(status: GenericStatus, exitcode: i32, exception: &str) -> GenericResult {
    GenericResult {
        status: status.into(),
        exitcode,
        exception: exception.to_string(),
        ..Default::default()
    }
}

fn run_args(
    docker: &Docker,
    container: &str,
    id: &str,
    definition: &Sandbox,
    env: &[(String, String)],
    image_ref: &str,
) -> Vec<String> {
    let mut args: Vec<String> = ["run", "-d", "--name", container, "--label"]
        .map(String::from)
        .into();
    args.push(docker.label());
    args.extend(["--label".into(), format!("mngr-modal-sandbox={id}")]);
    if let Some(resources) = &definition.resources {
        let milli_cpu = resources.milli_cpu_max.max(resources.milli_cpu);
        if milli_cpu > 0 {
            args.push(format!("--cpus={}", f64::from(milli_cpu) / 1000.0));
        }
        let memory_mb = resources.memory_mb_max.max(resources.memory_mb);
        if memory_mb > 0 {
            args.push(format!("--memory={memory_mb}m"));
        }
    }
    let blocked = definition.block_network
        || definition
            .network_access
            .as_ref()
            .is_some_and(|n| n.network_access_type() == NetworkAccessType::Blocked);
    if blocked {
        args.push("--network=none".into());
    }
    if let Some(mngr_modal_proto::client::sandbox::OpenPortsOneof::OpenPorts(specs)) =
        &definition.open_ports_oneof
    {
        for port in &specs.ports {
            args.extend(["-p".into(), format!("127.0.0.1::{}", port.port)]);
        }
    }
    for (key, value) in env {
        args.extend(["-e".into(), format!("{key}={value}")]);
    }
    if let Some(workdir) = &definition.workdir {
        args.extend(["-w".into(), workdir.clone()]);
    }
    // Like Modal, a sandbox without an entrypoint stays up until it is ended.
    let entrypoint: Vec<String> = if definition.entrypoint_args.is_empty() {
        vec!["sleep".into(), "infinity".into()]
    } else {
        definition.entrypoint_args.clone()
    };
    args.extend([
        "--entrypoint".into(),
        entrypoint[0].clone(),
        image_ref.to_string(),
    ]);
    args.extend(entrypoint[1..].iter().cloned());
    args
}

/// The 127.0.0.1 port Docker published for the container's `port`.
async fn published_port(docker: &Docker, container: &str, port: u32) -> Result<u32, String> {
    let mapping = docker
        .run(["port", container, &format!("{port}/tcp")])
        .await?;
    mapping
        .lines()
        .find_map(|line| {
            line.trim()
                .strip_prefix("127.0.0.1:")
                .and_then(|p| p.parse().ok())
        })
        .ok_or_else(|| format!("no 127.0.0.1 mapping for port {port}: {mapping}"))
}
