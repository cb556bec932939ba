//! The images a VPS could pull from a registry, which this machine has none of: saved once
//! from the outer Docker into an archive that every fresh VPS's Docker loads.

use crate::docker::docker;
use std::path::{Path, PathBuf};

/// The archive of `images`, named by their ids so a rebuilt image gets a new one.
pub async fn archive(images: &[String], cache_dir: &Path) -> Result<PathBuf, String> {
    let mut ids = Vec::new();
    for image in images {
        let id = docker(&["image", "inspect", "--format={{.Id}}", image])
            .await
            .map_err(|_| format!("the image '{image}' is missing from Docker; build it (scripts/build-base-image.sh) or pass --no-inner-images"))?;
        ids.push(
            id.trim()
                .trim_start_matches("sha256:")
                .chars()
                .take(16)
                .collect::<String>(),
        );
    }
    let path = cache_dir.join(format!("inner-images-{}.tar", ids.join("-")));
    if path.exists() {
        return Ok(path);
    }
    create_private_dir(cache_dir)
        .map_err(|e| format!("creating the cache directory {}: {e}", cache_dir.display()))?;
    let partial = cache_dir.join(format!(".partial-{}.tar", std::process::id()));
    let partial_text = partial.to_string_lossy().into_owned();
    let mut args = vec!["save", "--output", partial_text.as_str()];
    args.extend(images.iter().map(String::as_str));
    docker(&args).await.map_err(|e| e.0)?;
    std::fs::rename(&partial, &path).map_err(|e| format!("storing {}: {e}", path.display()))?;
    Ok(path)
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}
