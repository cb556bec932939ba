//! The stand-in's shared state: its settings, the API objects, the machines behind instances,
//! the loopback addresses and the test knobs.

use crate::addresses::AddressPool;
use crate::control::Knobs;
use crate::machine::Machine;
use crate::model::{Instance, Snapshot, SshKey};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

pub struct Settings {
    pub api_key: String,
    /// The image VPSes boot from (scripts/build-vps-image.sh).
    pub vps_image: String,
    /// Images loaded into every fresh VPS's Docker, as if pulled from a registry.
    pub inner_images: Vec<String>,
    /// Where the `docker save` archive of `inner_images` is kept between runs.
    pub cache_dir: PathBuf,
}

/// The machine behind an instance. Its lock serializes everything done to the machine (boot
/// steps, halt, start, snapshot, delete); `None` until the container exists.
pub struct Vps {
    pub machine: tokio::sync::Mutex<Option<Machine>>,
}

/// A snapshot and where its disk lives: a committed image and a copy of the Docker volume.
#[derive(Clone)]
pub struct StoredSnapshot {
    pub snapshot: Snapshot,
    pub image: String,
    pub volume: String,
}

#[derive(Default)]
pub struct Store {
    /// In creation order, which is the order lists answer in.
    pub instances: Vec<Instance>,
    /// Bumped on every start, so a boot sequence knows when a newer one replaced it.
    pub boots: HashMap<String, u64>,
    pub machines: HashMap<String, Arc<Vps>>,
    pub ssh_keys: Vec<SshKey>,
    pub snapshots: Vec<StoredSnapshot>,
    /// Why an instance's last boot stopped, by instance id (the API has no word for it).
    pub boot_failures: HashMap<String, String>,
}

impl Store {
    pub fn instance(&self, id: &str) -> Option<&Instance> {
        self.instances.iter().find(|i| i.id == id)
    }

    pub fn instance_mut(&mut self, id: &str) -> Option<&mut Instance> {
        self.instances.iter_mut().find(|i| i.id == id)
    }

    pub fn snapshot(&self, id: &str) -> Option<&StoredSnapshot> {
        self.snapshots.iter().find(|s| s.snapshot.id == id)
    }
}

pub struct App {
    pub settings: Settings,
    pub store: Mutex<Store>,
    pub knobs: Mutex<Knobs>,
    pub addresses: Mutex<AddressPool>,
    images_archive: tokio::sync::OnceCell<Result<PathBuf, String>>,
    /// Removals still running after their API call answered; awaited before exit.
    removals: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl App {
    pub fn new(settings: Settings, knobs: Knobs, addresses: AddressPool) -> App {
        App {
            settings,
            store: Mutex::new(Store::default()),
            knobs: Mutex::new(knobs),
            addresses: Mutex::new(addresses),
            images_archive: tokio::sync::OnceCell::new(),
            removals: Mutex::new(Vec::new()),
        }
    }

    /// Finish a removal after the answer: deleting a VPS's Docker data can take many seconds
    /// on a busy disk, and Vultr too answers a delete before the disk is wiped.
    pub fn remove_later(&self, removal: impl std::future::Future<Output = ()> + Send + 'static) {
        let mut removals = self.removals.lock().expect("removals lock");
        removals.retain(|handle| !handle.is_finished());
        removals.push(tokio::spawn(removal));
    }

    /// Wait for every removal still running.
    pub async fn finish_removals(&self) {
        let removals = std::mem::take(&mut *self.removals.lock().expect("removals lock"));
        for removal in removals {
            let _ = removal.await;
        }
    }

    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().expect("store lock")
    }

    pub fn knobs(&self) -> MutexGuard<'_, Knobs> {
        self.knobs.lock().expect("knobs lock")
    }

    /// The latency knob, read anew for each connection a VPS's relay takes.
    pub fn latency(self: &Arc<Self>) -> crate::relay::Latency {
        let app = Arc::downgrade(self);
        Arc::new(move || app.upgrade().map(|a| a.knobs().latency).unwrap_or_default())
    }

    /// A boot that stopped at `step`: the instance stays as the API showed it (a VPS whose OS
    /// never came up still reads `installingbooting`); the control path and the log say why.
    pub fn boot_failed(&self, id: &str, step: &str, error: &str) {
        let why = format!("{step}: {}", error.lines().next().unwrap_or(""));
        eprintln!("vultr-standin: instance {id}: its boot failed at {why}");
        self.store().boot_failures.insert(id.to_string(), why);
    }

    /// Each instance's boot as `/__standin/boots` reports it.
    pub fn boots_json(&self) -> serde_json::Value {
        let store = self.store();
        let boots: serde_json::Map<String, serde_json::Value> = store
            .instances
            .iter()
            .map(|i| {
                let boot = match store.boot_failures.get(&i.id) {
                    Some(why) => serde_json::json!({"state": "failed", "error": why}),
                    None if i.server_status == crate::model::ServerStatus::Ok => {
                        serde_json::json!({"state": "ok"})
                    }
                    None => serde_json::json!({"state": "booting"}),
                };
                (i.id.clone(), boot)
            })
            .collect();
        serde_json::json!({ "boots": boots })
    }

    /// Change an instance if it still exists.
    pub fn update_instance(&self, id: &str, change: impl FnOnce(&mut Instance)) {
        if let Some(instance) = self.store().instance_mut(id) {
            change(instance);
        }
    }

    /// One `docker save` archive of the inner images, made once per set of image ids and kept
    /// in the cache directory so later runs skip the save.
    pub async fn images_archive(&self) -> Result<PathBuf, String> {
        self.images_archive
            .get_or_init(|| {
                crate::images::archive(&self.settings.inner_images, &self.settings.cache_dir)
            })
            .await
            .clone()
    }
}
