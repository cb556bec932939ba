//! Images: lookup, tagging, listing by label, removal; and the error for an image that is not
//! on the daemon (mngr never pulls).

use crate::engine::Engine;
use crate::labels;
use bollard::query_parameters::{ListImagesOptions, RemoveImageOptions, TagImageOptions};
use mngr_plugin_api::*;

/// mngr's base image for hosts, built locally by `scripts/build-base-image.sh` (there is no
/// registry to pull it from).
pub const BASE_IMAGE: &str = "mngr-base:bookworm";

impl Engine {
    pub async fn image_exists(&self, image: &str) -> ProviderResult<bool> {
        let found = self
            .unless_gone("looking up the image", self.docker.inspect_image(image))
            .await?;
        Ok(found.is_some())
    }

    /// Tag `image` as `repository:tag`.
    pub async fn tag_image(&self, image: &str, reference: &str) -> ProviderResult<()> {
        let (repo, tag) = reference
            .rsplit_once(':')
            .ok_or_else(|| ProviderError::internal(format!("'{reference}' has no tag")))?;
        let options = TagImageOptions {
            repo: Some(repo.to_string()),
            tag: Some(tag.to_string()),
        };
        self.call(
            "tagging the image",
            self.docker.tag_image(image, Some(options)),
        )
        .await
    }

    /// Ids of the images carrying all these labels (`KEY=VALUE`).
    pub async fn images_labelled(&self, wanted: Vec<String>) -> ProviderResult<Vec<String>> {
        let options = ListImagesOptions {
            all: false,
            filters: Some(labels::filter(wanted)),
            ..Default::default()
        };
        let images = self
            .call("listing images", self.docker.list_images(Some(options)))
            .await?;
        Ok(images.into_iter().map(|i| i.id).collect())
    }

    pub async fn image_is_tagged(&self, image: &str) -> ProviderResult<bool> {
        let info = self
            .call("inspecting an image", self.docker.inspect_image(image))
            .await?;
        Ok(info.repo_tags.is_some_and(|t| !t.is_empty()))
    }

    /// Remove an image or one tag of it; absent is fine. Without `force`, an image a
    /// container still uses stays.
    pub async fn remove_image(&self, what: &str, image: &str, force: bool) -> ProviderResult<()> {
        let options = RemoveImageOptions {
            force,
            noprune: false,
            ..Default::default()
        };
        self.unless_gone(what, self.docker.remove_image(image, Some(options), None))
            .await
            .map(|_| ())
    }
}

pub fn missing_image(image: &str) -> ProviderError {
    ProviderError::invalid_input(format!(
        "image '{image}' does not exist on the Docker daemon, and mngr never pulls images"
    ))
    .with_hint(if image == BASE_IMAGE {
        "build it with scripts/build-base-image.sh".to_string()
    } else {
        format!("build or load '{image}' on the daemon (docker build / docker load), or set default_image")
    })
}
