//! The test-only control path, outside `/v2` and without auth:
//!   POST /__standin/faults    {"status": 429|500|503, "count": N, "retry_after": S?}
//!                              answer the next N API requests with that status
//!   POST /__standin/latency   {"ms": N}      delay every API answer by N ms
//!   POST /__standin/page-size {"max": N}     cap per_page at N (Vultr's cap is 500)
//!   POST /__standin/boot-fault {"step": S, "count": N}
//!                              the next N boots fail at step S (seed, network, cgroups,
//!                              dockerd, images, sshd, or a cloud-init stage such as
//!                              "cloud-init init"), as a full disk or a broken package would
//!   GET  /__standin/boots                    each instance's boot: booting, ok or failed
//!   GET  /__standin/knobs                    the current settings
//! The same knobs can be set at start with --latency-ms and --max-page-size.

use crate::app::App;
use crate::paging::MAX_PER_PAGE;
use crate::reply::{Handled, Reply};
use crate::request::ApiRequest;
use hyper::Method;
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Knobs {
    pub fault: Option<Fault>,
    pub latency: Duration,
    pub max_page_size: usize,
    pub boot_fault: Option<BootFault>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct BootFault {
    pub step: String,
    pub count: u32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Fault {
    pub status: u16,
    pub count: u32,
    pub retry_after: Option<u32>,
}

impl Knobs {
    pub fn new(latency: Duration, max_page_size: usize) -> Knobs {
        Knobs {
            fault: None,
            latency,
            max_page_size: max_page_size.clamp(1, MAX_PER_PAGE),
            boot_fault: None,
        }
    }

    /// Whether the boot step named `step` is to fail now (using up one injected failure).
    pub fn take_boot_fault(&mut self, step: &str) -> bool {
        let Some(fault) = self.boot_fault.as_mut().filter(|f| f.step == step) else {
            return false;
        };
        fault.count -= 1;
        if fault.count == 0 {
            self.boot_fault = None;
        }
        true
    }

    /// The injected failure for this request, if one is pending.
    pub fn take_fault(&mut self) -> Option<Reply> {
        let fault = self.fault.as_mut()?;
        fault.count -= 1;
        let (status, retry_after) = (fault.status, fault.retry_after);
        if fault.count == 0 {
            self.fault = None;
        }
        let reply = match status {
            429 => Reply::error(
                429,
                "Rate limit reached - please try your request again later.",
            ),
            _ => Reply::error(status, "Internal server error."),
        };
        Some(match retry_after {
            Some(seconds) => reply.with_header("retry-after", seconds.to_string()),
            None => reply,
        })
    }
}

pub fn handle(app: &App, req: &ApiRequest, path: &[&str]) -> Handled {
    #[derive(Deserialize)]
    struct Latency {
        ms: u64,
    }
    #[derive(Deserialize)]
    struct PageSize {
        max: usize,
    }
    match (&req.method, path) {
        (&Method::POST, ["faults"]) => {
            let fault: Fault = req.json()?;
            if !(fault.status == 429 || (500..600).contains(&fault.status)) {
                return Err(Reply::bad_request(
                    "faults: status must be 429 or a 5xx code",
                ));
            }
            app.knobs().fault = (fault.count > 0).then_some(fault);
        }
        (&Method::POST, ["latency"]) => {
            app.knobs().latency = Duration::from_millis(req.json::<Latency>()?.ms)
        }
        (&Method::POST, ["page-size"]) => {
            let max = req.json::<PageSize>()?.max;
            if max == 0 || max > MAX_PER_PAGE {
                return Err(Reply::bad_request(format!(
                    "page-size: max must be 1..={MAX_PER_PAGE}"
                )));
            }
            app.knobs().max_page_size = max;
        }
        (&Method::POST, ["boot-fault"]) => {
            let fault: BootFault = req.json()?;
            if !crate::boot::STEP_NAMES.contains(&fault.step.as_str()) {
                return Err(Reply::bad_request(format!(
                    "boot-fault: step must be one of {}",
                    crate::boot::STEP_NAMES.join(", ")
                )));
            }
            app.knobs().boot_fault = (fault.count > 0).then_some(fault);
        }
        (&Method::GET, ["boots"]) => return Ok(Reply::json(200, app.boots_json())),
        (&Method::GET, ["knobs"]) => {}
        _ => {
            return Err(Reply::not_found(
                "unknown control route; see docs/providers/vultr-standin.md",
            ));
        }
    }
    let knobs = app.knobs().clone();
    Ok(Reply::json(
        200,
        json!({
            "fault": knobs.fault.map(|f| json!({"status": f.status, "count": f.count, "retry_after": f.retry_after})),
            "latency_ms": knobs.latency.as_millis() as u64,
            "max_page_size": knobs.max_page_size,
            "boot_fault": knobs.boot_fault.map(|f| json!({"step": f.step, "count": f.count})),
        }),
    ))
}
