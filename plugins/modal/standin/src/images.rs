//! Images as layers: each `ImageGetOrCreate` is one layer, built in the background with
//! `docker build` from its real Dockerfile commands on top of its parent layer's local image
//! (`FROM base`) or a registry name mapped to an image on this machine. Snapshots join the same
//! store as committed images.

use crate::docker::Docker;
use crate::ids;
use mngr_modal_proto::client::Image;
use prost::Message;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// Where a layer's build stands, as `ImageJoinStreaming` reports it.
#[derive(Clone, Default)]
pub struct BuildProgress {
    pub logs: Vec<String>,
    /// `None` while building; then `Ok` or the failure message.
    pub outcome: Option<Result<(), String>>,
}

pub struct StoredImage {
    /// The local Docker image holding this layer.
    pub docker_ref: String,
    pub progress: watch::Sender<BuildProgress>,
}

impl StoredImage {
    pub fn is_built(&self) -> bool {
        matches!(self.progress.borrow().outcome, Some(Ok(())))
    }
}

pub struct Images {
    docker: Docker,
    work_dir: PathBuf,
    /// Registry name → local image, for `FROM` lines naming an image this machine lacks.
    aliases: HashMap<String, String>,
    by_id: Mutex<HashMap<String, Arc<StoredImage>>>,
    /// The same layer definition gives the same id, as Modal's cache does.
    by_definition: Mutex<HashMap<Vec<u8>, String>>,
}

impl Images {
    pub fn new(docker: Docker, work_dir: PathBuf, aliases: HashMap<String, String>) -> Self {
        Images {
            docker,
            work_dir,
            aliases,
            by_id: Mutex::new(HashMap::new()),
            by_definition: Mutex::new(HashMap::new()),
        }
    }

    pub fn get(&self, image_id: &str) -> Option<Arc<StoredImage>> {
        self.by_id.lock().unwrap().get(image_id).cloned()
    }

    /// Returns the layer's id, starting its build unless the same layer exists already.
    pub fn get_or_build(
        self: &Arc<Self>,
        image: Image,
        force_build: bool,
    ) -> Result<String, String> {
        let parents = image
            .base_images
            .iter()
            .map(|base| {
                self.get(&base.image_id)
                    .map(|stored| (base.docker_tag.clone(), stored))
                    .ok_or_else(|| format!("base image {} not found", base.image_id))
            })
            .collect::<Result<HashMap<_, _>, _>>()?;
        let definition = image.encode_to_vec();
        let cached = self.by_definition.lock().unwrap().get(&definition).cloned();
        if let Some(id) = cached
            && !force_build
            && !self
                .get(&id)
                .is_some_and(|s| matches!(s.progress.borrow().outcome, Some(Err(_))))
        {
            return Ok(id);
        }
        let id = ids::image();
        let stored = Arc::new(StoredImage {
            docker_ref: docker_ref(&id),
            progress: watch::channel(BuildProgress::default()).0,
        });
        self.by_id
            .lock()
            .unwrap()
            .insert(id.clone(), stored.clone());
        self.by_definition
            .lock()
            .unwrap()
            .insert(definition, id.clone());
        let images = self.clone();
        let layer_id = id.clone();
        tokio::spawn(async move {
            let outcome = images.build(&layer_id, &image, &parents, &stored).await;
            if let Err(message) = &outcome {
                stored
                    .progress
                    .send_modify(|p| p.logs.push(format!("{message}\n")));
            }
            stored.progress.send_modify(|p| p.outcome = Some(outcome));
        });
        Ok(id)
    }

    /// Registers a committed container (a filesystem snapshot) as a finished image.
    pub fn add_built(&self, image_id: &str) -> Arc<StoredImage> {
        let progress = BuildProgress {
            logs: Vec::new(),
            outcome: Some(Ok(())),
        };
        let stored = Arc::new(StoredImage {
            docker_ref: docker_ref(image_id),
            progress: watch::channel(progress).0,
        });
        self.by_id
            .lock()
            .unwrap()
            .insert(image_id.to_string(), stored.clone());
        stored
    }

