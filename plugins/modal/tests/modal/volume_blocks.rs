//! Files written to a v2 volume through the plugin come back byte for byte, under concurrent
//! writers and block edge cases (empty, all zeros, trailing zeros, several blocks), and the
//! block store never refuses a PUT (a refused one would be hidden by the retry).
//! Runs against `modal-standin` (build it first: `cargo build -p mngr-modal-standin`).

use crate::common;

use mngr_modal::volume::{BLOCK_SIZE, Volume};

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
    let standin = common::StandIn::start();
    let api = standin.api();
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

    let stderr = standin.stop();
    assert!(!stderr.contains("refused"), "{stderr}");
}
