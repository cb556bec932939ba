//! The stand-in against real clients: the API's wire behaviour (auth, errors, paging, the
//! fault knobs), a real VPS booted by Debian's cloud-init and reached over pinned SSH through
//! halt, start, snapshot and delete, and apache-libcloud's Vultr v2 driver.

mod harness;
mod ssh;

use harness::{StandIn, container_state, create_body};
use russh::keys::PublicKey;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const BOOT_TIMEOUT: Duration = Duration::from_secs(240);

#[tokio::test]
async fn the_api_speaks_vultr_auth_errors_paging_and_fault_knobs() {
    let standin = StandIn::start(&["--no-inner-images"]);

    // Bearer auth: a wrong or missing key gets Vultr's 401 body, as exact JSON.
    for key in [Some("wrong"), None] {
        let refused = standin.call_as(key, "GET", "/v2/instances", None).await;
        assert_eq!(refused.status, 401);
        assert_eq!(
            refused.body,
            json!({"error": "Invalid API token.", "status": 401})
        );
        assert_eq!(refused.headers["content-type"], "application/json");
    }
    // The catalogue needs no key.
    let regions = standin.call_as(None, "GET", "/v2/regions", None).await;
    assert_eq!(regions.status, 200);
    assert!(
        regions.body["regions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == "ewr")
    );
    let os = standin.call_as(None, "GET", "/v2/os", None).await;
    assert!(
        os.body["os"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["id"] == 2136)
    );

    // Errors in Vultr's shape.
    let missing = standin
        .call(
            "GET",
            "/v2/instances/00000000-0000-0000-0000-000000000000",
            None,
        )
        .await;
    assert_eq!(
        (missing.status, missing.body["error"].as_str()),
        (404, Some("Invalid instance-id."))
    );
    let gone = standin
        .call(
            "DELETE",
            "/v2/instances/00000000-0000-0000-0000-000000000000",
            None,
        )
        .await;
    assert_eq!(gone.status, 404);
    let mut bad_region = create_body("x", None);
    bad_region["region"] = json!("nowhere");
    assert_eq!(
        standin
            .call("POST", "/v2/instances", Some(bad_region))
            .await
            .status,
        400
    );
    let mut bad_backups = create_body("x", None);
    bad_backups["backups"] = json!("maybe");
    let refused = standin
        .call("POST", "/v2/instances", Some(bad_backups))
        .await;
    assert_eq!(
        refused.body["error"],
        "Backups option must be either enabled or disabled."
    );

    // SSH keys: create (201), read, update (204), and paging across pages.
    let mut ids = Vec::new();
    for n in 0..5 {
        let key = ssh::generate().public_openssh;
        let created = standin
            .call(
                "POST",
                "/v2/ssh-keys",
                Some(json!({"name": format!("k{n}"), "ssh_key": key})),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.body);
        ids.push(created.body["ssh_key"]["id"].as_str().unwrap().to_string());
    }
    let bad_key = standin
        .call(
            "POST",
            "/v2/ssh-keys",
            Some(json!({"name": "bad", "ssh_key": "not a key"})),
        )
        .await;
    assert_eq!(bad_key.status, 400);
    let renamed = standin
        .call(
            "PATCH",
            &format!("/v2/ssh-keys/{}", ids[0]),
            Some(json!({"name": "renamed"})),
        )
        .await;
    assert_eq!((renamed.status, &renamed.body), (204, &Value::Null));
    let one = standin
        .call("GET", &format!("/v2/ssh-keys/{}", ids[0]), None)
        .await;
    assert_eq!(one.body["ssh_key"]["name"], "renamed");

    let (keys, pages) = standin.list_all("/v2/ssh-keys", "ssh_keys", 2).await;
    assert_eq!(pages, 3);
    let listed: Vec<&str> = keys.iter().map(|k| k["id"].as_str().unwrap()).collect();
    assert_eq!(listed, ids.iter().map(String::as_str).collect::<Vec<_>>());
    let first = standin.call("GET", "/v2/ssh-keys?per_page=2", None).await;
    assert_eq!(first.body["meta"]["total"], 5);
    assert_eq!(first.body["meta"]["links"]["prev"], "");
    // A small page size set through the control path wins over a large per_page.
    standin.control("page-size", json!({"max": 2})).await;
    let (keys, pages) = standin.list_all("/v2/ssh-keys", "ssh_keys", 500).await;
    assert_eq!((keys.len(), pages), (5, 3));

    // 429 with Retry-After for the next two requests, then normal answers.
    standin
        .control(
            "faults",
            json!({"status": 429, "count": 2, "retry_after": 3}),
        )
        .await;
    for _ in 0..2 {
        let limited = standin.call("GET", "/v2/ssh-keys", None).await;
        assert_eq!(limited.status, 429);
        assert_eq!(limited.headers["retry-after"], "3");
        assert_eq!(limited.body["status"], 429);
    }
    assert_eq!(standin.call("GET", "/v2/ssh-keys", None).await.status, 200);
    standin
        .control("faults", json!({"status": 500, "count": 1}))
        .await;
    let failed = standin.call("GET", "/v2/ssh-keys", None).await;
    assert_eq!(failed.status, 500);
    assert!(!failed.headers.contains_key("retry-after"));
    assert_eq!(standin.call("GET", "/v2/ssh-keys", None).await.status, 200);

    // Latency on every answer.
    standin.control("latency", json!({"ms": 300})).await;
    let started = Instant::now();
    assert_eq!(standin.call("GET", "/v2/ssh-keys", None).await.status, 200);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "answered in {:?}",
        started.elapsed()
    );
    standin.control("latency", json!({"ms": 0})).await;

    for id in &ids {
        assert_eq!(
            standin
                .call("DELETE", &format!("/v2/ssh-keys/{id}"), None)
                .await
                .status,
            204
        );
    }
    assert_eq!(
        standin.call("GET", "/v2/ssh-keys", None).await.body["meta"]["total"],
        0
    );
}

