//! How an instance's machine comes up, in the order a Debian VPS boots: the machine starts
//! (status active, an address, server_status installingbooting), its init steps run, Debian's
//! real cloud-init runs its stages one by one from the NoCloud seed, sshd starts once the
//! host keys are in place, and when the final stage is done server_status turns ok.

use crate::app::{App, Vps};
use crate::docker::{DockerResult, Input};
use crate::machine::Machine;
use crate::model::ServerStatus;
use std::sync::Arc;
use std::time::Instant;

/// Where a new machine's disk comes from.
pub enum Disk {
    /// The VPS image, with the inner images loaded into its empty Docker.
    Fresh,
    /// A snapshot: its committed image and its copy of the Docker volume.
    Snapshot { image: String, volume: String },
}

/// One step of a boot, each done under the machine's lock.
#[derive(Debug, Clone, Copy)]
enum Step {
    Seed,
    Network,
    Cgroups,
    Dockerd,
    LoadImages,
    CloudInit(&'static [&'static str]),
    Sshd,
}

/// The names `/__standin/boot-fault` accepts, as [`Step::name`] gives them.
pub const STEP_NAMES: [&str; 10] = [
    "seed",
    "network",
    "cgroups",
    "dockerd",
    "images",
    "cloud-init init --local",
    "cloud-init init",
    "sshd",
    "cloud-init modules --mode=config",
    "cloud-init modules --mode=final",
];

impl Step {
    fn name(self) -> String {
        match self {
            Step::Seed => "seed".into(),
            Step::Network => "network".into(),
            Step::Cgroups => "cgroups".into(),
            Step::Dockerd => "dockerd".into(),
            Step::LoadImages => "images".into(),
            Step::CloudInit(stage) => format!("cloud-init {}", stage.join(" ")),
            Step::Sshd => "sshd".into(),
        }
    }
}

/// The steps after the machine is running. The seed is written and the images loaded only on
/// the first boot; a restart runs cloud-init again, as a reboot does.
fn steps(first_boot: bool, fresh_disk: bool) -> Vec<Step> {
    let mut steps = Vec::new();
    if first_boot {
        steps.push(Step::Seed);
    }
    steps.extend([Step::Network, Step::Cgroups, Step::Dockerd]);
    if first_boot && fresh_disk {
        steps.push(Step::LoadImages);
    }
    steps.extend([
        Step::CloudInit(&["init", "--local"]),
        Step::CloudInit(&["init"]),
        // What systemd's ordering (cloud-init.service Before=sshd.service) gives a real VPS.
        Step::Sshd,
        Step::CloudInit(&["modules", "--mode=config"]),
        Step::CloudInit(&["modules", "--mode=final"]),
    ]);
    steps
}

/// Create the machine for a new instance and boot it.
/// `generation` comes from [`next_generation`], taken before the task is spawned so an older
/// boot still running sees at once that it was replaced.
pub async fn first_boot(app: Arc<App>, id: String, vps: Arc<Vps>, disk: Disk, generation: u64) {
    let started = Instant::now();
    {
        let mut slot = vps.machine.lock().await;
        if !app.store().instances.iter().any(|i| i.id == id) {
            return;
        }
        match create_machine(&app, &id, &disk).await {
            Ok(machine) => {
                let address = machine.address;
                *slot = Some(machine);
                app.update_instance(&id, |i| {
                    i.active = true;
                    i.running = true;
                    i.main_ip = Some(address);
                    i.server_status = ServerStatus::InstallingBooting;
                });
            }
            Err(e) => {
                app.boot_failed(&id, "machine", &e.0);
                return;
            }
        }
    }
    let fresh = matches!(disk, Disk::Fresh);
    run_steps(&app, &id, &vps, generation, steps(true, fresh), started).await;
}

/// Boot a machine again after `docker start` (start or reboot).
pub async fn boot_again(app: Arc<App>, id: String, vps: Arc<Vps>, generation: u64) {
    run_steps(
        &app,
        &id,
        &vps,
        generation,
        steps(false, false),
        Instant::now(),
    )
    .await;
}

pub fn next_generation(app: &App, id: &str) -> u64 {
    let mut store = app.store();
    store.boot_failures.remove(id);
    let counter = store.boots.entry(id.to_string()).or_insert(0);
    *counter += 1;
    *counter
}

