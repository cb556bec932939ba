//! `modal-standin`: a Modal gRPC server on loopback whose sandboxes are containers on this
//! machine's Docker Engine, whose images are built layer by layer with `docker build`, whose
//! snapshots are committed images and whose volumes are real block stores. Modal's own Python
//! client accepts it. See docs/providers/modal-standin.md.

mod auth;
mod control;
mod docker;
mod exec;
mod faults;
mod http;
mod ids;
mod images;
mod listing;
mod router;
mod sandboxes;
mod snapshots;
mod standin;
mod transport;
mod volumes;

use clap::Parser;
use mngr_modal_proto::client::modal_client_server::ModalClientServer;
use mngr_modal_proto::task_command_router::task_command_router_server::TaskCommandRouterServer;
use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};

/// Largest gRPC message accepted or sent (Modal's clients allow about 100 MB).
const MAX_MESSAGE: usize = 100 * 1024 * 1024;

/// A Modal control-plane and command-router server on loopback (plaintext h2c gRPC, or TLS
/// with --tls-cert/--tls-key). Prints its URL (for MODAL_SERVER_URL) on stdout once it
/// answers; on SIGTERM or SIGINT removes every container and image it made.
#[derive(Parser)]
#[command(name = "modal-standin", version)]
struct Cli {
    /// Address to serve gRPC on, e.g. 127.0.0.1:8080 (port 0 picks a free one).
    #[arg(long)]
    listen: SocketAddr,
    /// The token id clients must send (as MODAL_TOKEN_ID).
    #[arg(long, env = "MODAL_STANDIN_TOKEN_ID", hide_env_values = true)]
    token_id: String,
    /// The token secret clients must send (as MODAL_TOKEN_SECRET).
    #[arg(long, env = "MODAL_STANDIN_TOKEN_SECRET", hide_env_values = true)]
    token_secret: String,
    /// Local image standing in for a registry name this machine lacks, REF=LOCAL (repeatable).
    #[arg(long = "image-alias", value_name = "REF=LOCAL", default_values_t = default_aliases())]
    image_aliases: Vec<String>,
    /// Test only: fail the first N calls of RPC with UNAVAILABLE, RPC=N (repeatable).
    #[arg(long = "unavailable", value_name = "RPC=N")]
    unavailable: Vec<String>,
    /// Directory for block storage and build contexts (default: a new temp dir, removed on exit).
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// The value of the `mngr-modal-standin` label on every container and image it makes
    /// (default: random), so a test can find what this stand-in left.
    #[arg(long)]
    instance: Option<String>,
    /// Serve TLS with this PEM certificate chain (with --tls-key): gRPC, the command router
    /// and the block store are then https:// URLs, as on real Modal.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

fn default_aliases() -> Vec<String> {
    [
        "debian:bookworm-slim",
        "debian:bookworm",
        "debian:12",
        "debian:12-slim",
    ]
    .map(|reference| format!("{reference}=mngr-base:bookworm"))
    .into()
}

fn parse_aliases(specs: &[String]) -> Result<HashMap<String, String>, String> {
    specs
        .iter()
        .map(|spec| {
            spec.split_once('=')
                .map(|(from, to)| (from.to_string(), to.to_string()))
                .ok_or_else(|| format!("--image-alias {spec}: expected REF=LOCAL_IMAGE"))
        })
        .collect()
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli).await {
        eprintln!("modal-standin: {e}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let aliases = parse_aliases(&cli.image_aliases)?;
    let tls = match (&cli.tls_cert, &cli.tls_key) {
        (Some(cert), Some(key)) => Some(transport::TlsFiles::load(cert, key)?),
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let faults = faults::Faults::parse(&cli.unavailable)?;
    let (state_dir, temp_dir) = match cli.state_dir {
        Some(dir) => (dir, None),
        None => {
            let temp = tempfile::Builder::new()
                .prefix("modal-standin-")
                .tempdir()
                .map_err(|e| e.to_string())?;
            (temp.path().to_path_buf(), Some(temp))
        }
    };
    let grpc = TcpListener::bind(cli.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", cli.listen))?;
    let grpc_addr = grpc.local_addr().map_err(|e| e.to_string())?;
    let blocks = TcpListener::bind((grpc_addr.ip(), 0))
        .await
        .map_err(|e| format!("block store listener: {e}"))?;
    let blocks_addr = blocks.local_addr().map_err(|e| e.to_string())?;

    let docker = docker::Docker {
        instance: cli
            .instance
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string()),
    };
    let standin = Arc::new(standin::Standin {
        auth: auth::Auth::new(cli.token_id, cli.token_secret),
        faults,
        images: Arc::new(images::Images::new(
            docker.clone(),
            state_dir.clone(),
            aliases,
        )),
        sandboxes: Arc::new(sandboxes::Sandboxes::new(docker.clone())),
        volumes: volumes::Volumes::new(
            state_dir.join("blocks"),
            format!("{scheme}://{blocks_addr}"),
        )
        .map_err(|e| format!("block store in {}: {e}", state_dir.display()))?,
        grpc_addr: grpc_addr.to_string(),
        tls: tls.is_some(),
        environment_id: ids::environment(),
        apps: Default::default(),
        snapshots_taken: Default::default(),
        docker: docker.clone(),
    });

    let block_routes = http::routes(standin.clone());
    let blocks = transport::incoming(blocks, tls.as_ref(), b"http/1.1")?;
    tokio::spawn(async move { axum::serve(blocks, block_routes).await });

    let control = ModalClientServer::new(control::Control(standin.clone()))
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE);
    let router = TaskCommandRouterServer::new(router::Router(standin.clone()))
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE);
    let incoming = transport::incoming(grpc, tls.as_ref(), b"h2")?.into_stream();
    let server = tonic::transport::Server::builder()
        .add_service(control)
        .add_service(router)
        .serve_with_incoming_shutdown(incoming, shutdown_signal());

    println!("{scheme}://{grpc_addr}");
    let _ = std::io::stdout().flush();
    let served = server.await.map_err(|e| format!("gRPC server: {e}"));
    docker.remove_everything().await;
    drop(temp_dir);
    served
}

async fn shutdown_signal() {
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
