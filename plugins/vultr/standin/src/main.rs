//! `vultr-standin`: a Vultr API v2 server on loopback whose instances are real machines
//! (Docker-in-Docker containers booted by Debian's cloud-init). See
//! docs/providers/vultr-standin.md.

mod addresses;
mod app;
mod boot;
mod catalog;
mod cleanup;
mod control;
mod docker;
mod images;
mod instances;
mod machine;
mod model;
mod paging;
mod relay;
mod reply;
mod request;
mod routes;
mod server;
mod snapshots;
mod ssh_keys;

use app::{App, Settings};
use clap::Parser;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// A Vultr API v2 stand-in on loopback whose instances are Docker-in-Docker VPSes, each on its
/// own 127.0.0.N and booted by Debian's real cloud-init from its user_data. Prints its base
/// URL on stdout once it answers; removes every machine it made when it exits.
#[derive(Parser)]
#[command(name = "vultr-standin", version)]
struct Cli {
    /// Address to serve on, e.g. 127.0.0.1:8080 (port 0 picks a free one).
    #[arg(long)]
    listen: SocketAddr,
    /// The API key clients must send as `Authorization: Bearer KEY`.
    #[arg(long, env = "VULTR_STANDIN_API_KEY", hide_env_values = true)]
    api_key: String,
    /// Image VPSes boot from (built by scripts/build-vps-image.sh).
    #[arg(long, default_value = "mngr-vultr-vps:bookworm")]
    vps_image: String,
    /// Image loaded into each new VPS's Docker, as a VPS could pull it (repeatable).
    #[arg(long = "inner-image", default_values_t = ["mngr-base:bookworm".to_string()])]
    inner_images: Vec<String>,
    /// Load no images into new VPSes (faster boots for tests that run no containers).
    #[arg(long, conflicts_with = "inner_images")]
    no_inner_images: bool,
    /// The loopback addresses VPSes get, FIRST-LAST.
    #[arg(long, default_value = "127.0.0.10-127.0.0.250")]
    addresses: String,
    /// Directory for the saved inner-images archive, kept between runs.
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Delay every API answer and every connect to a VPS's ports by this many milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Cap per_page at this (Vultr's own cap is 500).
    #[arg(long, default_value_t = paging::MAX_PER_PAGE)]
    max_page_size: usize,
}

fn main() {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new()
        .unwrap_or_else(|e| fail(format!("starting the runtime: {e}")));
    runtime.block_on(run(cli));
}

fn fail(message: String) -> ! {
    eprintln!("vultr-standin: error: {message}");
    std::process::exit(2);
}

async fn run(cli: Cli) {
    if cli.api_key.trim().is_empty() {
        fail("--api-key (or VULTR_STANDIN_API_KEY) must not be empty".into());
    }
    let addresses = parse_range(&cli.addresses)
        .and_then(|(first, last)| addresses::AddressPool::new(first, last));
    let addresses = addresses.unwrap_or_else(|e| fail(format!("--addresses: {e}")));
    if !image_exists(&cli.vps_image).await {
        fail(format!(
            "the VPS image '{}' is missing; build it with scripts/build-vps-image.sh",
            cli.vps_image
        ));
    }
    let inner_images = if cli.no_inner_images {
        Vec::new()
    } else {
        cli.inner_images
    };
    for image in &inner_images {
        if !image_exists(image).await {
            fail(format!(
                "the inner image '{image}' is missing; build it (scripts/build-base-image.sh) or pass --no-inner-images"
            ));
        }
    }
    let cache_dir = cli
        .cache_dir
        .unwrap_or_else(|| std::env::temp_dir().join("mngr-vultr-standin-cache"));
    let settings = Settings {
        api_key: cli.api_key,
        vps_image: cli.vps_image,
        inner_images,
        cache_dir,
    };
    let knobs = control::Knobs::new(Duration::from_millis(cli.latency_ms), cli.max_page_size);
    let app = Arc::new(App::new(settings, knobs, addresses));

    cleanup::sweep_orphans().await;
    if !app.settings.inner_images.is_empty() {
        // Save the inner images now, so the first boot does not wait for it.
        let app = app.clone();
        tokio::spawn(async move {
            if let Err(e) = app.images_archive().await {
                eprintln!("vultr-standin: error: {e}");
            }
        });
    }
    let listener = tokio::net::TcpListener::bind(cli.listen)
        .await
        .unwrap_or_else(|e| fail(format!("listening on {}: {e}", cli.listen)));
    let local = listener.local_addr().unwrap_or(cli.listen);
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "http://{local}/v2");
    let _ = stdout.flush();

    tokio::select! {
        _ = server::serve(listener, app.clone()) => {}
        _ = shutdown_signal() => {}
    }
    eprintln!("vultr-standin: shutting down; removing its machines and snapshots");
    cleanup::remove_everything(&app).await;
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("a SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("a SIGINT handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

async fn image_exists(image: &str) -> bool {
    docker::docker(&["image", "inspect", "--format=ok", image])
        .await
        .is_ok()
}

fn parse_range(text: &str) -> Result<(Ipv4Addr, Ipv4Addr), String> {
    let (first, last) = text
        .split_once('-')
        .ok_or_else(|| format!("expected FIRST-LAST, got '{text}'"))?;
    let parse = |s: &str| {
        s.trim()
            .parse::<Ipv4Addr>()
            .map_err(|_| format!("'{s}' is not an IPv4 address"))
    };
    Ok((parse(first)?, parse(last)?))
}
