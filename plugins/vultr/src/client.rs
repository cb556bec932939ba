//! [`VpsClient`] for Vultr API v2: instances, SSH keys and snapshots. An order (POST
//! `/instances`, `/ssh-keys`) is never repeated blindly: after an answer that does not say
//! whether it was done (a 5xx, no answer), the client looks for what it ordered by its label
//! or name first, so a retry cannot buy a second VPS.

use crate::api::{Answer, Api, Attempt};
use base64::Engine as _;
use mngr_plugin_api::*;
use mngr_vps_docker::{InstanceSpec, VpsClient, VpsInstance, VpsSnapshot, VpsStatus};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub struct VultrClient {
    pub api: Api,
}

fn text(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or("").to_string()
}

/// An instance object of the API.
fn instance_of(v: &Value) -> VpsInstance {
    let status = match (text(v, "status").as_str(), text(v, "power_status").as_str()) {
        ("active", "running") => VpsStatus::Active,
        ("active", "stopped") | ("halted" | "suspended", _) => VpsStatus::Halted,
        ("pending", _) => VpsStatus::Pending,
        _ => VpsStatus::Unknown,
    };
    let ip = text(v, "main_ip");
    VpsInstance {
        id: text(v, "id"),
        label: text(v, "label"),
        main_ip: (!ip.is_empty() && ip != "0.0.0.0").then_some(ip),
        status,
        region: text(v, "region"),
        plan: text(v, "plan"),
        tags: v
            .get("tags")
            .and_then(Value::as_array)
            .map(|t| {
                t.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

fn snapshot_of(v: &Value) -> VpsSnapshot {
    VpsSnapshot {
        id: text(v, "id"),
        description: text(v, "description"),
        complete: text(v, "status") == "complete",
    }
}

fn field<'v>(what: &str, body: &'v Value, key: &str) -> ProviderResult<&'v Value> {
    body.get(key).ok_or_else(|| {
        ProviderError::internal(format!("the Vultr API's answer to {what} has no '{key}'"))
    })
}

impl VultrClient {
    /// POST an order at most once per definite refusal: a 429 was not processed, so it is
    /// retried after the wait; after an ambiguous failure `already` looks for the result
    /// before the next try.
    async fn order<F, Fut>(
        &self,
        what: &str,
        path: &str,
        body: &Value,
        already: F,
    ) -> ProviderResult<Value>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = ProviderResult<Option<Value>>>,
    {
        let mut last = String::new();
        let attempts = self.api.max_attempts();
        for n in 0..attempts {
            let answer: Option<Answer> = match self
                .api
                .attempt(Method::POST, path, &[], Some(body))
                .await?
            {
                Attempt::Answered(a) if a.ok() || !a.transient() => {
                    return self.api.expect_ok(what, a);
                }
                Attempt::Answered(a) => {
                    last = format!("{}", a.status.as_u16());
                    Some(a)
                }
                Attempt::NoAnswer(why) => {
                    last = why;
                    None
                }
            };
            let refused = answer
                .as_ref()
                .is_some_and(|a| a.status == StatusCode::TOO_MANY_REQUESTS);
            tokio::time::sleep(Api::backoff(n, answer.as_ref())).await;
            if !refused && let Some(found) = already().await? {
                return Ok(found);
            }
        }
        Err(self.api.gave_up(&Method::POST, path, &last))
    }

    async fn instance_labelled(&self, spec: &InstanceSpec) -> ProviderResult<Option<Value>> {
        let found = self
            .api
            .list(
                "listing instances",
                "/instances",
                "instances",
                &[("label", &spec.label)],
            )
            .await?;
        // The label and every tag must match: another host of the same name elsewhere is not it.
        Ok(found.into_iter().find(|v| {
            let i = instance_of(v);
            i.label == spec.label && spec.tags.iter().all(|t| i.tags.contains(t))
        }))
    }
}

impl VpsClient for VultrClient {
    async fn create_instance(&self, spec: &InstanceSpec) -> ProviderResult<VpsInstance> {
        let mut body = json!({
            "region": spec.region,
            "plan": spec.plan,
            "label": spec.label,
            "hostname": spec.label,
            "user_data": base64::engine::general_purpose::STANDARD.encode(&spec.user_data),
            "sshkey_id": spec.ssh_key_ids,
            "tags": spec.tags,
            "backups": "disabled",
        });
        match &spec.snapshot_id {
            Some(snapshot) => body["snapshot_id"] = json!(snapshot),
            None => {
                let os_id: u64 = spec.os.parse().map_err(|_| {
                    ProviderError::invalid_input(format!(
                        "the Vultr OS must be a numeric os_id (2136 is Debian 12), got '{}'",
                        spec.os
                    ))
                })?;
                body["os_id"] = json!(os_id);
            }
        }
        let answer = self
            .order("creating an instance", "/instances", &body, || async {
                Ok(self
                    .instance_labelled(spec)
                    .await?
                    .map(|i| json!({ "instance": i })))
            })
            .await?;
        Ok(instance_of(field(
            "creating an instance",
            &answer,
            "instance",
        )?))
    }

    async fn get_instance(&self, id: &str) -> ProviderResult<Option<VpsInstance>> {
        let body = self
            .api
            .get("reading an instance", &format!("/instances/{id}"))
            .await?;
        body.map(|b| Ok(instance_of(field("reading an instance", &b, "instance")?)))
            .transpose()
    }

    async fn list_instances_by_tag(&self, tag: &str) -> ProviderResult<Vec<VpsInstance>> {
        if !self.api.has_key() {
            // No key, no account to look in: this instance has no hosts (create says why).
            return Ok(Vec::new());
        }
        let all = self
            .api
            .list(
                "listing instances",
                "/instances",
                "instances",
                &[("tag", tag)],
            )
            .await?;
        Ok(all.iter().map(instance_of).collect())
    }

    async fn destroy_instance(&self, id: &str) -> ProviderResult<()> {
        self.api
            .delete("destroying an instance", &format!("/instances/{id}"))
            .await
    }

    async fn create_ssh_key(&self, name: &str, public_key: &str) -> ProviderResult<String> {
        let body = json!({"name": name, "ssh_key": public_key});
        let answer = self
            .order("registering an SSH key", "/ssh-keys", &body, || async {
                let ids = self.find_ssh_keys(name).await?;
                Ok(ids.first().map(|id| json!({"ssh_key": {"id": id}})))
            })
            .await?;
        Ok(text(
            field("registering an SSH key", &answer, "ssh_key")?,
            "id",
        ))
    }

    async fn find_ssh_keys(&self, name: &str) -> ProviderResult<Vec<String>> {
        let all = self
            .api
            .list("listing SSH keys", "/ssh-keys", "ssh_keys", &[])
            .await?;
        Ok(all
            .iter()
            .filter(|k| text(k, "name") == name)
            .map(|k| text(k, "id"))
            .collect())
    }

    async fn delete_ssh_key(&self, id: &str) -> ProviderResult<()> {
        self.api
            .delete("removing an SSH key", &format!("/ssh-keys/{id}"))
            .await
    }

    async fn create_snapshot(
        &self,
        instance_id: &str,
        description: &str,
    ) -> ProviderResult<VpsSnapshot> {
        let body = json!({"instance_id": instance_id, "description": description});
        let answer = self
            .order("creating a snapshot", "/snapshots", &body, || async {
                let all = self
                    .api
                    .list(
                        "listing snapshots",
                        "/snapshots",
                        "snapshots",
                        &[("description", description)],
                    )
                    .await?;
                Ok(all
                    .into_iter()
                    .find(|s| text(s, "description") == description)
                    .map(|s| json!({ "snapshot": s })))
            })
            .await?;
        Ok(snapshot_of(field(
            "creating a snapshot",
            &answer,
            "snapshot",
        )?))
    }

    async fn get_snapshot(&self, id: &str) -> ProviderResult<Option<VpsSnapshot>> {
        let body = self
            .api
            .get("reading a snapshot", &format!("/snapshots/{id}"))
            .await?;
        body.map(|b| Ok(snapshot_of(field("reading a snapshot", &b, "snapshot")?)))
            .transpose()
    }

    async fn delete_snapshot(&self, id: &str) -> ProviderResult<()> {
        self.api
            .delete("removing a snapshot", &format!("/snapshots/{id}"))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_map_status_address_and_tags() {
        let booting = json!({"id": "i1", "status": "pending", "power_status": "running", "main_ip": "0.0.0.0", "tags": ["a=b"]});
        let i = instance_of(&booting);
        assert_eq!((i.status, i.main_ip.clone()), (VpsStatus::Pending, None));
        assert_eq!(i.tag("a"), Some("b"));
        let up = json!({"id": "i1", "status": "active", "power_status": "running", "main_ip": "127.0.0.9", "plan": "vc2-1c-1gb"});
        let i = instance_of(&up);
        assert_eq!(i.status, VpsStatus::Active);
        assert_eq!(i.main_ip.as_deref(), Some("127.0.0.9"));
        let halted = json!({"status": "active", "power_status": "stopped"});
        assert_eq!(instance_of(&halted).status, VpsStatus::Halted);
    }
}
