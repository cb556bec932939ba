//! Keys mngr generates for each host: the client key it logs in with and the container's SSH
//! host key, which is injected before sshd first starts so it is pinned before any connection.

use mngr_plugin_api::{ProviderError, ProviderResult};
use russh::keys::ssh_key::{Algorithm, LineEnding, PrivateKey};
use std::path::{Path, PathBuf};

pub struct KeyPair {
    pub private_openssh: String,
    pub public_openssh: String,
}

pub fn generate() -> ProviderResult<KeyPair> {
    let key = PrivateKey::random(&mut rand::rng(), Algorithm::Ed25519)
        .map_err(|e| ProviderError::internal(format!("generating an ed25519 key: {e}")))?;
    let private_openssh = key
        .to_openssh(LineEnding::LF)
        .map_err(|e| ProviderError::internal(format!("encoding a private key: {e}")))?
        .to_string();
    let public_openssh = key
        .public_key()
        .to_openssh()
        .map_err(|e| ProviderError::internal(format!("encoding a public key: {e}")))?;
    Ok(KeyPair {
        private_openssh,
        public_openssh,
    })
}

/// The public half of an OpenSSH private key.
pub fn public_of(private_openssh: &str) -> ProviderResult<String> {
    let key = PrivateKey::from_openssh(private_openssh)
        .map_err(|e| ProviderError::internal(format!("reading a stored private key: {e}")))?;
    key.public_key()
        .to_openssh()
        .map_err(|e| ProviderError::internal(format!("encoding a public key: {e}")))
}

/// `<state_dir>/keys/<host_id>`: this machine's copy of a host's client key.
pub fn host_key_dir(state_dir: &Path, host_id: &str) -> PathBuf {
    state_dir.join("keys").join(host_id)
}

/// Write the client private key (0600, atomically) unless the same key is already there.
pub fn materialize(
    state_dir: &Path,
    host_id: &str,
    private_openssh: &str,
) -> ProviderResult<PathBuf> {
    materialize_file(state_dir, host_id, "id_ed25519", private_openssh)
}

/// Write `contents` as `file` beside a host's client key (0600 in a 0700 directory,
/// atomically) unless it is already there: another key of the same host, such as the key of
/// the machine a container runs on. [`remove_local`] removes it with the rest.
pub fn materialize_file(
    state_dir: &Path,
    host_id: &str,
    file: &str,
    contents: &str,
) -> ProviderResult<PathBuf> {
    let dir = host_key_dir(state_dir, host_id);
    let path = dir.join(file);
    if std::fs::read_to_string(&path).is_ok_and(|existing| existing == contents) {
        return Ok(path);
    }
    let io = |e: std::io::Error| {
        ProviderError::internal(format!(
            "writing the client key under {}: {e}",
            dir.display()
        ))
    };
    std::fs::create_dir_all(&dir).map_err(io)?;
    set_mode(&dir, 0o700).map_err(io)?;
    mngr_plugin_api::fs::write_atomic(&path, contents.as_bytes(), 0o600).map_err(io)?;
    Ok(path)
}

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    let _ = (path, mode);
    Ok(())
}

/// Remove this machine's copy of a host's keys; absent is fine.
pub fn remove_local(state_dir: &Path, host_id: &str) -> std::io::Result<()> {
    match std::fs::remove_dir_all(host_key_dir(state_dir, host_id)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => {
            // Drop the empty keys/ directory too, so a destroyed last host leaves nothing.
            let _ = std::fs::remove_dir(state_dir.join("keys"));
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_round_trip_and_land_0600() {
        let pair = generate().unwrap();
        assert!(pair.public_openssh.starts_with("ssh-ed25519 "));
        assert_eq!(
            public_of(&pair.private_openssh).unwrap(),
            pair.public_openssh
        );
        let dir = tempfile::tempdir().unwrap();
        let path = materialize(dir.path(), "host-x", &pair.private_openssh).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        remove_local(dir.path(), "host-x").unwrap();
        assert!(!dir.path().join("keys").exists());
    }
}
