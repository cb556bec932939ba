//! The state volume: every host record and persisted agent record of an instance lives on a
//! named volume on the daemon, served by a small always-on state container. Any mngr pointed
//! at the same daemon (and prefix and instance name) therefore sees the same hosts; mngr keeps
//! nothing but a copy of each client key.
//!
//! Layout under `/mngr-state`:
//! `host_state/<host_id>.json` (the host record) and `host_state/<host_id>/<agent_id>.json`
//! (agent records, for listing while the host is stopped), `host_state/<host_id>/host_data.json`
//! (a copy of the host's data.json).

use crate::engine::{Engine, base64, block_on, shell_quote};
use crate::labels;
use crate::record::StoredHost;
use crate::scripts::STATE_CONTAINER_CMD;
use bollard::models::{ContainerCreateBody, HostConfig, RestartPolicy, RestartPolicyNameEnum};
use bollard::query_parameters::{CreateContainerOptions, RemoveContainerOptions};
use mngr_plugin_api::{ErrorKind, ProviderError, ProviderResult};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

const ROOT: &str = "/mngr-state";
const RECORD_SEPARATOR: &str = "\u{1e}";

pub struct StateStore {
    engine: Engine,
    /// Container and volume share this name: `<prefix>docker-state-<instance>`.
    pub name: String,
    instance: String,
    image: String,
    ready: AtomicBool,
}

impl StateStore {
    pub fn new(engine: Engine, prefix: &str, instance: &str, image: &str) -> StateStore {
        StateStore {
            engine,
            name: format!("{prefix}docker-state-{instance}"),
            instance: instance.to_string(),
            image: image.to_string(),
            ready: AtomicBool::new(false),
        }
    }

    /// Make sure the state container runs. With `create == false` (read paths) a missing
    /// container means nothing was ever created here: `Ok(false)`.
    pub async fn ensure(&self, create: bool) -> ProviderResult<bool> {
        if self.ready.load(Ordering::Acquire) {
            return Ok(true);
        }
        let inspect = self.engine.docker.inspect_container(&self.name, None).await;
        match inspect {
            Ok(info) => {
                let running = info.state.and_then(|s| s.running).unwrap_or(false);
                if !running {
                    // Our own infrastructure: bring it back rather than fail the listing.
                    self.engine
                        .call(
                            "starting the state container",
                            self.engine.docker.start_container(&self.name, None),
                        )
                        .await?;
                }
            }
            Err(e) => {
                let err = self.engine.error("looking up the state container", e);
                if err.kind != ErrorKind::NotFound {
                    return Err(err);
                }
                if !create {
                    return Ok(false);
                }
                self.create_container().await?;
            }
        }
        self.ready.store(true, Ordering::Release);
        Ok(true)
    }

