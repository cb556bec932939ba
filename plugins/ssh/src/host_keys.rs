//! The host key a machine is pinned to, before mngr first connects: the `host_key` setting
//! itself, or its entries in a known_hosts file (plain or hashed host names, `[host]:port` for
//! other ports, `@revoked` lines honoured). No key, no connection: mngr never trusts on first
//! use.

use crate::config::{KeySource, Machine};
use base64::Engine;
use hmac::{KeyInit, Mac};
use russh::keys::{Algorithm, EcdsaCurve, PublicKey};

/// Parse one OpenSSH public key line (`TYPE BASE64 [comment]`).
pub fn parse_public_key(line: &str) -> Result<PublicKey, String> {
    PublicKey::from_openssh(line.trim()).map_err(|e| e.to_string())
}

/// How known_hosts names a machine: the bare address on port 22, else `[address]:port`.
pub fn known_hosts_name(address: &str, port: u16) -> String {
    if port == 22 {
        address.to_string()
    } else {
        format!("[{address}]:{port}")
    }
}

/// The key a machine is pinned to (`TYPE BASE64`), or why there is none, as a line that
/// says how to pin it.
pub fn pinned_key(machine: &Machine) -> Result<String, String> {
    let keys = match &machine.key_source {
        KeySource::Literal(line) => vec![parse_public_key(line)?],
        KeySource::KnownHosts(path) => {
            let name = known_hosts_name(&machine.address, machine.port);
            let text = std::fs::read_to_string(path).map_err(|e| {
                format!(
                    "cannot read known_hosts_file {}: {e}; {}",
                    path.display(),
                    how_to_pin(machine)
                )
            })?;
            let keys = lookup(&text, &name);
            if keys.is_empty() {
                return Err(format!(
                    "{} has no key for {name}; {}",
                    path.display(),
                    how_to_pin(machine)
                ));
            }
            keys
        }
    };
    let best = keys
        .into_iter()
        .min_by_key(|k| preference(k.algorithm()))
        .expect("at least one key");
    let line = best.to_openssh().map_err(|e| e.to_string())?;
    // `TYPE BASE64` only: a comment is no part of the key.
    Ok(line
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" "))
}

/// What the user does to pin a machine's key, for messages.
pub fn how_to_pin(machine: &Machine) -> String {
    format!(
        "pin the key of host '{}' with host_key = \"ssh-ed25519 AAAA...\" (its /etc/ssh/ssh_host_ed25519_key.pub) or a known_hosts_file line for {}, checked against the machine itself (not taken from the network on trust)",
        machine.name,
        known_hosts_name(&machine.address, machine.port)
    )
}

/// Lower is preferred: the order SSH clients negotiate host keys in.
fn preference(algorithm: Algorithm) -> u8 {
    match algorithm {
        Algorithm::Ed25519 => 0,
        Algorithm::Ecdsa {
            curve: EcdsaCurve::NistP256,
        } => 1,
        Algorithm::Ecdsa {
            curve: EcdsaCurve::NistP384,
        } => 2,
        Algorithm::Ecdsa {
            curve: EcdsaCurve::NistP521,
        } => 3,
        Algorithm::Rsa { .. } => 4,
        _ => 5,
    }
}

/// The host key algorithms to offer so the server shows the pinned key and no other, as the
/// SSH transport offers them.
pub fn algorithms_for(pinned: &str) -> Vec<Algorithm> {
    mngr_plugin_api::SshEndpoint::host_key_algorithms(pinned)
        .iter()
        .filter_map(|name| name.parse().ok())
        .collect()
}

/// The keys known_hosts `text` holds for `name` (a machine's known_hosts name), without the
/// revoked ones. Unreadable lines and certificate authorities are skipped.
pub fn lookup(text: &str, name: &str) -> Vec<PublicKey> {
    let mut keys = Vec::new();
    let mut revoked = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_whitespace();
        let mut hosts = fields.next().unwrap_or_default();
        let marker = hosts.strip_prefix('@');
        if marker.is_some() {
            hosts = fields.next().unwrap_or_default();
        }
        let (Some(kind), Some(blob)) = (fields.next(), fields.next()) else {
            continue;
        };
        if !hosts_match(hosts, name) {
            continue;
        }
        let Ok(key) = parse_public_key(&format!("{kind} {blob}")) else {
            continue;
        };
        match marker {
            None => keys.push(key),
            Some("revoked") => revoked.push(key),
            Some(_) => {} // @cert-authority: mngr pins keys, not CAs
        }
    }
    keys.retain(|k| !revoked.iter().any(|r| r.key_data() == k.key_data()));
    keys
}

/// Whether a known_hosts host field (`a,b,[c]:2222`, `|1|salt|hash`, patterns with `*`, `?`
/// and `!` negation) names `name`.
fn hosts_match(field: &str, name: &str) -> bool {
    if let Some(hashed) = field.strip_prefix("|1|") {
        return hashed_match(hashed, name);
    }
    let mut matched = false;
    for pattern in field.split(',') {
        if let Some(negated) = pattern.strip_prefix('!') {
            if glob(negated, name) {
                return false;
            }
        } else if glob(pattern, name) {
            matched = true;
        }
    }
    matched
}

