//! The API's objects as the stand-in keeps them, and their JSON as Vultr writes it.

use crate::catalog::{Os, Plan};
use serde_json::{Value, json};
use std::net::Ipv4Addr;

/// Vultr's instance ids and key ids are UUIDs.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `2024-05-01T12:00:00+00:00`, the form Vultr's `date_created` takes.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerStatus {
    None,
    InstallingBooting,
    Ok,
}

impl ServerStatus {
    fn as_str(self) -> &'static str {
        match self {
            ServerStatus::None => "none",
            ServerStatus::InstallingBooting => "installingbooting",
            ServerStatus::Ok => "ok",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Instance {
    pub id: String,
    pub label: String,
    pub hostname: String,
    pub region: String,
    pub plan: Plan,
    pub os: Os,
    pub snapshot_id: String,
    pub date_created: String,
    pub tags: Vec<String>,
    /// The decoded user_data: a secret (it may carry host private keys), never logged.
    pub user_data: Vec<u8>,
    /// A secret, answered only by the create call, as Vultr's create example does.
    pub default_password: String,
    pub sshkey_ids: Vec<String>,
    /// `active` once the machine exists; `pending` before.
    pub active: bool,
    pub running: bool,
    pub server_status: ServerStatus,
    /// Assigned when the machine starts; `0.0.0.0` until then.
    pub main_ip: Option<Ipv4Addr>,
    pub features: Vec<String>,
}

impl Instance {
    pub fn main_ip_text(&self) -> String {
        self.main_ip.unwrap_or(Ipv4Addr::UNSPECIFIED).to_string()
    }

    /// The instance as `GET /instances/{id}` shows it (no password).
    pub fn to_json(&self) -> Value {
        let assigned = self.main_ip.is_some();
        json!({
            "id": self.id,
            "os": self.os.name,
            "ram": self.plan.ram,
            "disk": if assigned { self.plan.disk } else { 0 },
            "plan": self.plan.id,
            "main_ip": self.main_ip_text(),
            "vcpu_count": self.plan.vcpu_count,
            "region": self.region,
            "date_created": self.date_created,
            "status": if self.active { "active" } else { "pending" },
            "allowed_bandwidth": self.plan.bandwidth,
            "netmask_v4": if assigned { "255.0.0.0" } else { "" },
            "gateway_v4": if assigned { "127.0.0.1" } else { "0.0.0.0" },
            "power_status": if self.running { "running" } else { "stopped" },
            "server_status": self.server_status.as_str(),
            "v6_network": "",
            "v6_main_ip": "",
            "v6_network_size": 0,
            "label": self.label,
            "internal_ip": "",
            "kvm": "",
            "hostname": self.hostname,
            "tag": "",
            "tags": self.tags,
            "os_id": self.os.id,
            "app_id": 0,
            "image_id": "",
            "snapshot_id": self.snapshot_id,
            "firewall_group_id": "",
            "features": self.features,
            "user_scheme": "root",
            "vpc_only": false,
        })
    }

    /// The create answer: the same object plus the root password.
    pub fn to_created_json(&self) -> Value {
        let mut value = self.to_json();
        value["default_password"] = json!(self.default_password);
        value
    }
}

#[derive(Clone, Debug)]
pub struct SshKey {
    pub id: String,
    pub date_created: String,
    pub name: String,
    pub ssh_key: String,
}

impl SshKey {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "date_created": self.date_created,
            "name": self.name,
            "ssh_key": self.ssh_key,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotStatus {
    Pending,
    Complete,
}

#[derive(Clone, Debug)]
pub struct Snapshot {
    pub id: String,
    pub date_created: String,
    pub description: String,
    pub size: u64,
    pub status: SnapshotStatus,
    pub os_id: u32,
}

impl Snapshot {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "date_created": self.date_created,
            "description": self.description,
            "size": self.size,
            "compressed_size": self.size,
            "status": match self.status {
                SnapshotStatus::Pending => "pending",
                SnapshotStatus::Complete => "complete",
            },
            "os_id": self.os_id,
            "app_id": 0,
        })
    }
}
