//! Building an image from a [`BuildPlan`], with a deadline and the log's tail on failure.

use crate::build_args::BuildPlan;
use crate::engine::Engine;
use bollard::query_parameters::BuildImageOptions;
use futures_util::StreamExt;
use mngr_plugin_api::*;
use std::collections::HashMap;
use std::time::Duration;

/// How many lines of the build log a failed build's error carries (`build_log_tail`).
const LOG_TAIL_LINES: usize = 20;

impl Engine {
    /// Build `plan` into the image `tag`, labelled with the plan's labels plus `extra_labels`.
    /// Every non-empty log line goes to `on_line`. A build over `deadline` is a `Timeout`.
    pub async fn build_image(
        &self,
        plan: &BuildPlan,
        tag: &str,
        extra_labels: HashMap<String, String>,
        deadline: Duration,
        mut on_line: impl FnMut(&str),
    ) -> ProviderResult<()> {
        let (tar, dockerfile) = plan.context_tar()?;
        let mut image_labels: HashMap<String, String> = plan.labels.clone().into_iter().collect();
        image_labels.extend(extra_labels);
        let small = |v: Option<i64>| v.and_then(|v| i32::try_from(v).ok());
        let options = BuildImageOptions {
            dockerfile,
            t: Some(tag.to_string()),
            nocache: plan.no_cache,
            buildargs: Some(plan.build_args.clone()),
            labels: Some(image_labels),
            target: plan.target.clone(),
            networkmode: plan.network.clone(),
            extrahosts: if plan.extra_hosts.is_empty() {
                None
            } else {
                Some(plan.extra_hosts.join(","))
            },
            shmsize: small(plan.shm_size),
            memory: small(plan.memory),
            cpushares: small(plan.cpu_shares),
            cpusetcpus: plan.cpuset_cpus.clone(),
            cpuperiod: small(plan.cpu_period),
            cpuquota: small(plan.cpu_quota),
            cachefrom: if plan.cache_from.is_empty() {
                None
            } else {
                Some(plan.cache_from.clone())
            },
            q: plan.quiet,
            rm: true,
            forcerm: true,
            ..Default::default()
        };
        let mut log = String::new();
        let mut stream =
            self.docker
                .build_image(options, None, Some(bollard::body_full(tar.into())));
        let run = async {
            while let Some(item) = stream.next().await {
                let info = item.map_err(|e| match self.error("building the image", e) {
                    err if err.kind == ErrorKind::Unavailable => err,
                    err => {
                        ProviderError::invalid_input(format!("image build failed: {}", err.message))
                    }
                })?;
                if let Some(line) = info.stream.as_deref() {
                    log.push_str(line);
                    if !line.trim().is_empty() {
                        on_line(line.trim_end());
                    }
                }
                if let Some(detail) = info.error_detail.and_then(|d| d.message) {
                    return Err(ProviderError::invalid_input(format!(
                        "image build failed: {}",
                        detail.trim()
                    )));
                }
            }
            Ok(())
        };
        let outcome = match tokio::time::timeout(deadline, run).await {
            Ok(r) => r,
            Err(_) => Err(ProviderError::new(
                ErrorKind::Timeout,
                format!(
                    "docker build timed out after {} seconds",
                    deadline.as_secs()
                ),
            )),
        };
        outcome.map_err(|e| {
            let tail: Vec<&str> = log
                .lines()
                .rev()
                .take(LOG_TAIL_LINES)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            e.with_details(serde_json::json!({ "build_log_tail": tail.join("\n") }))
        })?;
        if !self.image_exists(tag).await? {
            return Err(ProviderError::invalid_input(
                "image build finished without producing an image",
            ));
        }
        Ok(())
    }
}
