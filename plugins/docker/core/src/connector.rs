//! Engine requests over streams the caller opens. A [`Connector`] opens one byte stream to a
//! daemon's API socket per request; each request is one HTTP/1.1 exchange on its own stream,
//! with upgrades kept possible for exec and attach.
//!
//! This is how a daemon that is not reachable by URL is driven: the `ssh://` tunnel
//! (`ssh_tunnel.rs`) connects to a local socket forwarded by the system `ssh`, and a provider
//! that already holds an SSH connection to a machine (the VPS-Docker base, over mngr's own
//! russh session) implements `connect` by opening a `direct-streamlocal` channel to
//! `/var/run/docker.sock` on it and returning the channel as the stream
//! (`russh::Channel::into_stream()` is `AsyncRead + AsyncWrite`). Build the engine with
//! [`crate::Engine::over_connector`].

use bollard::{BollardRequest, Docker};
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};

/// Opens a fresh stream to a Docker daemon's API for each Engine request.
pub trait Connector: Send + Sync + 'static {
    /// A connection to the daemon's API socket.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// Open one connection.
    fn connect(&self) -> impl Future<Output = std::io::Result<Self::Stream>> + Send;
}

/// A Bollard client whose every request goes over a stream from `connector`.
pub fn docker_over<C: Connector>(connector: C) -> Result<Docker, String> {
    let connector = Arc::new(connector);
    let transport = move |request: BollardRequest| {
        let connector = connector.clone();
        async move {
            let stream = connector.connect().await?;
            send(stream, request).await
        }
    };
    Docker::connect_with_custom_transport(
        transport,
        Some("http://docker"),
        120,
        bollard::API_DEFAULT_VERSION,
    )
    .map_err(|e| e.to_string())
}

/// One HTTP/1.1 exchange over `stream`.
async fn send<S>(
    stream: S,
    request: BollardRequest,
) -> Result<hyper::Response<hyper::body::Incoming>, bollard::errors::Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection.with_upgrades());
    let (mut parts, body) = request.into_parts();
    // The daemon wants origin-form targets: /v1.xx/containers/json?...
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".to_string());
    parts.uri = path
        .parse()
        .map_err(|e: hyper::http::uri::InvalidUri| std::io::Error::other(e.to_string()))?;
    parts.headers.insert(
        hyper::header::HOST,
        hyper::header::HeaderValue::from_static("docker"),
    );
    Ok(sender
        .send_request(hyper::Request::from_parts(parts, body))
        .await?)
}