    async fn create_container(&self) -> ProviderResult<()> {
        let image_ok = self.engine.docker.inspect_image(&self.image).await;
        if let Err(e) = image_ok {
            let err = self.engine.error("looking up the state image", e);
            return Err(if err.kind == ErrorKind::NotFound {
                missing_image(&self.image)
            } else {
                err
            });
        }
        let labels = HashMap::from([
            (
                labels::TYPE.to_string(),
                labels::STATE_CONTAINER.to_string(),
            ),
            (labels::PROVIDER.to_string(), self.instance.clone()),
        ]);
        let body = ContainerCreateBody {
            image: Some(self.image.clone()),
            entrypoint: Some(vec!["sh".into(), "-c".into()]),
            cmd: Some(vec![STATE_CONTAINER_CMD.to_string()]),
            labels: Some(labels),
            host_config: Some(HostConfig {
                binds: Some(vec![format!("{}:{ROOT}:rw", self.name)]),
                restart_policy: Some(RestartPolicy {
                    name: Some(RestartPolicyNameEnum::UNLESS_STOPPED),
                    maximum_retry_count: None,
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let options = CreateContainerOptions {
            name: Some(self.name.clone()),
            ..Default::default()
        };
        match self
            .engine
            .docker
            .create_container(Some(options), body)
            .await
        {
            Ok(_) => {}
            Err(e) => {
                let err = self.engine.error("creating the state container", e);
                // Another mngr made it at the same moment: use theirs.
                if err.kind != ErrorKind::AlreadyExists {
                    return Err(err);
                }
            }
        }
        let started = self.engine.docker.start_container(&self.name, None).await;
        if let Err(e) = started {
            let err = self.engine.error("starting the state container", e);
            if !err.message.contains("already started") {
                return Err(err);
            }
        }
        Ok(())
    }

    async fn exec_ok(&self, what: &str, script: &str) -> ProviderResult<Vec<u8>> {
        let (code, output) = self.engine.exec(&self.name, script).await?;
        if code != 0 {
            return Err(ProviderError::internal(format!(
                "{what} on the state volume failed (exit {code}): {}",
                String::from_utf8_lossy(&output).trim()
            )));
        }
        Ok(output)
    }

    /// Write files atomically (temp + rename), in one exec.
    async fn write_files(&self, files: &[(String, Vec<u8>)]) -> ProviderResult<()> {
        let mut script = String::from("set -e\n");
        for (path, data) in files {
            let full = format!("{ROOT}/{path}");
            let dir = full.rsplit_once('/').map(|(d, _)| d).unwrap_or(ROOT);
            let tmp = format!("{full}.tmp-{}", uuid::Uuid::new_v4().simple());
            script.push_str(&format!(
                "mkdir -p {d}\nprintf '%s' '{b}' | base64 -d > {t}\nmv -f {t} {f}\n",
                d = shell_quote(dir),
                b = base64(data),
                t = shell_quote(&tmp),
                f = shell_quote(&full),
            ));
        }
        self.exec_ok("writing records", &script).await.map(|_| ())
    }

    pub async fn write_host(&self, host: &StoredHost) -> ProviderResult<()> {
        let body = serde_json::to_vec_pretty(host).expect("records serialize");
        self.write_files(&[(format!("host_state/{}.json", host.host_id()), body)])
            .await
    }

    /// Every host record (unreadable ones are skipped).
    pub async fn read_hosts(&self) -> ProviderResult<Vec<StoredHost>> {
        let script = format!(
            "cd {ROOT} 2>/dev/null && [ -d host_state ] || exit 0\n\
             for f in host_state/*.json; do [ -e \"$f\" ] && cat \"$f\" && printf '{RECORD_SEPARATOR}'; done; true"
        );
        let out = self.exec_ok("reading host records", &script).await?;
        let text = String::from_utf8_lossy(&out);
        Ok(text
            .split(RECORD_SEPARATOR)
            .filter(|s| !s.trim().is_empty())
            .filter_map(|s| serde_json::from_str(s).ok())
            .collect())
    }

    pub async fn read_agents(&self, host_id: &str) -> ProviderResult<Vec<serde_json::Value>> {
        let script = format!(
            "cd {ROOT}/host_state/{host_id} 2>/dev/null || exit 0\n\
             for f in agent-*.json; do [ -e \"$f\" ] && cat \"$f\" && printf '{RECORD_SEPARATOR}'; done; true"
        );
        let out = self.exec_ok("reading agent records", &script).await?;
        let text = String::from_utf8_lossy(&out);
        Ok(text
            .split(RECORD_SEPARATOR)
            .filter(|s| !s.trim().is_empty())
            .filter_map(|s| serde_json::from_str(s).ok())
            .collect())
    }

    pub async fn write_host_file(
        &self,
        host_id: &str,
        file: &str,
        value: &serde_json::Value,
    ) -> ProviderResult<()> {
        let body = serde_json::to_vec_pretty(value).expect("json serializes");
        self.write_files(&[(format!("host_state/{host_id}/{file}"), body)])
            .await
    }

    pub async fn remove_host_file(&self, host_id: &str, file: &str) -> ProviderResult<()> {
        let path = format!("{ROOT}/host_state/{host_id}/{file}");
        self.exec_ok(
            "removing a record",
            &format!("rm -f {}", shell_quote(&path)),
        )
        .await
        .map(|_| ())
    }

    pub async fn delete_host(&self, host_id: &str) -> ProviderResult<()> {
        let script = format!("rm -rf {ROOT}/host_state/{host_id} {ROOT}/host_state/{host_id}.json");
        self.exec_ok("deleting a host record", &script)
            .await
            .map(|_| ())
    }

    /// Remove the state container and volume (when the instance's last host is gone).
    pub async fn remove(&self) -> ProviderResult<()> {
        self.ready.store(false, Ordering::Release);
        let options = RemoveContainerOptions {
            force: true,
            v: true,
            ..Default::default()
        };
        if let Err(e) = self
            .engine
            .docker
            .remove_container(&self.name, Some(options))
            .await
        {
            let err = self.engine.error("removing the state container", e);
            if err.kind != ErrorKind::NotFound {
                return Err(err);
            }
        }
        if let Err(e) = self
            .engine
            .docker
            .remove_volume(
                &self.name,
                None::<bollard::query_parameters::RemoveVolumeOptions>,
            )
            .await
        {
            let err = self.engine.error("removing the state volume", e);
            if err.kind != ErrorKind::NotFound {
                return Err(err);
            }
        }
        Ok(())
    }

    pub fn blocking_ensure(&self, create: bool) -> ProviderResult<bool> {
        block_on(self.ensure(create))
    }
}

pub fn missing_image(image: &str) -> ProviderError {
    ProviderError::invalid_input(format!(
        "image '{image}' does not exist on the Docker daemon, and mngr never pulls images"
    ))
    .with_hint(if image == crate::config::DEFAULT_IMAGE {
        "build it with scripts/build-base-image.sh".to_string()
    } else {
        format!("build or load '{image}' on the daemon (docker build / docker load), or set default_image")
    })
}
