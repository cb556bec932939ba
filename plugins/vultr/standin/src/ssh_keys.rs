//! `/v2/ssh-keys`: the keys `sshkey_id` puts on a new instance (through NoCloud's
//! `public-keys`).

use crate::app::App;
use crate::model::{SshKey, new_id, now};
use crate::paging;
use crate::reply::{Handled, Reply};
use crate::request::ApiRequest;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Value, json};

const NO_SUCH_KEY: &str = "Invalid ssh-key-id.";

#[derive(Deserialize)]
struct KeyBody {
    name: Option<String>,
    ssh_key: Option<String>,
}

pub fn create(app: &App, req: &ApiRequest) -> Handled {
    let body: KeyBody = req.json()?;
    let name = body
        .name
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| Reply::bad_request("Missing name: give the key a name."))?;
    let ssh_key = valid_key(body.ssh_key.as_deref())?;
    let key = SshKey {
        id: new_id(),
        date_created: now(),
        name,
        ssh_key,
    };
    let answer = json!({ "ssh_key": key.to_json() });
    app.store().ssh_keys.push(key);
    Ok(Reply::json(201, answer))
}

/// An OpenSSH public key line: a key type and a base64 blob, then an optional comment.
fn valid_key(text: Option<&str>) -> Result<String, Reply> {
    let invalid = || {
        Reply::bad_request(
            "Invalid SSH key: give one OpenSSH public key line (ssh-ed25519 AAAA... comment).",
        )
    };
    let text = text.map(str::trim).ok_or_else(invalid)?;
    let mut fields = text.split_whitespace();
    let kind = fields.next().ok_or_else(invalid)?;
    let blob = fields.next().ok_or_else(invalid)?;
    let known = kind.starts_with("ssh-") || kind.starts_with("ecdsa-") || kind.starts_with("sk-");
    if !known || STANDARD.decode(blob).is_err() || text.contains('\n') {
        return Err(invalid());
    }
    Ok(text.to_string())
}

pub fn list(app: &App, req: &ApiRequest) -> Handled {
    let cap = app.knobs().max_page_size;
    let items: Vec<Value> = app.store().ssh_keys.iter().map(SshKey::to_json).collect();
    paging::page("ssh_keys", items, req, cap)
}

pub fn get(app: &App, id: &str) -> Handled {
    let store = app.store();
    let key = store
        .ssh_keys
        .iter()
        .find(|k| k.id == id)
        .ok_or_else(|| Reply::not_found(NO_SUCH_KEY))?;
    Ok(Reply::json(200, json!({ "ssh_key": key.to_json() })))
}

pub fn update(app: &App, id: &str, req: &ApiRequest) -> Handled {
    let body: KeyBody = req.json()?;
    let new_key = body
        .ssh_key
        .as_deref()
        .map(|k| valid_key(Some(k)))
        .transpose()?;
    let mut store = app.store();
    let key = store
        .ssh_keys
        .iter_mut()
        .find(|k| k.id == id)
        .ok_or_else(|| Reply::not_found(NO_SUCH_KEY))?;
    if let Some(name) = body.name.filter(|n| !n.trim().is_empty()) {
        key.name = name;
    }
    if let Some(new_key) = new_key {
        key.ssh_key = new_key;
    }
    Ok(Reply::no_content())
}

pub fn delete(app: &App, id: &str) -> Handled {
    let mut store = app.store();
    let index = store
        .ssh_keys
        .iter()
        .position(|k| k.id == id)
        .ok_or_else(|| Reply::not_found(NO_SUCH_KEY))?;
    store.ssh_keys.remove(index);
    Ok(Reply::no_content())
}
