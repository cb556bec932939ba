//! A daemon reached over `ssh://`: a real sshd on loopback, started by the test, in front of
//! this machine's Docker socket. The tunnel uses the system `ssh`, pointed at the test's own
//! client config by a PATH entry that adds `-F CONFIG`, and refuses servers whose host key is
//! not already known.

use crate::common;
use common::*;
use mngr_plugin_api::*;
use serde_json::json;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ALIAS: &str = "mngr-ssh-daemon-test";

/// sshd on 127.0.0.1 with keys of its own, letting in the current user by key only.
struct LoopbackSshd {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl Drop for LoopbackSshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn keygen(path: &Path) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen runs");
    assert!(status.success());
}

impl LoopbackSshd {
    fn start() -> LoopbackSshd {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        keygen(&d.join("host_key"));
        keygen(&d.join("client"));
        std::fs::copy(d.join("client.pub"), d.join("authorized_keys")).unwrap();
        // sshd needs its privilege separation directory when it runs as root.
        let _ = std::fs::create_dir_all("/run/sshd");
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile none\n\
             AuthorizedKeysFile {d}/authorized_keys\nStrictModes no\nUsePAM no\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             PermitRootLogin prohibit-password\nAllowStreamLocalForwarding yes\n",
            d = d.display()
        );
        std::fs::write(d.join("sshd_config"), config).unwrap();
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sshd starts (install openssh-server)");
        let sshd = LoopbackSshd { child, dir, port };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "sshd did not listen"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        sshd
    }

    /// The client side: an ssh config naming this server as ALIAS, a known_hosts file that
    /// holds its key when `trusted`, and an `ssh` on PATH that reads that config.
    fn client_path(&self, trusted: bool) -> PathBuf {
        let d = self.dir.path();
        let user = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout)
            .unwrap()
            .trim()
            .to_string();
        let known = if trusted {
            let key = std::fs::read_to_string(d.join("host_key.pub")).unwrap();
            format!("[127.0.0.1]:{} {}", self.port, key.trim())
        } else {
            String::new()
        };
        std::fs::write(d.join("known_hosts"), known).unwrap();
        std::fs::write(
            d.join("ssh_config"),
            format!(
                "Host {ALIAS}\n  HostName 127.0.0.1\n  Port {port}\n  User {user}\n  IdentityFile {d}/client\n  IdentitiesOnly yes\n  UserKnownHostsFile {d}/known_hosts\n  GlobalKnownHostsFile /dev/null\n",
                port = self.port,
                d = d.display()
            ),
        )
        .unwrap();
        let bin = d.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let real_ssh = real_ssh(&bin);
        let shim = bin.join("ssh");
        std::fs::write(
            &shim,
            format!(
                "#!/bin/sh\nexec {} -F {}/ssh_config \"$@\"\n",
                real_ssh.display(),
                d.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
        bin
    }
}

/// The system `ssh`: the first on PATH that is not the shim itself.
fn real_ssh(shim_dir: &Path) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .filter(|dir| dir != shim_dir)
        .map(|dir| dir.join("ssh"))
        .find(|candidate| candidate.is_file())
        .expect("ssh is installed (openssh-client)")
}

fn put_first_on_path(dir: &Path) {
    let path = std::env::var("PATH").unwrap_or_default();
    // SAFETY: the test runs in a process of its own (`in_own_process`), and this runs before
    // it starts any thread that could read the environment.
    unsafe { std::env::set_var("PATH", format!("{}:{path}", dir.display())) };
}

#[test]
fn a_daemon_over_ssh_makes_hosts_and_an_unknown_server_key_is_refused() {
    // It puts an ssh shim first on PATH, which no other test may see.
    if !in_own_process(
        "ssh_daemon::a_daemon_over_ssh_makes_hosts_and_an_unknown_server_key_is_refused",
    ) {
        return;
    }
    let sshd = LoopbackSshd::start();
    put_first_on_path(&sshd.client_path(false));
    let world = World::new();
    let config = json!({"host": format!("ssh://{ALIAS}"), "ssh_address": "127.0.0.1"});

    // The server's key is not in known_hosts: no trust on first use.
    let refused = world.instance_named("dkssh", config.clone()).unwrap();
    let err = refused.discover_hosts(false).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unavailable, "{err:?}");
    assert!(
        err.message.contains("never trusts an unknown host key"),
        "{}",
        err.message
    );
    drop(refused);

    // With the key known, hosts are made, listed, reached and destroyed through the tunnel.
    sshd.client_path(true);
    let remote = world.instance_named("dkssh", config).unwrap();
    let host = remote
        .create_host(host_request("gamma"))
        .expect("create over ssh://");
    assert_eq!(
        host.details.get("daemon").and_then(|v| v.as_str()),
        Some(format!("ssh://{ALIAS}").as_str())
    );
    let names: Vec<String> = remote
        .discover_hosts(false)
        .unwrap()
        .into_iter()
        .map(|h| h.name.to_string())
        .collect();
    assert_eq!(names, vec!["gamma"]);
    let ep = ssh_endpoint(remote.as_ref(), &host.id);
    assert_eq!(ssh(&ep, "echo via-ssh-daemon").1.trim(), "via-ssh-daemon");
    remote.destroy_host(&host.id).unwrap();
    world.assert_clean();

    // The tunnel ends with the instance: no ssh is left running with the test's config.
    let config_path = sshd.dir.path().join("ssh_config");
    let tunnels = || {
        let out = Command::new("pgrep")
            .arg("-f")
            .arg(config_path.to_str().unwrap())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert!(
        !tunnels().is_empty(),
        "the tunnel runs while the instance lives"
    );
    drop(remote);
    let started = Instant::now();
    while !tunnels().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "ssh still runs after the instance is gone: {}",
            tunnels()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
