//! Filesystem snapshots: `docker commit` of the sandbox's container, registered as a finished
//! image that later creates can name. A retried snapshot (same client snapshot id) returns the
//! same image.

use crate::sandboxes::SandboxRecord;
use crate::standin::Standin;
pub async fn snapshot(
    standin: &Standin,
    record: &SandboxRecord,
    snapshot_id: &str,
) -> Result<String, String> {
    if let Some(image_id) = standin.snapshots_taken.lock().unwrap().get(snapshot_id) {
        return Ok(image_id.clone());
    }
    let image_id = crate::ids::image();
    let stored = standin.images.add_built(&image_id);
    let label = format!("LABEL {}", standin.docker.label());
    let committed = standin
        .docker
        .run([
            "commit",
            "-c",
            label.as_str(),
            record.container.as_str(),
            stored.docker_ref.as_str(),
        ])
        .await;
    if let Err(e) = committed {
        let _ = standin.images.delete(&image_id).await;
        return Err(format!("snapshot of {} failed: {e}", record.id));
    }
    if !snapshot_id.is_empty() {
        standin
            .snapshots_taken
            .lock()
            .unwrap()
            .insert(snapshot_id.to_string(), image_id.clone());
    }
    Ok(image_id)
}
