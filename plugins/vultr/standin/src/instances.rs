//! `/v2/instances`: create (a real machine boots behind it), read, list with filters and
//! paging, update, delete, the power actions, and the user-data read-back.

use crate::app::{App, Vps};
use crate::boot::{self, Disk};
use crate::catalog::{self, BOOTABLE_OS_ID, SNAPSHOT_OS_ID};
use crate::model::{Instance, ServerStatus, SnapshotStatus, new_id, now};
use crate::paging;
use crate::reply::{Handled, Reply};
use crate::request::ApiRequest;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

const NO_SUCH_INSTANCE: &str = "Invalid instance-id.";

#[derive(Deserialize)]
struct CreateBody {
    region: Option<String>,
    plan: Option<String>,
    /// A number, or a numeric string as apache-libcloud sends it (real Vultr takes both).
    os_id: Option<Value>,
    snapshot_id: Option<String>,
    iso_id: Option<String>,
    app_id: Option<u32>,
    image_id: Option<String>,
    label: Option<String>,
    hostname: Option<String>,
    user_data: Option<String>,
    sshkey_id: Option<Vec<String>>,
    tags: Option<Vec<String>>,
    /// The deprecated single tag.
    tag: Option<String>,
    backups: Option<String>,
    enable_ipv6: Option<bool>,
    ddos_protection: Option<bool>,
}

