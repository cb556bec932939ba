//! Who may call: control-plane calls carry the token id and secret as the Python client sends
//! them (`x-modal-token-id`, `x-modal-token-secret`); V2 sandbox calls also carry a JWT from
//! `AuthTokenGet` (`x-modal-auth-token`); router calls carry `authorization: Bearer <jwt>`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tonic::Status;
use tonic::metadata::MetadataMap;

/// How long minted JWTs claim to live; the client refreshes them well before.
const TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

pub struct Auth {
    token_id: String,
    token_secret: String,
    issued: Mutex<HashSet<String>>,
}

impl Auth {
    pub fn new(token_id: String, token_secret: String) -> Self {
        Auth {
            token_id,
            token_secret,
            issued: Mutex::new(HashSet::new()),
        }
    }

    /// Checks the workspace credentials on a control-plane call.
    pub fn check_credentials(&self, metadata: &MetadataMap) -> Result<(), Status> {
        let id = header(metadata, "x-modal-token-id");
        let secret = header(metadata, "x-modal-token-secret");
        match (id, secret) {
            (Some(id), Some(secret)) if id == self.token_id && secret == self.token_secret => {
                Ok(())
            }
            (None, _) | (_, None) => Err(Status::unauthenticated(
                "Token missing. Could not authenticate client. Pass a token id and secret.",
            )),
            _ => Err(Status::unauthenticated(
                "Token ID or secret is invalid. Run `modal token new` to create a new token.",
            )),
        }
    }

    /// Checks the JWT that V2 sandbox calls carry besides the credentials.
    pub fn check_auth_token(&self, metadata: &MetadataMap) -> Result<(), Status> {
        let token = header(metadata, "x-modal-auth-token")
            .ok_or_else(|| Status::unauthenticated("missing x-modal-auth-token"))?;
        if self.issued.lock().unwrap().contains(token) {
            Ok(())
        } else {
            Err(Status::unauthenticated(
                "invalid or expired x-modal-auth-token",
            ))
        }
    }

    /// Mints a token for `x-modal-auth-token` and remembers it.
    pub fn issue_auth_token(&self) -> String {
        let token = mint_jwt(&serde_json::json!({ "exp": expiry(), "kind": "auth" }));
        self.issued.lock().unwrap().insert(token.clone());
        token
    }
}

/// A command-router JWT for one task: three base64url segments with a JSON payload that holds
/// `exp`, as both the Python and Go clients parse it. Unsigned: only the stand-in reads it.
pub fn router_jwt(task_id: &str) -> String {
    mint_jwt(
        &serde_json::json!({ "exp": expiry(), "task_id": task_id, "nonce": uuid::Uuid::new_v4().to_string() }),
    )
}

/// The bearer token of a router call.
pub fn bearer(metadata: &MetadataMap) -> Result<&str, Status> {
    header(metadata, "authorization")
        .and_then(|value| value.strip_prefix("Bearer "))
        .ok_or_else(|| Status::unauthenticated("missing authorization: Bearer <jwt>"))
}

fn mint_jwt(payload: &serde_json::Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(payload.to_string());
    format!("{header}.{body}.standin")
}

fn expiry() -> u64 {
    (SystemTime::now() + TOKEN_LIFETIME)
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn header<'a>(metadata: &'a MetadataMap, key: &str) -> Option<&'a str> {
    metadata.get(key).and_then(|value| value.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(pairs: &[(&'static str, &str)]) -> MetadataMap {
        let mut map = MetadataMap::new();
        for (key, value) in pairs {
            map.insert(*key, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn credentials_must_match_both_parts() {
        let auth = Auth::new("ak-1".into(), "as-1".into());
        assert!(
            auth.check_credentials(&metadata(&[
                ("x-modal-token-id", "ak-1"),
                ("x-modal-token-secret", "as-1")
            ]))
            .is_ok()
        );
        let wrong = auth
            .check_credentials(&metadata(&[
                ("x-modal-token-id", "ak-1"),
                ("x-modal-token-secret", "as-2"),
            ]))
            .unwrap_err();
        assert_eq!(wrong.code(), tonic::Code::Unauthenticated);
        assert!(auth.check_credentials(&metadata(&[])).is_err());
    }

    #[test]
    fn only_issued_auth_tokens_pass() {
        let auth = Auth::new("a".into(), "b".into());
        let token = auth.issue_auth_token();
        assert_eq!(token.split('.').count(), 3);
        assert!(
            auth.check_auth_token(&metadata(&[("x-modal-auth-token", &token)]))
                .is_ok()
        );
        assert!(
            auth.check_auth_token(&metadata(&[("x-modal-auth-token", "x.y.z")]))
                .is_err()
        );
    }
}
