//! The block store's HTTP side: volume v2 clients `PUT` and `GET /block/<sha256>` here, on
//! loopback, as Modal's clients do with the URLs `VolumePutFiles2`/`VolumeGetFile2` hand out.

use crate::standin::Standin;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::put;
use std::collections::HashMap;
use std::sync::Arc;

/// Largest block body accepted: one 8 MiB block plus slack.
const MAX_BODY: usize = 9 * 1024 * 1024;

pub fn routes(standin: Arc<Standin>) -> Router {
    Router::new()
        .route("/block/{name}", put(put_block).get(get_block))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(standin)
}

async fn put_block(
    State(standin): State<Arc<Standin>>,
    Path(name): Path<String>,
    body: Bytes,
) -> (StatusCode, String) {
    match standin.volumes.store_block(&name, &body) {
        // The body comes back to us as `put_response`; the block's name is enough.
        Ok(()) => (StatusCode::OK, name),
        Err(e) => {
            // Said on stderr too: a client that retries would otherwise hide it.
            eprintln!("modal-standin: block PUT {name} refused: {e}");
            (StatusCode::BAD_REQUEST, e)
        }
    }
}

async fn get_block(
    State(standin): State<Arc<Standin>>,
    Path(name): Path<String>,
    Query(range): Query<HashMap<String, usize>>,
) -> Result<Vec<u8>, StatusCode> {
    let data = standin
        .volumes
        .read_block(&name)
        .ok_or(StatusCode::NOT_FOUND)?;
    // Stored blocks are zero-stripped: a range past their end is the zeros the client pads.
    let from = range.get("from").copied().unwrap_or(0).min(data.len());
    let to = range
        .get("to")
        .copied()
        .unwrap_or(data.len())
        .clamp(from, data.len());
    Ok(data[from..to].to_vec())
}
