//! A `modal-standin` per test (build it first: `cargo build -p mngr-modal-standin`) and an
//! `Api` of the plugin pointed at it.

use mngr_modal::api::Api;
use mngr_modal::credentials::Credentials;
use std::io::Read;
use std::process::{Child, Command, Stdio};

const TOKEN_ID: &str = "ak-plugin-test";
const TOKEN_SECRET: &str = "as-plugin-test-secret";

pub struct StandIn {
    child: Child,
    pub url: String,
}

impl StandIn {
    /// Started with its stderr piped, for [`StandIn::stop`] to return.
    pub fn start() -> StandIn {
        let exe = std::env::current_exe().expect("test exe");
        let bin = exe
            .parent()
            .and_then(|deps| deps.parent())
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
        while stdout.read(&mut byte).expect("the stand-in's URL") == 1 && byte[0] != b'\n' {
            url.push(byte[0]);
        }
        StandIn {
            child,
            url: String::from_utf8(url).expect("utf8 URL"),
        }
    }

    pub fn api(&self) -> Api {
        Api::new(Credentials {
            token_id: TOKEN_ID.into(),
            token_secret: TOKEN_SECRET.into(),
            server_url: self.url.clone(),
            environment: String::new(),
        })
        .expect("an Api")
    }

    /// Sends SIGTERM, waits for the clean-up, and returns what it said on stderr.
    #[allow(dead_code)] // each test binary compiles this module; not all of them stop by hand
    pub fn stop(mut self) -> String {
        self.finish()
    }

    fn finish(&mut self) -> String {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        // Read to the end (the stand-in's exit closes it), so its last words never hit a
        // closed pipe.
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr);
        }
        let _ = self.child.wait();
        stderr
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        if self.child.stderr.is_some() {
            self.finish();
        }
    }
}
