//! What a VPS provider's API must offer: the [`VpsClient`] trait. Everything else about a
//! VPS-Docker host (cloud-init, SSH, the container) is the same on every cloud, so a new
//! provider implements this trait against its API and hands it to
//! [`crate::VpsDockerInstance`].

use mngr_plugin_api::ProviderResult;
use std::future::Future;

/// A VPS's power and boot state, as far as mngr cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VpsStatus {
    /// Ordered or booting: no address, or its OS is not up yet.
    Pending,
    /// Running with its address assigned.
    Active,
    /// Powered off (still billed on most clouds).
    Halted,
    /// Anything the client cannot map.
    Unknown,
}

/// One VPS as the API reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct VpsInstance {
    pub id: String,
    pub label: String,
    /// The public IPv4 address; `None` until assigned.
    pub main_ip: Option<String>,
    pub status: VpsStatus,
    pub region: String,
    /// The plan (size) it was ordered with: what leaving it running costs.
    pub plan: String,
    /// `key=value` strings.
    pub tags: Vec<String>,
}

impl VpsInstance {
    /// The value of tag `key` (`key=value`).
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find_map(|t| t.strip_prefix(key).and_then(|rest| rest.strip_prefix('=')))
    }
}

/// What to order. `user_data` is the raw cloud-config (the client encodes it as its API
/// wants); it carries the VPS's private host key, so a client never logs it.
#[derive(Clone)]
pub struct InstanceSpec {
    pub label: String,
    pub region: String,
    pub plan: String,
    /// The OS image, in the provider's own terms (Vultr: an `os_id`).
    pub os: String,
    /// Boot from this provider snapshot instead of `os`.
    pub snapshot_id: Option<String>,
    pub user_data: String,
    pub ssh_key_ids: Vec<String>,
    /// `key=value` strings; mngr finds its VPSes by these.
    pub tags: Vec<String>,
}

impl std::fmt::Debug for InstanceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstanceSpec")
            .field("label", &self.label)
            .field("region", &self.region)
            .field("plan", &self.plan)
            .field("os", &self.os)
            .field("snapshot_id", &self.snapshot_id)
            .field("user_data", &"<redacted>")
            .field("ssh_key_ids", &self.ssh_key_ids)
            .field("tags", &self.tags)
            .finish()
    }
}

/// A provider-level snapshot of a whole VPS disk.
#[derive(Debug, Clone, PartialEq)]
pub struct VpsSnapshot {
    pub id: String,
    pub description: String,
    /// Ready to boot from.
    pub complete: bool,
}

/// A VPS provider's API. Each method is one logical API operation; the client owns paging,
/// retries of safe requests and the rule that an order is never sent twice blindly (after an
/// ambiguous failure it looks the instance up by its label before ordering again).
/// Errors: a rejected key is `Unauthenticated`, an unreachable API `Unavailable`, a refused
/// request `InvalidInput`; never put the API key or `user_data` in one.
pub trait VpsClient: Send + Sync + 'static {
    /// Order a VPS; answers at once (it boots afterwards).
    fn create_instance(
        &self,
        spec: &InstanceSpec,
    ) -> impl Future<Output = ProviderResult<VpsInstance>> + Send;
    /// `None` when there is no such instance.
    fn get_instance(
        &self,
        id: &str,
    ) -> impl Future<Output = ProviderResult<Option<VpsInstance>>> + Send;
    /// Every instance carrying tag `tag` (`key=value`), across all pages.
    fn list_instances_by_tag(
        &self,
        tag: &str,
    ) -> impl Future<Output = ProviderResult<Vec<VpsInstance>>> + Send;
    /// Destroy an instance; one already gone is fine.
    fn destroy_instance(&self, id: &str) -> impl Future<Output = ProviderResult<()>> + Send;

    /// Register a public key for root logins on new instances; answers its id.
    fn create_ssh_key(
        &self,
        name: &str,
        public_key: &str,
    ) -> impl Future<Output = ProviderResult<String>> + Send;
    /// The ids of the registered keys named `name`.
    fn find_ssh_keys(&self, name: &str)
    -> impl Future<Output = ProviderResult<Vec<String>>> + Send;
    /// Remove a registered key; one already gone is fine.
    fn delete_ssh_key(&self, id: &str) -> impl Future<Output = ProviderResult<()>> + Send;

    /// Snapshot a VPS's disk.
    fn create_snapshot(
        &self,
        instance_id: &str,
        description: &str,
    ) -> impl Future<Output = ProviderResult<VpsSnapshot>> + Send;
    /// `None` when there is no such snapshot.
    fn get_snapshot(
        &self,
        id: &str,
    ) -> impl Future<Output = ProviderResult<Option<VpsSnapshot>>> + Send;
    /// Remove a snapshot; one already gone is fine.
    fn delete_snapshot(&self, id: &str) -> impl Future<Output = ProviderResult<()>> + Send;
}