/// A cloud-config as a VPS provider sends it: a pre-generated host key, root's authorized key,
/// a file and commands.
fn cloud_config(host: &ssh::KeyPair, client_public: &str, proof: &str) -> String {
    let private: String = host
        .private_openssh
        .lines()
        .map(|l| format!("    {l}\n"))
        .collect();
    format!(
        "#cloud-config\nssh_deletekeys: true\nssh_keys:\n  ed25519_private: |\n{private}  ed25519_public: {}\n\
         disable_root: false\nssh_pwauth: false\nssh_authorized_keys:\n  - {client_public}\n\
         write_files:\n  - path: /etc/mngr-proof\n    content: {proof}\n    permissions: '0600'\n\
         runcmd:\n  - echo \"runcmd saw $(cat /etc/mngr-proof)\" > /root/runcmd-proof\n  - systemctl enable --now docker\n  - touch /var/run/mngr-ready\n",
        host.public_openssh
    )
}

fn public(key: &ssh::KeyPair) -> PublicKey {
    PublicKey::from_openssh(&key.public_openssh).expect("a public key")
}

struct Booted {
    id: String,
    address: String,
    create_to_ok: Duration,
    ok_to_ssh: Duration,
}

/// Create an instance from `body`, check its first answer, wait for ok, then for pinned SSH.
async fn boot(
    standin: &StandIn,
    body: Value,
    host: &ssh::KeyPair,
    client: &ssh::KeyPair,
) -> Booted {
    let started = Instant::now();
    let created = standin.call("POST", "/v2/instances", Some(body)).await;
    assert_eq!(created.status, 202, "{}", created.body);
    let instance = &created.body["instance"];
    assert_eq!(
        (
            instance["status"].as_str(),
            instance["server_status"].as_str()
        ),
        (Some("pending"), Some("none"))
    );
    assert_eq!(instance["main_ip"], "0.0.0.0");
    assert!(
        instance["default_password"]
            .as_str()
            .is_some_and(|p| p.len() >= 16)
    );
    let id = instance["id"].as_str().unwrap().to_string();
    let ok = standin
        .wait_for(&id, "ok", BOOT_TIMEOUT, |i| i["server_status"] == "ok")
        .await;
    let create_to_ok = started.elapsed();
    assert_eq!(
        (ok["status"].as_str(), ok["power_status"].as_str()),
        (Some("active"), Some("running"))
    );
    assert!(
        ok.get("default_password").is_none(),
        "GET must not answer the password"
    );
    let address = ok["main_ip"].as_str().unwrap().to_string();
    assert!(
        address.starts_with("127.0.0.") && address != "127.0.0.1",
        "{address}"
    );
    let at_ok = Instant::now();
    ssh::run_when_up(
        &address,
        &public(host),
        &client.private,
        "true",
        Duration::from_secs(30),
    )
    .await;
    Booted {
        id,
        address,
        create_to_ok,
        ok_to_ssh: at_ok.elapsed(),
    }
}

