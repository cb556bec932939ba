//! Which handler answers a request: the control path, Vultr's public catalogue, then the
//! authenticated API. Injected latency and faults apply to every `/v2` request.

use crate::app::App;
use crate::catalog;
use crate::instances::{self, Power};
use crate::paging;
use crate::reply::{Handled, Reply};
use crate::request::ApiRequest;
use crate::{control, snapshots, ssh_keys};
use hyper::Method;
use serde_json::Value;
use std::sync::Arc;

pub async fn answer(app: &Arc<App>, req: ApiRequest) -> Reply {
    let segments: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    let handled = match segments.split_first() {
        Some((&"__standin", rest)) => control::handle(app, &req, rest),
        Some((&"v2", rest)) => api(app, &req, rest).await,
        _ => Err(Reply::not_found("Not found: the API lives under /v2.")),
    };
    handled.unwrap_or_else(|reply| reply)
}

async fn api(app: &Arc<App>, req: &ApiRequest, path: &[&str]) -> Handled {
    let (latency, fault) = {
        let mut knobs = app.knobs();
        (knobs.latency, knobs.take_fault())
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(fault) = fault {
        return Err(fault);
    }
    if let Some(listed) = catalogue(app, req, path) {
        return listed;
    }
    if req.bearer.as_deref() != Some(app.settings.api_key.as_str()) {
        return Err(Reply::error(401, "Invalid API token."));
    }
    let get = req.method == Method::GET;
    match (&req.method, path) {
        (&Method::POST, ["instances"]) => instances::create(app, req).await,
        (&Method::GET, ["instances"]) => instances::list(app, req),
        (&Method::GET, ["instances", id]) => instances::get(app, id),
        (&Method::PATCH, ["instances", id]) => instances::update(app, id, req),
        (&Method::DELETE, ["instances", id]) => instances::delete(app, id).await,
        (&Method::GET, ["instances", id, "user-data"]) => instances::user_data(app, id),
        (&Method::POST, ["instances", id, "halt"]) => instances::power(app, id, Power::Halt).await,
        (&Method::POST, ["instances", id, "start"]) => {
            instances::power(app, id, Power::Start).await
        }
        (&Method::POST, ["instances", id, "reboot"]) => {
            instances::power(app, id, Power::Reboot).await
        }
        (&Method::POST, ["ssh-keys"]) => ssh_keys::create(app, req),
        (&Method::GET, ["ssh-keys"]) => ssh_keys::list(app, req),
        (&Method::GET, ["ssh-keys", id]) => ssh_keys::get(app, id),
        (&Method::PATCH, ["ssh-keys", id]) => ssh_keys::update(app, id, req),
        (&Method::DELETE, ["ssh-keys", id]) => ssh_keys::delete(app, id),
        (&Method::POST, ["snapshots"]) => snapshots::create(app, req),
        (&Method::GET, ["snapshots"]) => snapshots::list(app, req),
        (&Method::GET, ["snapshots", id]) => snapshots::get(app, id),
        (&Method::DELETE, ["snapshots", id]) => snapshots::delete(app, id),
        // The stand-in has no bare metal; clients that list it (libcloud) get empty pages.
        (_, ["bare-metals"]) if get => {
            paging::page("bare_metals", Vec::new(), req, app.knobs().max_page_size)
        }
        _ => Err(Reply::not_found("Invalid route.")),
    }
}

/// Regions, plans and operating systems, which Vultr lists without a key.
fn catalogue(app: &App, req: &ApiRequest, path: &[&str]) -> Option<Handled> {
    if req.method != Method::GET {
        return None;
    }
    let (key, items): (&str, Vec<Value>) = match path {
        ["regions"] => ("regions", catalog::regions().iter().map(to_json).collect()),
        ["plans"] => ("plans", catalog::plans().iter().map(to_json).collect()),
        ["plans-metal"] => ("plans_metal", Vec::new()),
        ["os"] => (
            "os",
            catalog::operating_systems().iter().map(to_json).collect(),
        ),
        _ => return None,
    };
    Some(paging::page(key, items, req, app.knobs().max_page_size))
}

fn to_json(item: &impl serde::Serialize) -> Value {
    serde_json::to_value(item).expect("catalogue entries serialize")
}