pub async fn create(app: &Arc<App>, req: &ApiRequest) -> Handled {
    let body: CreateBody = req.json()?;
    let region = body.region.as_deref().unwrap_or_default();
    if catalog::region(region).is_none() {
        return Err(Reply::bad_request(
            "Invalid region. Give one of the ids GET /regions lists.",
        ));
    }
    let plan = catalog::plan(body.plan.as_deref().unwrap_or_default())
        .ok_or_else(|| Reply::bad_request("Invalid plan. Give one of the ids GET /plans lists."))?;
    if body.iso_id.is_some()
        || body.app_id.is_some_and(|id| id != 0)
        || body.image_id.as_deref().is_some_and(|id| !id.is_empty())
    {
        return Err(Reply::bad_request(
            "The stand-in boots only os_id 2136 or a snapshot_id (no ISO, app or image).",
        ));
    }
    if let Some(backups) = body.backups.as_deref()
        && backups != "enabled"
        && backups != "disabled"
    {
        return Err(Reply::bad_request(
            "Backups option must be either enabled or disabled.",
        ));
    }
    let os_id = match &body.os_id {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(n.as_u64().and_then(|n| u32::try_from(n).ok())),
        Some(Value::String(s)) => Some(s.trim().parse::<u32>().ok()),
        Some(_) => Some(None),
    };
    let os_id = match os_id {
        Some(None) => return Err(Reply::bad_request("Invalid os_id.")),
        Some(Some(id)) => Some(id),
        None => None,
    };
    let (os, disk) = match (body.snapshot_id.as_deref().filter(|s| !s.is_empty()), os_id) {
        (Some(snapshot_id), _) => {
            let stored = app.store().snapshot(snapshot_id).cloned();
            let stored = stored.ok_or_else(|| Reply::bad_request("Invalid snapshot_id."))?;
            if stored.snapshot.status != SnapshotStatus::Complete {
                return Err(Reply::bad_request("Snapshot is not complete yet."));
            }
            let os = catalog::os(SNAPSHOT_OS_ID).expect("the snapshot OS is listed");
            (
                os,
                Disk::Snapshot {
                    image: stored.image,
                    volume: stored.volume,
                },
            )
        }
        (None, Some(BOOTABLE_OS_ID)) => (catalog::os(BOOTABLE_OS_ID).expect("listed"), Disk::Fresh),
        (None, Some(other)) if catalog::os(other).is_some() => {
            return Err(Reply::bad_request(format!(
                "os_id {other} is listed but the stand-in boots only Debian 12 (os_id {BOOTABLE_OS_ID})."
            )));
        }
        (None, Some(_)) => return Err(Reply::bad_request("Invalid os_id.")),
        (None, None) => {
            return Err(Reply::bad_request(
                "Give os_id, iso_id, snapshot_id, app_id or image_id.",
            ));
        }
    };
    let user_data = match body.user_data.as_deref() {
        None | Some("") => Vec::new(),
        Some(encoded) => STANDARD
            .decode(encoded.trim())
            .map_err(|_| Reply::bad_request("Invalid user_data: it must be base64-encoded."))?,
    };
    let sshkey_ids = body.sshkey_id.unwrap_or_default();
    {
        let store = app.store();
        if let Some(missing) = sshkey_ids
            .iter()
            .find(|id| !store.ssh_keys.iter().any(|k| &k.id == *id))
        {
            return Err(Reply::bad_request(format!("Invalid SSH key: {missing}.")));
        }
    }
    let mut tags = body.tags.unwrap_or_default();
    tags.extend(body.tag.filter(|t| !t.is_empty()));
    let label = body.label.unwrap_or_default();
    let hostname = hostname_for(
        body.hostname
            .as_deref()
            .filter(|h| !h.is_empty())
            .unwrap_or(&label),
    );
    let mut features = Vec::new();
    if body.enable_ipv6 == Some(true) {
        features.push("ipv6".to_string());
    }
    if body.backups.as_deref() == Some("enabled") {
        features.push("auto_backups".to_string());
    }
    if body.ddos_protection == Some(true) {
        features.push("ddos_protection".to_string());
    }
    let instance = Instance {
        id: new_id(),
        label,
        hostname,
        region: region.to_string(),
        plan,
        os,
        snapshot_id: body.snapshot_id.unwrap_or_default(),
        date_created: now(),
        tags,
        user_data,
        default_password: uuid::Uuid::new_v4().simple().to_string(),
        sshkey_ids,
        active: false,
        running: true,
        server_status: ServerStatus::None,
        main_ip: None,
        features,
    };
    let answer = json!({ "instance": instance.to_created_json() });
    let id = instance.id.clone();
    let vps = Arc::new(Vps {
        machine: tokio::sync::Mutex::new(None),
    });
    {
        let mut store = app.store();
        store.instances.push(instance);
        store.machines.insert(id.clone(), vps.clone());
    }
    let generation = boot::next_generation(app, &id);
    tokio::spawn(boot::first_boot(app.clone(), id, vps, disk, generation));
    Ok(Reply::json(202, answer))
}

/// A hostname Docker and cloud-init accept, from Vultr's free-form label.
fn hostname_for(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = cleaned.trim_matches('-');
    let short: String = trimmed.chars().take(63).collect();
    if short.is_empty() {
        "vultr".to_string()
    } else {
        short.trim_end_matches('-').to_string()
    }
}

pub fn list(app: &App, req: &ApiRequest) -> Handled {
    let cap = app.knobs().max_page_size;
    let items: Vec<Value> = app
        .store()
        .instances
        .iter()
        .filter(|i| {
            req.query("tag")
                .is_none_or(|tag| i.tags.iter().any(|t| t == tag))
        })
        .filter(|i| req.query("label").is_none_or(|label| i.label == label))
        .filter(|i| req.query("main_ip").is_none_or(|ip| i.main_ip_text() == ip))
        .filter(|i| req.query("region").is_none_or(|region| i.region == region))
        .map(Instance::to_json)
        .collect();
    paging::page("instances", items, req, cap)
}

pub fn get(app: &App, id: &str) -> Handled {
    let store = app.store();
    let instance = store
        .instance(id)
        .ok_or_else(|| Reply::not_found(NO_SUCH_INSTANCE))?;
    Ok(Reply::json(200, json!({ "instance": instance.to_json() })))
}

