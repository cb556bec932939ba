//! What every mngr host container shares, whichever daemon runs it: its PID 1 and the tar of
//! files (the kit's provisioning set) unpacked at its `/` before it first starts.

use crate::labels::{EXIT_IDLE_PAUSED, EXIT_MAX_AGE_PAUSED, EXIT_NO_AGENTS_STOPPED};
use mngr_plugin_api::{ProviderError, ProviderResult};
use mngr_provider_kit::provision::ProvisionFile;

/// PID 1 of a host container. It starts sshd once mngr has injected the keys (marker file),
/// marks boot activity, starts the idle watcher, and then waits. Signals say why it ended:
/// TERM (docker stop) exits 0; USR1 (idle), HUP (maximum lifetime reached) and USR2 (no agent
/// sessions left) exit with codes that `mngr list` reads back as PAUSED, PAUSED and STOPPED.
pub fn entrypoint(host_dir: &str) -> String {
    format!(
        "trap 'exit 0' TERM; trap 'exit {EXIT_IDLE_PAUSED}' USR1; trap 'exit {EXIT_MAX_AGE_PAUSED}' HUP; trap 'exit {EXIT_NO_AGENTS_STOPPED}' USR2; \
HD='{host_dir}'; mkdir -p /run/sshd \"$HD/activity\" \"$HD/logs\"; \
if [ -f /etc/ssh/mngr_host_provisioned ]; then /usr/sbin/sshd -o MaxSessions=100 -o PasswordAuthentication=no \
-o PermitRootLogin=prohibit-password -o UseDNS=no -o UsePAM=no -o PrintMotd=no -o PrintLastLog=no -E \"$HD/logs/sshd.log\"; fi; \
touch \"$HD/activity/boot\"; \
if [ -x \"$HD/commands/activity_watcher.sh\" ]; then \
nohup \"$HD/commands/activity_watcher.sh\" \"$HD\" >\"$HD/logs/activity_watcher.log\" 2>&1 & fi; \
tail -f /dev/null & wait"
    )
}

fn tar_header(size: u64, mode: u32, kind: tar::EntryType) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_size(size);
    header.set_mode(mode);
    header.set_uid(0);
    header.set_gid(0);
    header.set_entry_type(kind);
    header
}

fn tar_file(builder: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8], mode: u32) {
    let mut header = tar_header(data.len() as u64, mode, tar::EntryType::Regular);
    header.set_mtime(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
    );
    header.set_cksum();
    builder
        .append_data(&mut header, path, data)
        .expect("in-memory tar");
}

fn tar_dir(builder: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32) {
    let mut header = tar_header(0, mode, tar::EntryType::Directory);
    header.set_cksum();
    builder
        .append_data(&mut header, path, std::io::empty())
        .expect("in-memory tar");
}

/// The provisioning files as one tar to unpack at the container's `/` (`Engine::upload_tar`).
pub fn provisioning_tar(files: &[ProvisionFile]) -> ProviderResult<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    for file in files {
        let path = file.path.trim_start_matches('/');
        match &file.contents {
            Some(data) => tar_file(&mut b, path, data, file.mode),
            None => tar_dir(&mut b, path, file.mode),
        }
    }
    b.into_inner()
        .map_err(|e| ProviderError::internal(format!("packing provisioning files: {e}")))
}

/// A host container's provisioning files (the kit's set, the idle watcher stopping it
/// through PID 1, which exits with a code per signal, read back as the reason), as a tar to
/// unpack at its `/`.
pub fn host_files_tar<E>(
    host: &mngr_provider_kit::record::StoredHost<E>,
    host_dir: &str,
    session_prefix: &str,
) -> ProviderResult<Vec<u8>> {
    use mngr_provider_kit::provision::{ProvisionPlan, provisioning_files};
    let plan = ProvisionPlan {
        host_dir,
        login_home: "/root",
        session_prefix,
        stop: &mngr_provider_kit::watcher::StopAction::SignalInit,
    };
    provisioning_tar(&provisioning_files(host, &plan)?)
}