#[tokio::test]
async fn a_vps_boots_by_cloud_init_and_lives_through_halt_start_snapshot_and_delete() {
    let standin = StandIn::start(&[]);
    let (host, client) = (ssh::generate(), ssh::generate());
    let body = create_body(
        "vps-one",
        Some(&cloud_config(&host, &client.public_openssh, "first-boot")),
    );
    let vps = boot(&standin, body, &host, &client).await;
    eprintln!(
        "boot figures: create->ok {:.1}s, ok->ssh {:.2}s",
        vps.create_to_ok.as_secs_f64(),
        vps.ok_to_ssh.as_secs_f64()
    );

    // Pinned to the generated key: another key is refused.
    let wrong = ssh::generate();
    assert!(
        ssh::run(&vps.address, &public(&wrong), &client.private, "true")
            .await
            .is_err()
    );
    // write_files, runcmd and the marker happened; sshd serves only the supplied host key; the
    // inner Docker runs containers of the image mngr uses.
    let check = "cat /root/runcmd-proof; stat -c %a /etc/mngr-proof; test -e /var/run/mngr-ready && echo marker; \
                 ls /etc/ssh/ssh_host_*; cloud-init status; docker info --format 'driver={{.Driver}}'; \
                 docker run --rm mngr-base:bookworm echo inner-container-ran; \
                 curl -s -m 3 http://169.254.169.254/ >/dev/null && echo metadata-answered || echo no-metadata; \
                 docker run --rm mngr-base:bookworm timeout 3 bash -c 'exec 3<>/dev/tcp/169.254.169.254/80' \
                   && echo inner-metadata-answered || echo inner-no-metadata";
    let (code, out) = ssh::run(&vps.address, &public(&host), &client.private, check)
        .await
        .unwrap();
    assert_eq!(code, 0, "{out}");
    for expected in [
        "runcmd saw first-boot",
        "600",
        "marker",
        "status: done",
        "driver=overlay2",
        "inner-container-ran",
        "no-metadata",
        "inner-no-metadata",
    ] {
        assert!(
            out.lines().any(|l| l == expected),
            "missing the line {expected:?} in:\n{out}"
        );
    }
    let host_keys: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("/etc/ssh/ssh_host_"))
        .collect();
    assert_eq!(
        host_keys,
        [
            "/etc/ssh/ssh_host_ed25519_key",
            "/etc/ssh/ssh_host_ed25519_key.pub"
        ]
    );
    // The user data reads back as sent.
    let user_data = standin
        .call("GET", &format!("/v2/instances/{}/user-data", vps.id), None)
        .await;
    assert_eq!(user_data.status, 200);

    // Halt really stops the machine; start boots it again, with its files.
    let halted = standin
        .call("POST", &format!("/v2/instances/{}/halt", vps.id), None)
        .await;
    assert_eq!(halted.status, 204);
    assert_eq!(standin.instance(&vps.id).await["power_status"], "stopped");
    assert_eq!(container_state(&vps.id), "exited");
    assert!(
        ssh::run(&vps.address, &public(&host), &client.private, "true")
            .await
            .is_err()
    );
    assert_eq!(
        standin
            .call("POST", &format!("/v2/instances/{}/start", vps.id), None)
            .await
            .status,
        204
    );
    standin
        .wait_for(&vps.id, "ok again", BOOT_TIMEOUT, |i| {
            i["server_status"] == "ok" && i["power_status"] == "running"
        })
        .await;
    let (_, out) = ssh::run_when_up(
        &vps.address,
        &public(&host),
        &client.private,
        "cat /root/runcmd-proof; docker images -q mngr-base:bookworm",
        Duration::from_secs(30),
    )
    .await;
    assert!(
        out.contains("runcmd saw first-boot") && out.lines().count() == 2,
        "{out}"
    );

    // A snapshot carries the disk and the inner Docker's images; an instance made from it boots
    // as a new instance, so cloud-init applies the new user_data (new host key, new files).
    let snap = standin
        .call(
            "POST",
            "/v2/snapshots",
            Some(json!({"instance_id": vps.id, "description": "after-first-boot"})),
        )
        .await;
    assert_eq!(snap.status, 201, "{}", snap.body);
    assert_eq!(snap.body["snapshot"]["status"], "pending");
    let snapshot_id = snap.body["snapshot"]["id"].as_str().unwrap().to_string();
    let started = Instant::now();
    loop {
        let got = standin
            .call("GET", &format!("/v2/snapshots/{snapshot_id}"), None)
            .await;
        if got.body["snapshot"]["status"] == "complete" {
            assert!(got.body["snapshot"]["size"].as_u64().unwrap() > 0);
            break;
        }
        assert!(
            started.elapsed() < BOOT_TIMEOUT,
            "snapshot still {}",
            got.body
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!(
        "snapshot figure: {:.1}s to complete",
        started.elapsed().as_secs_f64()
    );
    let (host2, client2) = (ssh::generate(), ssh::generate());
    let mut body = create_body(
        "vps-two",
        Some(&cloud_config(
            &host2,
            &client2.public_openssh,
            "second-boot",
        )),
    );
    body.as_object_mut().unwrap().remove("os_id");
    body["snapshot_id"] = json!(snapshot_id);
    let restored = boot(&standin, body, &host2, &client2).await;
    eprintln!(
        "boot from snapshot figures: create->ok {:.1}s, ok->ssh {:.2}s",
        restored.create_to_ok.as_secs_f64(),
        restored.ok_to_ssh.as_secs_f64()
    );
    assert_ne!(restored.address, vps.address);
    let (code, out) = ssh::run(
        &restored.address,
        &public(&host2),
        &client2.private,
        "cat /root/runcmd-proof; hostname; docker run --rm mngr-base:bookworm echo from-snapshot",
    )
    .await
    .unwrap();
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("runcmd saw second-boot")
            && out.contains("vps-two")
            && out.contains("from-snapshot"),
        "{out}"
    );
    assert!(
        ssh::run(&restored.address, &public(&host), &client2.private, "true")
            .await
            .is_err(),
        "the old host key must be gone"
    );

    // Delete removes each machine and its volume; the snapshot goes with its image.
    for id in [&vps.id, &restored.id] {
        assert_eq!(
            standin
                .call("DELETE", &format!("/v2/instances/{id}"), None)
                .await
                .status,
            204
        );
        assert_eq!(
            standin
                .call("GET", &format!("/v2/instances/{id}"), None)
                .await
                .status,
            404
        );
        harness::assert_removed(id).await;
    }
    assert_eq!(
        standin
            .call("DELETE", &format!("/v2/snapshots/{snapshot_id}"), None)
            .await
            .status,
        204
    );
    assert_eq!(
        standin
            .call("GET", &format!("/v2/snapshots/{snapshot_id}"), None)
            .await
            .status,
        404
    );
    let started = Instant::now();
    while harness::snapshot_image_exists(&snapshot_id) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the snapshot image is left"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn apache_libcloud_creates_lists_across_pages_and_destroys() {
    let python = libcloud_python();
    let standin = StandIn::start(&["--no-inner-images", "--max-page-size", "1"]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/libcloud_check.py");
    let started = Instant::now();
    let out = std::process::Command::new(&python)
        .args([
            script,
            "127.0.0.1",
            &standin.port().to_string(),
            harness::KEY,
        ])
        .output()
        .expect("running the libcloud check");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "libcloud check failed:\n{text}");
    eprintln!(
        "libcloud check: {:.1}s\n{text}",
        started.elapsed().as_secs_f64()
    );
    let ids: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("destroyed "))
        .collect();
    assert_eq!(ids.len(), 2, "{text}");
    for id in ids {
        harness::assert_removed(id).await;
    }
}

/// A Python with apache-libcloud from PyPI, in a venv under target/ (made on first use).
fn libcloud_python() -> std::path::PathBuf {
    let venv = harness::target_dir().join("libcloud-venv");
    let python = venv.join("bin/python");
    let has = |python: &std::path::Path| {
        std::process::Command::new(python)
            .args(["-c", "import libcloud"])
            .status()
            .is_ok_and(|s| s.success())
    };
    if !has(&python) {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../scripts/libcloud-venv.sh"
        );
        let status = std::process::Command::new(script)
            .arg(&venv)
            .status()
            .expect("running scripts/libcloud-venv.sh");
        assert!(
            status.success(),
            "scripts/libcloud-venv.sh could not install apache-libcloud into {}",
            venv.display()
        );
    }
    python
}
