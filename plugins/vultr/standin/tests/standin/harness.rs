//! A stand-in process per test, a small HTTP client for its API, and polling helpers.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const KEY: &str = "test-api-key-0123456789";

pub struct StandIn {
    child: Child,
    /// `127.0.0.1:PORT`
    authority: String,
}

pub struct Answer {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Value,
}

/// The workspace's target directory (the stand-in binary lives in target/debug).
pub fn target_dir() -> PathBuf {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_vultr-standin"));
    exe.parent()
        .and_then(|p| p.parent())
        .expect("target/<profile>/vultr-standin")
        .to_path_buf()
}

impl StandIn {
    /// Start `vultr-standin` with extra flags and wait for its base URL.
    pub fn start(extra: &[&str]) -> StandIn {
        let mut child = Command::new(env!("CARGO_BIN_EXE_vultr-standin"))
            .args(["--listen", "127.0.0.1:0", "--api-key", KEY])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting vultr-standin");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("reading the base URL");
        let base = line.trim().to_string();
        assert!(
            base.starts_with("http://127.0.0.1:") && base.ends_with("/v2"),
            "unexpected first line {line:?}"
        );
        let authority = base
            .trim_start_matches("http://")
            .trim_end_matches("/v2")
            .to_string();
        StandIn { child, authority }
    }

    pub fn port(&self) -> u16 {
        self.authority
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("a port")
    }

    /// A request with the right key. `path` is relative to the server root (`/v2/...`).
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        self.call_as(Some(KEY), method, path, body).await
    }

    pub async fn call_as(
        &self,
        key: Option<&str>,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Answer {
        let stream = tokio::net::TcpStream::connect(&self.authority)
            .await
            .expect("connecting to the stand-in");
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        tokio::spawn(connection);
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.authority)
            .header("content-type", "application/json");
        if let Some(key) = key {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        let body = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        let response = sender
            .send_request(request.body(Full::new(body)).expect("a request"))
            .await
            .expect("an answer");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("a body")
            .to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("a JSON body")
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn control(&self, route: &str, body: Value) {
        let answer = self
            .call_as(None, "POST", &format!("/__standin/{route}"), Some(body))
            .await;
        assert_eq!(answer.status, 200, "control {route}: {}", answer.body);
    }

    pub async fn instance(&self, id: &str) -> Value {
        let answer = self.call("GET", &format!("/v2/instances/{id}"), None).await;
        assert_eq!(answer.status, 200, "GET instance {id}: {}", answer.body);
        answer.body["instance"].clone()
    }

    /// Poll the instance until `done` holds; panics with the last state on timeout.
    pub async fn wait_for(
        &self,
        id: &str,
        what: &str,
        timeout: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let started = Instant::now();
        loop {
            let instance = self.instance(id).await;
            if done(&instance) {
                return instance;
            }
            assert!(
                started.elapsed() < timeout,
                "instance {id} not {what} after {timeout:?}: status {} power {} server {}",
                instance["status"],
                instance["power_status"],
                instance["server_status"]
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Every item of a list, following `meta.links.next`, and how many pages it took.
    pub async fn list_all(&self, path: &str, key: &str, per_page: usize) -> (Vec<Value>, usize) {
        let (mut items, mut pages, mut cursor) = (Vec::new(), 0, String::new());
        loop {
            let separator = if path.contains('?') { '&' } else { '?' };
            let mut url = format!("{path}{separator}per_page={per_page}");
            if !cursor.is_empty() {
                url.push_str(&format!("&cursor={cursor}"));
            }
            let answer = self.call("GET", &url, None).await;
            assert_eq!(answer.status, 200, "GET {url}: {}", answer.body);
            pages += 1;
            items.extend(answer.body[key].as_array().expect("a list").iter().cloned());
            cursor = answer.body["meta"]["links"]["next"]
                .as_str()
                .expect("a next link")
                .to_string();
            if cursor.is_empty() {
                return (items, pages);
            }
        }
    }
}

impl Drop for StandIn {
    /// SIGTERM lets the stand-in remove its machines; wait so the next test sees them gone.
    fn drop(&mut self) {
        terminate(self.child.id());
        let _ = self.child.wait();
    }
}

fn terminate(pid: u32) {
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
}

/// The body of a create call for a Debian 12 instance.
pub fn create_body(label: &str, user_data: Option<&str>) -> Value {
    use base64::Engine;
    let mut body = json!({
        "region": "ewr", "plan": "vc2-1c-1gb", "os_id": 2136, "label": label,
        "hostname": label, "backups": "disabled", "tags": ["mngr-test=1"],
        // govultr sends these as null when unset.
        "block_devices": null,
    });
    if let Some(user_data) = user_data {
        body["user_data"] = json!(base64::engine::general_purpose::STANDARD.encode(user_data));
    }
    body
}

/// Containers (running or not) and volumes a stand-in made for an instance.
pub fn docker_objects(instance_id: &str) -> (String, String) {
    let ps = Command::new("docker")
        .args([
            "ps",
            "-a",
            "--filter",
            &format!("name=vultr-standin-{instance_id}"),
            "--format={{.Names}}",
        ])
        .output()
        .expect("docker ps");
    let volumes = Command::new("docker")
        .args([
            "volume",
            "ls",
            "--filter",
            &format!("name=vultr-standin-{instance_id}"),
            "--format={{.Name}}",
        ])
        .output()
        .expect("docker volume ls");
    (
        String::from_utf8_lossy(&ps.stdout).trim().to_string(),
        String::from_utf8_lossy(&volumes.stdout).trim().to_string(),
    )
}

/// After a delete: the container is gone at once, its volume within a minute.
pub async fn assert_removed(instance_id: &str) {
    let (containers, _) = docker_objects(instance_id);
    assert_eq!(
        containers, "",
        "instance {instance_id}: its container outlived the delete"
    );
    let started = Instant::now();
    loop {
        let (_, volumes) = docker_objects(instance_id);
        if volumes.is_empty() {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "instance {instance_id}: volume {volumes} left"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

pub fn container_state(instance_id: &str) -> String {
    let out = Command::new("docker")
        .args([
            "inspect",
            "--format={{.State.Status}}",
            &format!("vultr-standin-{instance_id}"),
        ])
        .output()
        .expect("docker inspect");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

pub fn snapshot_image_exists(snapshot_id: &str) -> bool {
    let out = Command::new("docker")
        .args(["images", "mngr-vultr-standin-snapshot", "--format={{.Tag}}"])
        .output()
        .expect("docker images");
    String::from_utf8_lossy(&out.stdout).contains(snapshot_id)
}
