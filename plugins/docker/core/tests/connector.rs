//! The Engine driven over streams the test opens itself: what a provider with its own
//! connection to a daemon (an SSH channel to a VPS's socket) does. Needs the local daemon.

use mngr_docker_core::{Connector, Engine};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The local daemon's socket, counting the connections it opens.
struct CountingSocket {
    path: PathBuf,
    opened: Arc<AtomicUsize>,
}

impl Connector for CountingSocket {
    type Stream = tokio::net::UnixStream;

    async fn connect(&self) -> std::io::Result<tokio::net::UnixStream> {
        self.opened.fetch_add(1, Ordering::SeqCst);
        tokio::net::UnixStream::connect(&self.path).await
    }
}

fn local_socket() -> PathBuf {
    let url = std::env::var("DOCKER_HOST").unwrap_or_default();
    PathBuf::from(
        url.strip_prefix("unix://")
            .unwrap_or("/var/run/docker.sock"),
    )
}

#[tokio::test]
async fn the_engine_runs_over_a_callers_connector() {
    let opened = Arc::new(AtomicUsize::new(0));
    let connector = CountingSocket {
        path: local_socket(),
        opened: opened.clone(),
    };
    let engine = Engine::over_connector(connector, "the test's socket", None).unwrap();
    let version = engine
        .call("asking the version", engine.docker.version())
        .await
        .expect("the daemon answers through the connector");
    assert!(version.api_version.is_some_and(|v| !v.is_empty()));
    // A lookup the daemon answers 404 to keeps its meaning through the connector.
    let absent = engine
        .image_exists("mngr-no-such-image-for-connector-test:latest")
        .await
        .unwrap();
    assert!(!absent);
    assert_eq!(opened.load(Ordering::SeqCst), 2, "one stream per request");
}