async fn run_steps(
    app: &App,
    id: &str,
    vps: &Vps,
    generation: u64,
    steps: Vec<Step>,
    started: Instant,
) {
    let mut timings = vec![format!("machine {:.1}s", started.elapsed().as_secs_f64())];
    for step in steps {
        let step_started = Instant::now();
        let slot = vps.machine.lock().await;
        let current = {
            let store = app.store();
            store.instance(id).is_some_and(|i| i.running)
                && store.boots.get(id) == Some(&generation)
        };
        let Some(machine) = slot.as_ref().filter(|_| current) else {
            return; // deleted, halted or booted anew meanwhile
        };
        let injected = app.knobs().take_boot_fault(&step.name());
        let outcome = if injected {
            Err(crate::docker::DockerError(format!(
                "{} failed (injected through /__standin/boot-fault)",
                step.name()
            )))
        } else {
            run_step(app, id, machine, step).await
        };
        if let Err(e) = outcome {
            match step {
                // Injected: the boot stops here, whatever the step.
                _ if injected => {
                    app.boot_failed(id, &step.name(), &e.0);
                    return;
                }
                // A stage returns its error count; a VPS boots on regardless, as under systemd.
                Step::CloudInit(stage) => eprintln!(
                    "vultr-standin: instance {id}: cloud-init {} reported errors (see /var/log/cloud-init.log on the VPS): {}",
                    stage.join(" "),
                    first_line(&e.0)
                ),
                _ => {
                    app.boot_failed(id, &step.name(), &e.0);
                    return;
                }
            }
        }
        timings.push(format!(
            "{} {:.1}s",
            step.name(),
            step_started.elapsed().as_secs_f64()
        ));
    }
    app.update_instance(id, |i| i.server_status = ServerStatus::Ok);
    eprintln!(
        "vultr-standin: instance {id} is ok after {:.1}s ({})",
        started.elapsed().as_secs_f64(),
        timings.join(", ")
    );
}

async fn run_step(app: &App, id: &str, machine: &Machine, step: Step) -> DockerResult<()> {
    match step {
        Step::Seed => {
            let (user_data, meta_data) = {
                let store = app.store();
                let Some(instance) = store.instance(id) else {
                    return Ok(());
                };
                (instance.user_data.clone(), meta_data(&store, instance))
            };
            machine.write_seed(&user_data, &meta_data).await
        }
        Step::Network => machine
            .exec(&["vps-init", "network"], Input::Nothing)
            .await
            .map(|_| ()),
        Step::Cgroups => machine
            .exec(&["vps-init", "cgroups"], Input::Nothing)
            .await
            .map(|_| ()),
        Step::Dockerd => machine
            .exec(&["vps-init", "dockerd"], Input::Nothing)
            .await
            .map(|_| ()),
        Step::Sshd => machine
            .exec(&["vps-init", "sshd"], Input::Nothing)
            .await
            .map(|_| ()),
        Step::LoadImages => {
            if app.settings.inner_images.is_empty() {
                return Ok(());
            }
            let archive = app
                .images_archive()
                .await
                .map_err(crate::docker::DockerError)?;
            machine.load_images(&archive).await
        }
        Step::CloudInit(stage) => {
            let mut command = vec!["cloud-init"];
            command.extend_from_slice(stage);
            machine.exec(&command, Input::Nothing).await.map(|_| ())
        }
    }
}

/// NoCloud's meta-data: the instance id (a new one makes cloud-init treat the machine as a new
/// instance, as after a snapshot restore), the hostname, and the keys of `sshkey_id`.
fn meta_data(store: &crate::app::Store, instance: &crate::model::Instance) -> String {
    let quote = |s: &str| serde_json::to_string(s).expect("a string serializes");
    let mut text = format!(
        "instance-id: {}\nlocal-hostname: {}\n",
        quote(&instance.id),
        quote(&instance.hostname)
    );
    let keys: Vec<&str> = instance
        .sshkey_ids
        .iter()
        .filter_map(|key_id| store.ssh_keys.iter().find(|k| &k.id == key_id))
        .map(|k| k.ssh_key.as_str())
        .collect();
    if !keys.is_empty() {
        text.push_str("public-keys:\n");
        for key in keys {
            text.push_str(&format!("  - {}\n", quote(key)));
        }
    }
    text
}

/// Pick an address and start the container, trying the next address when another process
/// took this one's ports in the meantime.
async fn create_machine(app: &Arc<App>, id: &str, disk: &Disk) -> DockerResult<Machine> {
    let hostname = app
        .store()
        .instance(id)
        .map(|i| i.hostname.clone())
        .unwrap_or_default();
    let (image, volume_source) = match disk {
        Disk::Fresh => (app.settings.vps_image.as_str(), None),
        Disk::Snapshot { image, volume } => (image.as_str(), Some(volume.as_str())),
    };
    let mut last_error = None;
    for _ in 0..8 {
        let Some(address) = app.addresses.lock().expect("address lock").take() else {
            break;
        };
        let relay = match crate::relay::Relay::bind(address, app.latency()) {
            Ok(relay) => relay,
            Err(e) => {
                // Another process took the address since the pool looked: try the next.
                app.addresses.lock().expect("address lock").release(address);
                last_error = Some(crate::docker::DockerError(format!(
                    "listening on {address}: {e}"
                )));
                continue;
            }
        };
        let machine = Machine::new(id, address, relay);
        let created = async {
            machine
                .create_volume(volume_source, &app.settings.vps_image)
                .await?;
            machine.run(image, &hostname).await
        };
        match created.await {
            Ok(()) => return Ok(machine),
            Err(e) => {
                let _ = machine.destroy().await;
                let _ = crate::machine::remove_volume(&machine.volume).await;
                app.addresses.lock().expect("address lock").release(address);
                let port_taken = e.0.contains("address already in use")
                    || e.0.contains("port is already allocated");
                if !port_taken {
                    return Err(e);
                }
                last_error = Some(e);
            }
        }
    }
    Err(last_error.unwrap_or_else(|| {
        crate::docker::DockerError("no free loopback address is left in --addresses".to_string())
    }))
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}
