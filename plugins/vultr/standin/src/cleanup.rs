//! What the stand-in removes: at start, what an earlier stand-in that was killed left behind
//! (its process is gone); at exit, everything this one made, since its state lives only in
//! memory and no later run could find it through the API.

use crate::app::App;
use crate::docker::docker;
use crate::machine::{self, LABEL, PID_LABEL};
use crate::snapshots::{self, IMAGE_REPOSITORY};
use std::path::Path;

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Remove containers, volumes and snapshot images whose stand-in process is gone.
pub async fn sweep_orphans() {
    let owner = format!("{{{{.Label \"{PID_LABEL}\"}}}}");
    let filter = format!("label={LABEL}");
    let orphans = |listing: String| -> Vec<String> {
        listing
            .lines()
            .filter_map(|line| line.split_once(' '))
            .filter(|(_, pid)| pid.parse().is_ok_and(|pid| !alive(pid)))
            .map(|(name, _)| name.to_string())
            .collect()
    };
    let containers = format!("--format={{{{.Names}}}} {owner}");
    if let Ok(listing) = docker(&["ps", "-a", "--filter", &filter, &containers]).await {
        for name in orphans(listing) {
            let _ = machine::remove_container(&name).await;
        }
    }
    let volumes = format!("--format={{{{.Name}}}} {owner}");
    if let Ok(listing) = docker(&["volume", "ls", "--filter", &filter, &volumes]).await {
        for name in orphans(listing) {
            let _ = machine::remove_volume(&name).await;
        }
    }
    if let Ok(listing) = docker(&["images", IMAGE_REPOSITORY, "--format={{.Tag}}"]).await {
        for tag in listing.lines() {
            if snapshots::owner_pid(tag).is_some_and(|pid| !alive(pid)) {
                let _ = machine::remove_image(&format!("{IMAGE_REPOSITORY}:{tag}")).await;
            }
        }
    }
}

/// Remove every machine and snapshot this process made.
pub async fn remove_everything(app: &App) {
    let (machines, snapshots) = {
        let mut store = app.store();
        store.instances.clear();
        (
            store
                .machines
                .drain()
                .map(|(_, vps)| vps)
                .collect::<Vec<_>>(),
            std::mem::take(&mut store.snapshots),
        )
    };
    for vps in machines {
        if let Some(machine) = vps.machine.lock().await.take() {
            let _ = machine.destroy().await;
            let _ = machine::remove_volume(&machine.volume).await;
        }
    }
    for stored in &snapshots {
        snapshots::remove_disk(stored).await;
    }
    app.finish_removals().await;
}
