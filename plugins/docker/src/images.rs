//! The images this instance makes for its hosts: one held tag per host, builds, and finding
//! them again by label.

use crate::instance::DockerInstance;
use mngr_docker_core::build_args::BuildPlan;
use mngr_docker_core::labels;
use mngr_plugin_api::*;
use std::collections::HashMap;
use std::time::Duration;

impl DockerInstance {
    /// The tag through which a host holds the image its container runs from, when mngr made
    /// or chose that image for it (a build, or a snapshot it was created or restored from).
    /// Holding a tag per host lets snapshots be shared: removing one host's tag never deletes
    /// an image another host still runs.
    pub(crate) fn held_tag(&self, host_id: &str) -> String {
        format!("{}:{host_id}", self.image_repo("build"))
    }

    pub(crate) async fn hold_image(&self, image: &str, host_id: &str) -> ProviderResult<String> {
        let tag = self.held_tag(host_id);
        self.engine.tag_image(image, &tag).await?;
        Ok(tag)
    }

    /// The labels that mark an image as this instance's, made for `host_id`.
    fn image_labels(&self, host_id: &str) -> HashMap<String, String> {
        HashMap::from([
            (labels::IMAGE_PROVIDER.to_string(), self.name.clone()),
            (labels::IMAGE_HOST.to_string(), host_id.to_string()),
        ])
    }

    /// Images mngr made for a host (its build image and snapshots).
    pub(crate) async fn images_of(&self, host_id: &str) -> ProviderResult<Vec<String>> {
        let wanted = self
            .image_labels(host_id)
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        self.engine.images_labelled(wanted).await
    }

    /// Build a host's image, with the instance's deadline; the log goes to `-v` output.
    pub(crate) async fn build(
        &self,
        plan: &BuildPlan,
        tag: &str,
        host_id: &str,
    ) -> ProviderResult<()> {
        self.services.progress(&format!(
            "building image from {}",
            plan.dockerfile.display()
        ));
        let deadline = Duration::from_secs(self.config.build_timeout_seconds);
        let services = self.services.clone();
        let built = self
            .engine
            .build_image(plan, tag, self.image_labels(host_id), deadline, |line| {
                services.log(LogLevel::Debug, line)
            })
            .await;
        built.map_err(|e| match e.kind {
            ErrorKind::Timeout => e.with_hint(format!(
                "raise providers.{}.build_timeout_seconds",
                self.name
            )),
            _ => e,
        })
    }

    /// Remove an image or one tag of it; absent is fine.
    pub(crate) async fn remove_image(&self, image: &str, force: bool) -> ProviderResult<()> {
        self.engine
            .remove_image("removing an image", image, force)
            .await
    }
}
