//! The fixed catalogue the stand-in offers: regions, plans and operating systems, with Vultr's
//! ids and fields. Every region offers every plan; only Debian 12 really boots (it is the
//! one VPS image there is), the other systems are listed so clients can read them.

use serde::Serialize;

#[derive(Serialize, Clone, Debug)]
pub struct Region {
    pub id: &'static str,
    pub city: &'static str,
    pub country: &'static str,
    pub continent: &'static str,
    pub options: [&'static str; 0],
}

#[derive(Serialize, Clone, Debug)]
pub struct Plan {
    pub id: &'static str,
    pub vcpu_count: u32,
    /// MB
    pub ram: u32,
    /// GB
    pub disk: u32,
    pub disk_count: u32,
    /// GB a month
    pub bandwidth: u32,
    pub monthly_cost: f64,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub locations: Vec<&'static str>,
}

#[derive(Serialize, Clone, Debug)]
pub struct Os {
    pub id: u32,
    pub name: &'static str,
    pub arch: &'static str,
    pub family: &'static str,
}

/// The OS id the VPS image is: Debian 12 x64 (bookworm).
pub const BOOTABLE_OS_ID: u32 = 2136;
/// Vultr's pseudo-OS id of instances created from a snapshot.
pub const SNAPSHOT_OS_ID: u32 = 164;

pub fn regions() -> Vec<Region> {
    let region = |id, city, country, continent| Region {
        id,
        city,
        country,
        continent,
        options: [],
    };
    vec![
        region("ewr", "New Jersey", "US", "North America"),
        region("lax", "Los Angeles", "US", "North America"),
        region("ams", "Amsterdam", "NL", "Europe"),
        region("fra", "Frankfurt", "DE", "Europe"),
        region("sgp", "Singapore", "SG", "Asia"),
        region("nrt", "Tokyo", "JP", "Asia"),
    ]
}

pub fn plans() -> Vec<Plan> {
    let locations: Vec<&'static str> = regions().iter().map(|r| r.id).collect();
    let plan = |id, vcpu_count, ram, disk, bandwidth, monthly_cost| Plan {
        id,
        vcpu_count,
        ram,
        disk,
        disk_count: 1,
        bandwidth,
        monthly_cost,
        kind: "vc2",
        locations: locations.clone(),
    };
    vec![
        plan("vc2-1c-1gb", 1, 1024, 25, 1024, 5.0),
        plan("vc2-1c-2gb", 1, 2048, 55, 2048, 10.0),
        plan("vc2-2c-4gb", 2, 4096, 80, 3072, 20.0),
        plan("vc2-4c-8gb", 4, 8192, 160, 4096, 40.0),
    ]
}

pub fn operating_systems() -> Vec<Os> {
    let os = |id, name, family| Os {
        id,
        name,
        arch: "x64",
        family,
    };
    vec![
        os(477, "Debian 11 x64 (bullseye)", "debian"),
        os(BOOTABLE_OS_ID, "Debian 12 x64 (bookworm)", "debian"),
        os(2625, "Debian 13 x64 (trixie)", "debian"),
        os(1743, "Ubuntu 22.04 LTS x64", "ubuntu"),
        os(2284, "Ubuntu 24.04 LTS x64", "ubuntu"),
        os(SNAPSHOT_OS_ID, "Snapshot", "snapshot"),
    ]
}

pub fn region(id: &str) -> Option<Region> {
    regions().into_iter().find(|r| r.id == id)
}

pub fn plan(id: &str) -> Option<Plan> {
    plans().into_iter().find(|p| p.id == id)
}

pub fn os(id: u32) -> Option<Os> {
    operating_systems().into_iter().find(|o| o.id == id)
}