    pub async fn delete(&self, image_id: &str) -> Result<(), String> {
        let stored = self
            .by_id
            .lock()
            .unwrap()
            .remove(image_id)
            .ok_or("image not found")?;
        self.by_definition
            .lock()
            .unwrap()
            .retain(|_, id| id != image_id);
        self.docker
            .run(["rmi", "-f", stored.docker_ref.as_str()])
            .await
            .map(|_| ())
    }

    async fn build(
        &self,
        id: &str,
        image: &Image,
        parents: &HashMap<String, Arc<StoredImage>>,
        stored: &StoredImage,
    ) -> Result<(), String> {
        for parent in parents.values() {
            wait_until_done(parent)
                .await
                .map_err(|e| format!("base image failed: {e}"))?;
        }
        let mut dockerfile = String::new();
        for command in &image.dockerfile_commands {
            let line = match from_reference(command) {
                Some(reference) => match parents.get(reference) {
                    Some(parent) => format!("FROM {}", parent.docker_ref),
                    None => format!("FROM {}", self.local_image_for(reference).await?),
                },
                None => command.clone(),
            };
            dockerfile.push_str(&line);
            dockerfile.push('\n');
        }
        let context = self.work_dir.join("builds").join(id);
        std::fs::create_dir_all(&context).map_err(|e| format!("build context: {e}"))?;
        for file in &image.context_files {
            let path = context.join(file.filename.trim_start_matches('/'));
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| format!("build context: {e}"))?;
            }
            std::fs::write(&path, &file.data).map_err(|e| format!("build context: {e}"))?;
        }
        std::fs::write(context.join("Dockerfile"), &dockerfile)
            .map_err(|e| format!("Dockerfile: {e}"))?;
        let mut args = vec![
            "build".to_string(),
            "--label".into(),
            self.docker.label(),
            "-t".into(),
        ];
        args.push(stored.docker_ref.clone());
        for (key, value) in &image.build_args {
            args.extend(["--build-arg".to_string(), format!("{key}={value}")]);
        }
        args.push(context.display().to_string());
        let result = self
            .docker
            .run_streaming(args, |line| {
                stored
                    .progress
                    .send_modify(|p| p.logs.push(format!("{line}\n")))
            })
            .await;
        let _ = std::fs::remove_dir_all(&context);
        result.map_err(|e| format!("Image build for {id} failed: {e}"))
    }

    /// The local image a registry name stands for: itself if this machine has it, else its alias.
    async fn local_image_for(&self, reference: &str) -> Result<String, String> {
        if self.docker.image_exists(reference).await {
            return Ok(reference.to_string());
        }
        match self.aliases.get(reference) {
            Some(local) => Ok(local.clone()),
            None => Err(format!(
                "registry image {reference} is not on this machine and has no alias: \
                 start modal-standin with --image-alias {reference}=LOCAL_IMAGE"
            )),
        }
    }
}

/// Waits for a layer's build to finish.
pub async fn wait_until_done(stored: &StoredImage) -> Result<(), String> {
    let mut progress = stored.progress.subscribe();
    loop {
        if let Some(outcome) = progress.borrow_and_update().outcome.clone() {
            return outcome;
        }
        if progress.changed().await.is_err() {
            return Err("build abandoned".into());
        }
    }
}

fn docker_ref(image_id: &str) -> String {
    format!("mngr-modal-standin:{image_id}")
}

/// The image a `FROM` line names (flags such as `--platform` skipped, `AS name` ignored).
fn from_reference(command: &str) -> Option<&str> {
    let mut words = command.split_whitespace();
    if !words.next()?.eq_ignore_ascii_case("FROM") {
        return None;
    }
    words.find(|word| !word.starts_with("--"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_lines_name_their_image() {
        assert_eq!(from_reference("FROM base"), Some("base"));
        assert_eq!(
            from_reference("from --platform=linux/amd64 debian:bookworm AS b"),
            Some("debian:bookworm")
        );
        assert_eq!(from_reference("RUN echo FROM x"), None);
    }
}
