//! Files written to a v2 volume through the plugin come back byte for byte, under concurrent
//! writers and block edge cases (empty, all zeros, trailing zeros, several blocks), and the
//! block store never refuses a PUT (a refused one would be hidden by the retry).
//! Runs against `modal-standin` (build it first: `cargo build -p mngr-modal-standin`).

use mngr_modal::api::Api;
use mngr_modal::credentials::Credentials;
use mngr_modal::volume::{BLOCK_SIZE, Volume};
use std::io::Read;
use std::process::{Command, Stdio};

const TOKEN_ID: &str = "ak-volume-test";
const TOKEN_SECRET: &str = "as-volume-test-secret";

fn contents(seed: usize) -> Vec<u8> {
    let sizes = [
        0,
        1,
        BLOCK_SIZE - 1,
        BLOCK_SIZE,
        BLOCK_SIZE + 1,
        2 * BLOCK_SIZE + 5,
        300,
    ];
    let size = sizes[seed % sizes.len()];
    let mut data: Vec<u8> = (0..size)
        .map(|i| ((i * 31 + seed * 7) % 251) as u8)
        .collect();
    match seed % 3 {
        // Trailing zeros inside a block, and a whole zero block in the middle.
        0 => data.extend(vec![0u8; 1000]),
        1 if size > BLOCK_SIZE => data[..BLOCK_SIZE].fill(0),
        _ => {}
    }
    data
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_writes_read_back_exactly_and_no_block_put_is_refused() {
    let exe = std::env::current_exe().expect("test exe");
    let bin = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target dir")
        .join("modal-standin");
    assert!(
        bin.exists(),
        "{} is missing: cargo build -p mngr-modal-standin",
        bin.display()
    );
    let mut child = Command::new(bin)
        .args(["--listen", "127.0.0.1:0"])
        .env("MODAL_STANDIN_TOKEN_ID", TOKEN_ID)
        .env("MODAL_STANDIN_TOKEN_SECRET", TOKEN_SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting modal-standin");
    let mut stdout = child.stdout.take().expect("piped");
    let mut url = Vec::new();
    let mut byte = [0u8];
    while stdout.read(&mut byte).unwrap() == 1 && byte[0] != b'\n' {
        url.push(byte[0]);
    }
    let api = Api::new(Credentials {
        token_id: TOKEN_ID.into(),
        token_secret: TOKEN_SECRET.into(),
        server_url: String::from_utf8(url).unwrap(),
        environment: String::new(),
    })
    .unwrap();
    let volume = Volume::open(&api, "blocks-test").await.unwrap();

    let mut writers = Vec::new();
    for writer in 0..8 {
        let volume = volume.clone();
        writers.push(tokio::spawn(async move {
            for n in 0..7 {
                let seed = writer * 7 + n;
                let path = format!("/w{writer}/f{n}");
                let data = contents(seed);
                volume.write(&path, &data).await.unwrap();
                let back = volume.read(&path).await.unwrap().expect("written");
                assert!(
                    back == data,
                    "{path}: {} bytes back for {}",
                    back.len(),
                    data.len()
                );
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    assert_eq!(volume.list("/").await.unwrap().len(), 56);

    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    child.wait().unwrap();
    assert!(!stderr.contains("refused"), "{stderr}");
}