/// `|1|SALT|HASH`: HASH is HMAC-SHA1 of the name keyed with SALT (both base64).
fn hashed_match(salt_and_hash: &str, name: &str) -> bool {
    let b64 = base64::engine::general_purpose::STANDARD;
    let Some((salt, hash)) = salt_and_hash.split_once('|') else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (b64.decode(salt), b64.decode(hash)) else {
        return false;
    };
    let Ok(mut mac) = hmac::Hmac::<sha1::Sha1>::new_from_slice(&salt) else {
        return false;
    };
    mac.update(name.as_bytes());
    mac.verify_slice(&hash).is_ok()
}

/// OpenSSH's host pattern match: `*` any run, `?` one character, case-insensitive.
fn glob(pattern: &str, name: &str) -> bool {
    fn go(p: &[u8], n: &[u8]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a.eq_ignore_ascii_case(b) => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), name.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF/obUnEULOaRrH7+fLDTnVHoC6I0PXsfYwJNcd46Cr1";
    const EC: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBKN4o4UrywqpePjG8PbQhFrVYYk9n0rybJSGGc2dn4DBwKR1c53+0jUvDGmd15jYhL0hyYXm4Otk712hECu8gxg=";

    fn found(text: &str, name: &str) -> Vec<String> {
        lookup(text, name)
            .into_iter()
            .map(|k| k.to_openssh().unwrap())
            .collect()
    }

    #[test]
    fn plain_entries_match_by_name_list_port_and_pattern() {
        let text = format!(
            "# comment\n\nother.example {EC}\nbox,10.0.0.5 {ED} me@box\n[10.0.0.5]:2222 {EC}\n*.lab,!bad.lab {ED}\n"
        );
        assert_eq!(found(&text, "10.0.0.5"), [ED]);
        assert_eq!(found(&text, "box"), [ED]);
        assert_eq!(found(&text, "[10.0.0.5]:2222"), [EC]);
        assert_eq!(found(&text, "gpu.lab"), [ED]);
        assert!(found(&text, "bad.lab").is_empty());
        assert!(found(&text, "10.0.0.6").is_empty());
        assert_eq!(known_hosts_name("10.0.0.5", 22), "10.0.0.5");
        assert_eq!(known_hosts_name("10.0.0.5", 2222), "[10.0.0.5]:2222");
    }

    #[test]
    fn hashed_entries_match_the_name_they_hash() {
        // `ssh-keygen -H` of "[127.0.0.1]:2222": HMAC-SHA1 keyed with the salt.
        let b64 = base64::engine::general_purpose::STANDARD;
        let salt = [7u8; 20];
        let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(&salt).unwrap();
        mac.update(b"[127.0.0.1]:2222");
        let hash = mac.finalize().into_bytes();
        let text = format!("|1|{}|{} {ED}\n", b64.encode(salt), b64.encode(hash));
        assert_eq!(found(&text, "[127.0.0.1]:2222"), [ED]);
        assert!(found(&text, "127.0.0.1").is_empty());
        assert!(found("|1|bad|bad ssh-ed25519 x\n", "127.0.0.1").is_empty());
    }

    #[test]
    fn revoked_keys_and_authorities_are_never_pinned() {
        let text = format!("box {ED}\nbox {EC}\n@revoked box {ED}\n@cert-authority box {ED}\n");
        assert_eq!(found(&text, "box"), [EC]);
    }

    #[test]
    fn the_offered_algorithms_are_the_pinned_key_s() {
        use russh::keys::HashAlg;
        assert_eq!(algorithms_for(ED), [Algorithm::Ed25519]);
        assert_eq!(
            algorithms_for(EC),
            [Algorithm::Ecdsa {
                curve: EcdsaCurve::NistP256
            }]
        );
        assert_eq!(
            algorithms_for("ssh-rsa AAAA"),
            [
                Algorithm::Rsa {
                    hash: Some(HashAlg::Sha512)
                },
                Algorithm::Rsa {
                    hash: Some(HashAlg::Sha256)
                }
            ]
        );
    }

    #[test]
    fn the_preferred_key_type_is_pinned() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_hosts");
        std::fs::write(&path, format!("box {EC}\nbox {ED}\n")).unwrap();
        let mut machine = Machine {
            name: mngr_plugin_api::HostName::parse("b").unwrap(),
            address: "box".into(),
            port: 22,
            user: "root".into(),
            key_file: None,
            key_source: KeySource::KnownHosts(path.clone()),
        };
        assert_eq!(pinned_key(&machine).unwrap(), ED);
        machine.port = 2200;
        let err = pinned_key(&machine).unwrap_err();
        assert!(
            err.contains("has no key for [box]:2200; pin the key of host 'b'"),
            "{err}"
        );
        machine.key_source = KeySource::KnownHosts(dir.path().join("missing"));
        assert!(
            pinned_key(&machine)
                .unwrap_err()
                .starts_with("cannot read known_hosts_file")
        );
        machine.key_source = KeySource::Literal(format!("{EC} comment"));
        assert_eq!(pinned_key(&machine).unwrap(), EC);
    }
}