/// What a host container is made from, whichever daemon runs it.
pub struct HostContainer<'a> {
    /// The host's `-s` start args (`docker run` flags).
    pub start_args: &'a [String],
    pub image: &'a str,
    pub host_dir: &'a str,
    pub host_id: &'a str,
    pub host_name: &'a str,
    /// The provider instance that owns the host.
    pub provider: &'a str,
    pub tags: &'a std::collections::BTreeMap<String, String>,
    /// The operation under way, serialized, when the host record may not be written yet.
    pub pending: Option<String>,
    /// Where the container's port 22 is published on the daemon's machine.
    pub ssh_publish: bollard::models::PortBinding,
}

/// The `docker run` of a host container: its start args, mngr's labels, PID 1
/// ([`entrypoint`]) and sshd's port published as asked.
pub fn container_body(
    c: HostContainer<'_>,
) -> ProviderResult<bollard::models::ContainerCreateBody> {
    use crate::labels;
    let mut run = crate::run_args::parse_run_args(c.start_args)?;
    let mut container_labels = std::mem::take(&mut run.labels);
    container_labels.insert(labels::HOST_ID.into(), c.host_id.to_string());
    container_labels.insert(labels::HOST_NAME.into(), c.host_name.to_string());
    container_labels.insert(labels::PROVIDER.into(), c.provider.to_string());
    if let Some(pending) = c.pending {
        container_labels.insert(labels::PENDING.into(), pending);
    }
    container_labels.insert(
        labels::TAGS.into(),
        serde_json::to_string(c.tags).expect("tags serialize"),
    );
    let mut host_config = run.host_config;
    host_config
        .port_bindings
        .get_or_insert_with(std::collections::HashMap::new)
        .insert("22/tcp".into(), Some(vec![c.ssh_publish]));
    let mut exposed = run.exposed_ports;
    exposed.push("22/tcp".into());
    Ok(bollard::models::ContainerCreateBody {
        image: Some(c.image.to_string()),
        entrypoint: Some(vec!["sh".into(), "-c".into()]),
        cmd: Some(vec![entrypoint(c.host_dir)]),
        labels: Some(container_labels),
        env: (!run.env.is_empty()).then_some(run.env),
        exposed_ports: Some(exposed),
        hostname: run.hostname,
        domainname: run.domainname,
        user: run.user,
        working_dir: run.working_dir,
        stop_signal: run.stop_signal,
        stop_timeout: run.stop_timeout,
        host_config: Some(host_config),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels;

    #[test]
    fn a_host_container_carries_mngrs_labels_pid_1_and_the_published_sshd() {
        let tags = std::collections::BTreeMap::from([("team".to_string(), "infra".to_string())]);
        let start_args = ["--label=own=1".to_string(), "-e=A=1".to_string()];
        let body = container_body(HostContainer {
            start_args: &start_args,
            image: "mngr-base:bookworm",
            host_dir: "/mngr",
            host_id: "host-1",
            host_name: "box",
            provider: "docker",
            tags: &tags,
            pending: Some("{}".into()),
            ssh_publish: bollard::models::PortBinding {
                host_ip: Some("127.0.0.1".into()),
                host_port: Some(String::new()),
            },
        })
        .unwrap();
        let l = body.labels.unwrap();
        assert_eq!(l["own"], "1");
        assert_eq!(l[labels::HOST_ID], "host-1");
        assert_eq!(l[labels::HOST_NAME], "box");
        assert_eq!(l[labels::PROVIDER], "docker");
        assert_eq!(l[labels::PENDING], "{}");
        assert_eq!(l[labels::TAGS], r#"{"team":"infra"}"#);
        assert_eq!(body.image.as_deref(), Some("mngr-base:bookworm"));
        assert_eq!(body.cmd.unwrap(), [entrypoint("/mngr")]);
        assert_eq!(body.env.unwrap(), ["A=1"]);
        assert!(body.exposed_ports.unwrap().contains(&"22/tcp".to_string()));
        let bindings = body.host_config.unwrap().port_bindings.unwrap();
        let ssh = bindings["22/tcp"].as_ref().unwrap();
        assert_eq!(ssh[0].host_ip.as_deref(), Some("127.0.0.1"));
    }
}
