//! The cloud-init `user_data` a new VPS boots with. Its SSH host key is generated here and
//! sent in it (so the key mngr pins before the first connection is the one sshd serves:
//! nothing is trusted on first use), root accepts mngr's VPS key, Docker is made ready, and
//! its containers are cut off from the link-local metadata service (which serves this very
//! `user_data`, private host key included). The last step writes [`READY_MARKER`].
//!
//! The text carries a private key: never log it.

/// Written once every step succeeded (the runcmd items run as one `sh` script, so a failing
/// step stops the rest).
pub const READY_MARKER: &str = "/var/run/mngr-ready";

/// What goes into one VPS's `user_data`.
pub struct CloudInit<'a> {
    /// The VPS's own sshd host key (OpenSSH private key) and its public line.
    pub host_private_key: &'a str,
    pub host_public_key: &'a str,
    /// mngr's key for root logins on the VPS (one OpenSSH public key line).
    pub authorized_key: &'a str,
}

/// Blocks containers (forwarded traffic) from the link-local range, every boot, once.
const BLOCK_METADATA: &str = "iptables -C FORWARD -d 169.254.0.0/16 -j DROP 2>/dev/null || iptables -I FORWARD -d 169.254.0.0/16 -j DROP || true";

/// Docker from the distribution when the image lacks it, started however this OS starts
/// services, then waited for.
const DOCKER_READY: &str = r#"set -e
if ! command -v docker >/dev/null 2>&1; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y docker.io
fi
systemctl enable --now docker >/dev/null 2>&1 || service docker start >/dev/null 2>&1 || true
i=0
until docker info >/dev/null 2>&1; do
  i=$((i+1)); [ "$i" -lt 120 ] || { echo "docker did not start" >&2; exit 1; }
  sleep 1
done"#;

fn indent(text: &str, by: usize) -> String {
    let pad = " ".repeat(by);
    text.trim_end()
        .lines()
        .map(|l| format!("{pad}{l}\n"))
        .collect()
}

/// YAML single-quoted scalar.
fn quoted(s: &str) -> String {
    format!("'{}'", s.trim().replace('\'', "''"))
}

impl CloudInit<'_> {
    pub fn render(&self) -> String {
        let mut out = String::from("#cloud-config\n");
        out.push_str("ssh_deletekeys: true\n");
        out.push_str("ssh_keys:\n  ed25519_private: |\n");
        out.push_str(&indent(self.host_private_key, 4));
        out.push_str(&format!(
            "  ed25519_public: {}\n",
            quoted(self.host_public_key)
        ));
        out.push_str("ssh_pwauth: false\n");
        // Debian's default (true) wraps root's keys in a command that refuses the login.
        out.push_str("disable_root: false\n");
        out.push_str(&format!(
            "ssh_authorized_keys:\n  - {}\n",
            quoted(self.authorized_key)
        ));
        out.push_str(&format!("bootcmd:\n  - {}\n", quoted(BLOCK_METADATA)));
        out.push_str("runcmd:\n  - |\n");
        out.push_str(&indent(DOCKER_READY, 4));
        out.push_str(&format!(
            "  - {}\n",
            quoted(&format!("touch {READY_MARKER}"))
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_key_the_authorized_key_and_the_marker_are_in_place() {
        let pair = mngr_provider_kit::keys::generate().unwrap();
        let text = CloudInit {
            host_private_key: &pair.private_openssh,
            host_public_key: &pair.public_openssh,
            authorized_key: "ssh-ed25519 AAAAC3Nza mngr",
        }
        .render();
        assert!(text.starts_with("#cloud-config\n"));
        assert!(text.contains("    -----BEGIN OPENSSH PRIVATE KEY-----\n"));
        assert!(text.contains(&format!("  ed25519_public: '{}'\n", pair.public_openssh)));
        assert!(text.contains("disable_root: false\n"));
        assert!(text.contains("  - 'ssh-ed25519 AAAAC3Nza mngr'\n"));
        assert!(text.contains("169.254.0.0/16"));
        // The marker is the last step, after Docker answers.
        let marker = text.find("touch /var/run/mngr-ready").unwrap();
        assert!(text.find("docker info").unwrap() < marker);
        assert!(text.trim_end().ends_with("touch /var/run/mngr-ready'"));
    }
}
