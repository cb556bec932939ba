//! One VPS as a real machine: a Docker-in-Docker container from the VPS image, reached on
//! its own 127.0.0.N (through the stand-in's relay, see relay.rs), with its inner Docker's data on a volume of its own. Started the way this
//! engine allows (`--privileged` is refused here: every capability but SYS_RESOURCE instead).

use crate::docker::{DockerResult, Input, docker, docker_with};
use std::net::Ipv4Addr;
use std::path::Path;

/// Labels every object the stand-in makes carries, so a later run can sweep what a killed one
/// left behind.
pub const LABEL: &str = "mngr-vultr-standin";
pub const PID_LABEL: &str = "mngr-vultr-standin.pid";

/// The flags that let Docker run inside the container on this engine (see
/// /work/shared/spec/vultr-cloudinit.md §2.7).
const DIND_FLAGS: [&str; 4] = [
    "--cap-add=ALL",
    "--cap-drop=SYS_RESOURCE",
    "--security-opt=seccomp=unconfined",
    "--security-opt=apparmor=unconfined",
];
/// A VPS also has an init reaping orphans and a /run that a reboot empties.
const BOOT_FLAGS: [&str; 2] = ["--init", "--tmpfs=/run:exec"];

/// Where cloud-init's NoCloud datasource looks for its seed.
const SEED_DIR: &str = "/var/lib/cloud/seed/nocloud";

pub struct Machine {
    pub container: String,
    pub volume: String,
    pub address: Ipv4Addr,
    /// The listeners on `address`; the container publishes on the relay's back address.
    _relay: crate::relay::Relay,
}

/// The names one stand-in process gives its objects.
pub fn container_name(instance_id: &str) -> String {
    format!("vultr-standin-{instance_id}")
}

pub fn labels() -> Vec<String> {
    vec![
        format!("--label={LABEL}=1"),
        format!("--label={PID_LABEL}={}", std::process::id()),
    ]
}

impl Machine {
    pub fn new(instance_id: &str, address: Ipv4Addr, relay: crate::relay::Relay) -> Machine {
        Machine {
            container: container_name(instance_id),
            volume: format!("vultr-standin-{instance_id}-docker"),
            address,
            _relay: relay,
        }
    }

    /// The inner Docker's data volume, empty or a copy of a snapshot's.
    pub async fn create_volume(
        &self,
        copy_of: Option<&str>,
        tools_image: &str,
    ) -> DockerResult<()> {
        let mut args = vec!["volume".to_string(), "create".to_string()];
        args.extend(labels());
        args.push(self.volume.clone());
        docker(&as_strs(&args)).await?;
        if let Some(source) = copy_of {
            copy_volume(source, &self.volume, tools_image).await?;
        }
        Ok(())
    }

    /// Create and start the container from `image`, named `hostname`.
    pub async fn run(&self, image: &str, hostname: &str) -> DockerResult<()> {
        let mut args: Vec<String> = vec!["run".into(), "-d".into()];
        args.push(format!("--name={}", self.container));
        args.push(format!("--hostname={hostname}"));
        args.extend(labels());
        args.extend(DIND_FLAGS.iter().chain(&BOOT_FLAGS).map(|s| s.to_string()));
        args.push(format!("--volume={}:/var/lib/docker", self.volume));
        let back = crate::relay::back_address(self.address);
        for port in crate::addresses::VPS_PORTS {
            args.push(format!("--publish={back}:{port}:{port}"));
        }
        args.push(image.to_string());
        docker(&as_strs(&args)).await.map(|_| ())
    }

    /// Run a command inside as root, feeding `input`; its stdout.
    pub async fn exec(&self, command: &[&str], input: Input<'_>) -> DockerResult<String> {
        let mut args = vec!["exec", "-i", self.container.as_str()];
        args.extend_from_slice(command);
        docker_with(&args, input).await
    }

