//! `/v2/snapshots`: a snapshot is the instance's disk committed to an image plus a copy of
//! its Docker volume; it is `pending` until both exist, then `complete`.

use crate::app::{App, StoredSnapshot};
use crate::machine;
use crate::model::{Snapshot, SnapshotStatus, new_id, now};
use crate::paging;
use crate::reply::{Handled, Reply};
use crate::request::ApiRequest;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

const NO_SUCH_SNAPSHOT: &str = "Invalid snapshot-id.";
/// Committed disks are named so a later run can tell which process made them.
pub const IMAGE_REPOSITORY: &str = "mngr-vultr-standin-snapshot";

pub fn create(app: &Arc<App>, req: &ApiRequest) -> Handled {
    #[derive(Deserialize)]
    struct Body {
        instance_id: Option<String>,
        description: Option<String>,
    }
    let body: Body = req.json()?;
    let instance_id = body.instance_id.unwrap_or_default();
    let (vps, os_id) = {
        let store = app.store();
        let instance = store
            .instance(&instance_id)
            .ok_or_else(|| Reply::bad_request("Invalid instance_id."))?;
        (store.machines.get(&instance_id).cloned(), instance.os.id)
    };
    let vps = vps.ok_or_else(|| Reply::bad_request("Invalid instance_id."))?;
    let id = new_id();
    let stored = StoredSnapshot {
        snapshot: Snapshot {
            id: id.clone(),
            date_created: now(),
            description: body.description.unwrap_or_default(),
            size: 0,
            status: SnapshotStatus::Pending,
            os_id,
        },
        image: format!("{IMAGE_REPOSITORY}:{}-{id}", std::process::id()),
        volume: format!("vultr-standin-snapshot-{id}-docker"),
    };
    let answer = json!({ "snapshot": stored.snapshot.to_json() });
    app.store().snapshots.push(stored.clone());
    let app = app.clone();
    tokio::spawn(async move {
        let slot = vps.machine.lock().await;
        let taken = match slot.as_ref() {
            Some(machine) => {
                machine
                    .snapshot(&stored.image, &stored.volume, &app.settings.vps_image)
                    .await
            }
            None => Err(crate::docker::DockerError(
                "the instance has no machine yet".into(),
            )),
        };
        drop(slot);
        let still_wanted = {
            let mut store = app.store();
            let entry = store.snapshots.iter_mut().find(|s| s.snapshot.id == id);
            match (&taken, entry) {
                (Ok(size), Some(s)) => {
                    s.snapshot.size = *size;
                    s.snapshot.status = SnapshotStatus::Complete;
                    true
                }
                (Err(e), _) => {
                    eprintln!("vultr-standin: snapshot {id} of {instance_id} failed: {e}");
                    store.snapshots.retain(|s| s.snapshot.id != id);
                    false
                }
                (Ok(_), None) => false, // deleted while it was being taken
            }
        };
        if !still_wanted {
            remove_disk(&stored).await;
        }
    });
    Ok(Reply::json(201, answer))
}

pub fn list(app: &App, req: &ApiRequest) -> Handled {
    let cap = app.knobs().max_page_size;
    let items: Vec<Value> = app
        .store()
        .snapshots
        .iter()
        .filter(|s| {
            req.query("description")
                .is_none_or(|d| s.snapshot.description == d)
        })
        .map(|s| s.snapshot.to_json())
        .collect();
    paging::page("snapshots", items, req, cap)
}

pub fn get(app: &App, id: &str) -> Handled {
    let store = app.store();
    let stored = store
        .snapshot(id)
        .ok_or_else(|| Reply::not_found(NO_SUCH_SNAPSHOT))?;
    Ok(Reply::json(
        200,
        json!({ "snapshot": stored.snapshot.to_json() }),
    ))
}

pub fn delete(app: &App, id: &str) -> Handled {
    let stored = {
        let mut store = app.store();
        let index = store
            .snapshots
            .iter()
            .position(|s| s.snapshot.id == id)
            .ok_or_else(|| Reply::not_found(NO_SUCH_SNAPSHOT))?;
        store.snapshots.remove(index)
    };
    app.remove_later(async move { remove_disk(&stored).await });
    Ok(Reply::no_content())
}

/// Remove a snapshot's image and volume (a pending one may not have them yet).
pub async fn remove_disk(stored: &StoredSnapshot) {
    if let Err(e) = machine::remove_image(&stored.image).await {
        eprintln!(
            "vultr-standin: removing snapshot image {}: {e}",
            stored.image
        );
    }
    if let Err(e) = machine::remove_volume(&stored.volume).await {
        eprintln!(
            "vultr-standin: removing snapshot volume {}: {e}",
            stored.volume
        );
    }
}

/// The process id a snapshot image's tag names (`<pid>-<snapshot id>`).
pub fn owner_pid(tag: &str) -> Option<u32> {
    tag.split_once('-')?.0.parse().ok()
}
