//! Images hosts run from: lookup, one held tag per host, removal of what mngr made.

use crate::instance::DockerInstance;
use crate::labels;
use bollard::query_parameters::{ListImagesOptions, RemoveImageOptions, TagImageOptions};
use mngr_plugin_api::*;

impl DockerInstance {
    pub(crate) async fn image_exists(&self, image: &str) -> ProviderResult<bool> {
        let found = self
            .engine
            .unless_gone(
                "looking up the image",
                self.engine.docker.inspect_image(image),
            )
            .await?;
        Ok(found.is_some())
    }

    /// The tag through which a host holds the image its container runs from, when mngr made
    /// or chose that image for it (a build, or a snapshot it was created or restored from).
    /// Holding a tag per host lets snapshots be shared: removing one host's tag never deletes
    /// an image another host still runs.
    pub(crate) fn held_tag(&self, host_id: &str) -> String {
        format!("{}:{host_id}", self.image_repo("build"))
    }

    pub(crate) async fn hold_image(&self, image: &str, host_id: &str) -> ProviderResult<String> {
        let tag = self.held_tag(host_id);
        let (repo, t) = tag.split_once(':').expect("tag has a colon");
        let options = TagImageOptions {
            repo: Some(repo.to_string()),
            tag: Some(t.to_string()),
        };
        self.engine
            .call(
                "tagging the image",
                self.engine.docker.tag_image(image, Some(options)),
            )
            .await?;
        Ok(tag)
    }

    /// Images mngr made for a host (its build image and snapshots).
    pub(crate) async fn images_of(&self, host_id: &str) -> ProviderResult<Vec<String>> {
        let options = ListImagesOptions {
            all: false,
            filters: Some(labels::filter(vec![
                format!("{}={}", labels::IMAGE_PROVIDER, self.name),
                format!("{}={host_id}", labels::IMAGE_HOST),
            ])),
            ..Default::default()
        };
        let images = self
            .engine
            .call(
                "listing images",
                self.engine.docker.list_images(Some(options)),
            )
            .await?;
        Ok(images.into_iter().map(|i| i.id).collect())
    }

    pub(crate) async fn image_is_tagged(&self, image: &str) -> ProviderResult<bool> {
        let info = self
            .engine
            .call(
                "inspecting an image",
                self.engine.docker.inspect_image(image),
            )
            .await?;
        Ok(info.repo_tags.is_some_and(|t| !t.is_empty()))
    }

    /// Remove an image or one tag of it; absent is fine. Without `force`, an image a
    /// container still uses stays.
    pub(crate) async fn remove_image(&self, image: &str, force: bool) -> ProviderResult<()> {
        self.remove_image_as("removing an image", image, force)
            .await
    }

    pub(crate) async fn remove_image_as(
        &self,
        what: &str,
        image: &str,
        force: bool,
    ) -> ProviderResult<()> {
        let options = RemoveImageOptions {
            force,
            noprune: false,
            ..Default::default()
        };
        self.engine
            .unless_gone(
                what,
                self.engine.docker.remove_image(image, Some(options), None),
            )
            .await
            .map(|_| ())
    }
}