pub fn user_data(app: &App, id: &str) -> Handled {
    let store = app.store();
    let instance = store
        .instance(id)
        .ok_or_else(|| Reply::not_found(NO_SUCH_INSTANCE))?;
    Ok(Reply::json(
        200,
        json!({ "user_data": { "data": STANDARD.encode(&instance.user_data) } }),
    ))
}

pub fn update(app: &App, id: &str, req: &ApiRequest) -> Handled {
    #[derive(Deserialize)]
    struct UpdateBody {
        label: Option<String>,
        tags: Option<Vec<String>>,
    }
    let body: UpdateBody = req.json()?;
    let mut store = app.store();
    let instance = store
        .instance_mut(id)
        .ok_or_else(|| Reply::not_found(NO_SUCH_INSTANCE))?;
    if let Some(label) = body.label {
        instance.label = label;
    }
    if let Some(tags) = body.tags {
        instance.tags = tags;
    }
    Ok(Reply::json(202, json!({ "instance": instance.to_json() })))
}

/// The instance is gone from the API at once and its machine before the answer; its disk is
/// wiped after.
pub async fn delete(app: &App, id: &str) -> Handled {
    let vps = {
        let mut store = app.store();
        let index = store
            .instances
            .iter()
            .position(|i| i.id == id)
            .ok_or_else(|| Reply::not_found(NO_SUCH_INSTANCE))?;
        store.instances.remove(index);
        store.boots.remove(id);
        store.boot_failures.remove(id);
        store.machines.remove(id)
    };
    if let Some(vps) = vps {
        let mut slot = vps.machine.lock().await;
        if let Some(machine) = slot.take() {
            if let Err(e) = machine.destroy().await {
                eprintln!("vultr-standin: instance {id}: removing its machine: {e}");
            }
            app.addresses
                .lock()
                .expect("address lock")
                .release(machine.address);
            app.remove_later(async move {
                if let Err(e) = crate::machine::remove_volume(&machine.volume).await {
                    eprintln!("vultr-standin: removing volume {}: {e}", machine.volume);
                }
            });
        }
    }
    Ok(Reply::no_content())
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Power {
    Halt,
    Start,
    Reboot,
}

pub async fn power(app: &Arc<App>, id: &str, action: Power) -> Handled {
    let vps = app
        .store()
        .machines
        .get(id)
        .cloned()
        .ok_or_else(|| Reply::not_found(NO_SUCH_INSTANCE))?;
    let slot = vps.machine.lock().await;
    let Some(machine) = slot.as_ref() else {
        return Err(Reply::bad_request(
            "Unable to change the power state: the server did not install.",
        ));
    };
    let running = app.store().instance(id).is_some_and(|i| i.running);
    let failed = |e: crate::docker::DockerError| {
        eprintln!("vultr-standin: instance {id}: power action failed: {e}");
        Reply::error(500, "Internal server error.")
    };
    if action != Power::Start && running {
        app.update_instance(id, |i| i.running = false);
        machine.stop().await.map_err(failed)?;
    }
    if action == Power::Halt || (action == Power::Start && running) {
        return Ok(Reply::no_content());
    }
    machine.start().await.map_err(failed)?;
    app.update_instance(id, |i| {
        i.running = true;
        i.server_status = ServerStatus::InstallingBooting;
    });
    let generation = boot::next_generation(app, id);
    drop(slot);
    tokio::spawn(boot::boot_again(
        app.clone(),
        id.to_string(),
        vps,
        generation,
    ));
    Ok(Reply::no_content())
}

#[cfg(test)]
mod tests {
    use super::hostname_for;

    #[test]
    fn hostnames_are_safe_labels() {
        assert_eq!(hostname_for("mngr-My Host_1"), "mngr-my-host-1");
        assert_eq!(hostname_for("--"), "vultr");
        assert_eq!(hostname_for(&"a".repeat(80)).len(), 63);
    }
}
