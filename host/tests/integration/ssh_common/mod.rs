//! Helpers for tests of the ssh backend: machines that already exist (containers of the base
//! image running only sshd, with a host key and authorized key the test made), an address
//! whose SYNs get no answer, and a mngr world whose settings list them as a pool.

use crate::common::agents::AgentWorld;
use crate::docker_common::{BASE_IMAGE, force_cleanup, require_base_image, unique};
use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The ssh plugin beside the `mngr` binary, where mngr finds it.
pub fn plugin_path() -> PathBuf {
    crate::common::fixtures::plugin_beside_mngr(&format!(
        "{}mngr_ssh{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ))
}

/// `ssh-keygen` a fresh ed25519 key pair at `path` (and `path.pub`); the public line.
pub fn keygen(path: &Path) -> String {
    keygen_of("ed25519", path)
}

/// `ssh-keygen` a fresh key pair of `kind` (`ed25519`, `rsa`) at `path`; the public line.
pub fn keygen_of(kind: &str, path: &Path) -> String {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", kind, "-N", "", "-C", "test", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen runs");
    assert!(status.success());
    let line = std::fs::read_to_string(path.with_extension("pub")).unwrap();
    line.split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

/// An existing machine: a container with sshd only, on a loopback port. Removed on drop.
pub struct Machine {
    pub container: String,
    pub port: u16,
    /// Its host key, `TYPE BASE64`.
    pub host_key: String,
    /// Its second host key (RSA), when it was started with one.
    pub rsa_key: Option<String>,
    _keys: tempfile::TempDir,
}

impl Machine {
    /// A machine named `<prefix><n>` that lets in the holder of `client_pub`; with `rsa_too`
    /// it holds an RSA host key besides the ed25519 one (and prefers ed25519).
    pub fn start(prefix: &str, n: usize, client_pub: &str, rsa_too: bool) -> Machine {
        require_base_image();
        let keys = tempfile::tempdir().unwrap();
        let host_key = keygen(&keys.path().join("ssh_host_ed25519_key"));
        let rsa_key = rsa_too.then(|| keygen_of("rsa", &keys.path().join("ssh_host_rsa_key")));
        let extra = if rsa_too {
            " -h /keys/ssh_host_rsa_key"
        } else {
            ""
        };
        std::fs::write(
            keys.path().join("authorized_keys"),
            format!("{client_pub}\n"),
        )
        .unwrap();
        let container = format!("{prefix}m{n}");
        let script = format!(
            "mkdir -p /run/sshd /root/.ssh && cp /keys/authorized_keys /root/.ssh/ \
            && chmod 600 /root/.ssh/authorized_keys \
            && exec /usr/sbin/sshd -D -e -h /keys/ssh_host_ed25519_key{extra} -o PasswordAuthentication=no"
        );
        let out = Command::new("docker")
            .args([
                "run",
                "-d",
                "--name",
                &container,
                "-p",
                "127.0.0.1::22",
                "-v",
            ])
            .arg(format!("{}:/keys:ro", keys.path().display()))
            .args(["--entrypoint", "sh", BASE_IMAGE, "-c", &script])
            .output()
            .expect("docker runs");
        assert!(
            out.status.success(),
            "docker run: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port_out = Command::new("docker")
            .args(["port", &container, "22/tcp"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&port_out.stdout);
        let port: u16 = text
            .lines()
            .next()
            .and_then(|l| l.rsplit(':').next())
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("no port for {container}: {text}"));
        let machine = Machine {
            container,
            port,
            host_key,
            rsa_key,
            _keys: keys,
        };
        machine.wait_for_sshd();
        machine
    }

    fn wait_for_sshd(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let addr: SocketAddr = ([127, 0, 0, 1], self.port).into();
        while Instant::now() < deadline {
            if let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
                s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
                let mut banner = [0u8; 4];
                if s.read_exact(&mut banner).is_ok() && &banner == b"SSH-" {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("sshd in {} never answered", self.container);
    }

    /// `docker pause|unpause|...` on the machine.
    pub fn docker(&self, verb: &str) {
        let out = Command::new("docker")
            .args([verb, &self.container])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "docker {verb}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A command run inside the machine (not through mngr), its stdout.
    pub fn sh(&self, script: &str) -> String {
        let out = Command::new("docker")
            .args(["exec", &self.container, "sh", "-c", script])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", &self.container])
            .output();
    }
}

/// A loopback address whose SYNs get no answer: a listener whose accept queue the test has
/// filled and never drains (Linux then drops new SYNs), like a machine that is off or
/// firewalled. Unprivileged, unlike a DROP rule.
pub struct Blackhole {
    pub port: u16,
    _listener: TcpListener,
    _held: Vec<TcpStream>,
}

impl Blackhole {
    pub fn new() -> Blackhole {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut held = Vec::new();
        for _ in 0..10_000 {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                Ok(s) => held.push(s),
                Err(_) => {
                    return Blackhole {
                        port: addr.port(),
                        _listener: listener,
                        _held: held,
                    };
                }
            }
        }
        panic!("the accept queue of {addr} never filled");
    }
}

/// A mngr world with the ssh plugin, a client key, machines under a prefix of its own and a
/// pool settings file. Everything under the prefix is removed at the end.
pub struct SshWorld {
    pub w: AgentWorld,
    pub prefix: String,
    pub client_key: PathBuf,
    pub client_pub: String,
    _keys: tempfile::TempDir,
}

impl SshWorld {
    pub fn new() -> SshWorld {
        require_base_image();
        plugin_path();
        let keys = tempfile::tempdir().unwrap();
        let client_key = keys.path().join("id_ed25519");
        let client_pub = keygen(&client_key);
        let prefix = format!("mngr{}-", unique());
        let mut w = AgentWorld::new();
        w.set_env("MNGR_PREFIX", &prefix);
        SshWorld {
            w,
            prefix,
            client_key,
            client_pub,
            _keys: keys,
        }
    }

    pub fn machine(&self, n: usize) -> Machine {
        Machine::start(&self.prefix, n, &self.client_pub, false)
    }

    /// A machine holding an RSA host key besides its ed25519 one.
    pub fn machine_with_rsa(&self, n: usize) -> Machine {
        Machine::start(&self.prefix, n, &self.client_pub, true)
    }

    /// A `[providers.pool.hosts.NAME]` table pinning `host_key` at 127.0.0.1:`port`.
    pub fn host_table(&self, name: &str, port: u16, pin: &str) -> String {
        format!(
            "[providers.pool.hosts.{name}]\naddress = \"127.0.0.1\"\nport = {port}\nkey_file = \"{}\"\n{pin}\n",
            self.client_key.display()
        )
    }

    /// Write the user settings: the pool instance with `connect_timeout` and `hosts`.
    pub fn settings(&self, connect_timeout: f64, hosts: &[String]) {
        let mut text =
            format!("[providers.pool]\nbackend = \"ssh\"\nconnect_timeout = {connect_timeout}\n");
        for h in hosts {
            text.push_str(h);
        }
        self.w.write(&self.w.user_settings(), &text);
    }
}

impl Drop for SshWorld {
    fn drop(&mut self) {
        // The machines are the test's, not mngr's: removed here whatever happened.
        force_cleanup(&self.prefix);
    }
}