    /// Put the NoCloud seed in place (0600: user_data may carry private keys).
    pub async fn write_seed(&self, user_data: &[u8], meta_data: &str) -> DockerResult<()> {
        for (name, content) in [
            ("user-data", user_data),
            ("meta-data", meta_data.as_bytes()),
        ] {
            let script = format!(
                "umask 077 && mkdir -p {SEED_DIR} && cat > {SEED_DIR}/{name}.new && mv {SEED_DIR}/{name}.new {SEED_DIR}/{name}"
            );
            self.exec(&["sh", "-c", &script], Input::Bytes(content))
                .await?;
        }
        Ok(())
    }

    /// Load the images a VPS could pull into its inner Docker, from a `docker save` archive.
    pub async fn load_images(&self, archive: &Path) -> DockerResult<()> {
        self.exec(&["docker", "load", "--quiet"], Input::File(archive))
            .await
            .map(|_| ())
    }

    pub async fn stop(&self) -> DockerResult<()> {
        docker(&["stop", "--time=10", &self.container])
            .await
            .map(|_| ())
    }

    pub async fn start(&self) -> DockerResult<()> {
        docker(&["start", &self.container]).await.map(|_| ())
    }

    /// Commit the machine's disk to `image` and its inner Docker's data to `volume`.
    pub async fn snapshot(
        &self,
        image: &str,
        volume: &str,
        tools_image: &str,
    ) -> DockerResult<u64> {
        let label = format!("LABEL {LABEL}=1 {PID_LABEL}={}", std::process::id());
        docker(&["commit", "--change", &label, &self.container, image]).await?;
        let mut args = vec!["volume".to_string(), "create".to_string()];
        args.extend(labels());
        args.push(volume.to_string());
        docker(&as_strs(&args)).await?;
        copy_volume(&self.volume, volume, tools_image).await?;
        let size = docker(&["image", "inspect", "--format={{.Size}}", image]).await?;
        Ok(size.trim().parse().unwrap_or(0))
    }

    /// Remove the container (the machine is gone and its ports are free once this returns);
    /// already gone counts as done. Its volume is removed by [`remove_volume`].
    pub async fn destroy(&self) -> DockerResult<()> {
        remove_container(&self.container).await
    }
}

pub async fn remove_container(name: &str) -> DockerResult<()> {
    match docker(&["rm", "--force", "--volumes", name]).await {
        Err(e) if !e.0.contains("No such container") => Err(e),
        _ => Ok(()),
    }
}

pub async fn remove_volume(name: &str) -> DockerResult<()> {
    match docker(&["volume", "rm", "--force", name]).await {
        Err(e) if !e.0.contains("no such volume") => Err(e),
        _ => Ok(()),
    }
}

pub async fn remove_image(name: &str) -> DockerResult<()> {
    // --force untags even while an instance made from the snapshot still runs it, as Vultr
    // lets a snapshot go while its instances live on.
    match docker(&["rmi", "--force", name]).await {
        Err(e) if !e.0.contains("No such image") => Err(e),
        _ => Ok(()),
    }
}

/// Copy a volume's files, ownership, devices (overlay whiteouts) and xattrs into another,
/// through a throwaway container of the VPS image (it has tar, and the capabilities needed
/// for trusted.* xattrs).
async fn copy_volume(from: &str, to: &str, tools_image: &str) -> DockerResult<()> {
    let tar = "--xattrs --xattrs-include=* --numeric-owner";
    let script = format!("tar -C /from {tar} -cf - . | tar -C /to {tar} -xpf -");
    let from_mount = format!("--volume={from}:/from:ro");
    let to_mount = format!("--volume={to}:/to");
    let mut args = vec!["run", "--rm"];
    args.extend(DIND_FLAGS);
    args.extend([
        from_mount.as_str(),
        &to_mount,
        "--entrypoint=sh",
        tools_image,
        "-c",
        &script,
    ]);
    docker(&args).await.map(|_| ())
}

fn as_strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}
