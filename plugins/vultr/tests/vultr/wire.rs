//! The API client on its own against the stand-in: no host is made, and the VPSes it orders
//! are destroyed while they boot.

use crate::common::*;
use mngr_plugin_api::ErrorKind;
use mngr_vps_docker::{InstanceSpec, VpsClient};
use mngr_vultr::api::Api;
use mngr_vultr::client::VultrClient;
use serde_json::json;
use std::time::{Duration, Instant};

fn client(s: &StandIn, key: &str, attempts: u32) -> VultrClient {
    let mut table = s.table();
    table.insert("api_key".into(), json!(key));
    table.insert("api_max_attempts".into(), json!(attempts));
    let parsed = mngr_vultr::config::parse(table).unwrap();
    VultrClient {
        api: Api::new(&parsed.api_url, parsed.api_key, "wire", parsed.max_attempts).unwrap(),
    }
}

fn spec(label: &str) -> InstanceSpec {
    InstanceSpec {
        label: label.into(),
        region: "ewr".into(),
        plan: "vc2-1c-1gb".into(),
        os: "2136".into(),
        snapshot_id: None,
        user_data: "#cloud-config\n".into(),
        ssh_key_ids: Vec::new(),
        tags: vec![
            "mngr-provider=wire".into(),
            format!("mngr-host-name={label}"),
        ],
    }
}

#[test]
fn the_client_pages_survives_429_and_500_orders_once_and_names_a_bad_key() {
    runtime().block_on(async {
        let s = StandIn::start(&["--no-inner-images"]);

        // A wrong key: one clear line, kind Unauthenticated (mngr exits 6).
        let bad = client(&s, "not-the-key", 5);
        let e = bad
            .list_instances_by_tag("mngr-provider=wire")
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unauthenticated);
        assert_eq!(
            e.message,
            "Vultr refused listing instances: 401 Invalid API token."
        );
        assert!(!e.message.contains('\n'));

        let c = client(&s, KEY, 5);
        // A 500 on an order: the client looks for the instance by label before ordering
        // again, so exactly one VPS exists afterwards.
        s.control("faults", json!({"status": 500, "count": 1}))
            .await;
        let a = c.create_instance(&spec("wire-a")).await.unwrap();
        // Two 429s with Retry-After: 1 are waited out.
        s.control(
            "faults",
            json!({"status": 429, "count": 2, "retry_after": 1}),
        )
        .await;
        let started = Instant::now();
        let b = c.create_instance(&spec("wire-b")).await.unwrap();
        assert!(
            started.elapsed() >= Duration::from_secs(2),
            "Retry-After honoured"
        );
        let third = c.create_instance(&spec("wire-c")).await.unwrap();

        // More instances than one page: one per page, followed to the end.
        s.control("page-size", json!({"max": 1})).await;
        s.control("faults", json!({"status": 500, "count": 2}))
            .await;
        let listed = c.list_instances_by_tag("mngr-provider=wire").await.unwrap();
        let mut ids: Vec<String> = listed.iter().map(|i| i.id.clone()).collect();
        ids.sort();
        let mut want = vec![a.id.clone(), b.id.clone(), third.id.clone()];
        want.sort();
        assert_eq!(ids, want, "every instance, once, across pages");
        let labels: Vec<&str> = listed.iter().map(|i| i.label.as_str()).collect();
        assert_eq!(
            labels.iter().filter(|l| **l == "wire-a").count(),
            1,
            "{labels:?}"
        );
        assert!(
            listed
                .iter()
                .all(|i| i.tag("mngr-provider") == Some("wire"))
        );

        // SSH keys page the same way; a name finds its keys.
        let pubkey = mngr_provider_kit::keys::generate().unwrap().public_openssh;
        let k1 = c.create_ssh_key("wire-key", &pubkey).await.unwrap();
        let k2 = c.create_ssh_key("other-key", &pubkey).await.unwrap();
        assert_eq!(c.find_ssh_keys("wire-key").await.unwrap(), vec![k1.clone()]);

        // Retries are bounded: a fault that outlasts them is Unavailable, naming the attempts.
        let impatient = client(&s, KEY, 2);
        s.control("faults", json!({"status": 503, "count": 5}))
            .await;
        let e = impatient.get_instance(&a.id).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unavailable);
        assert!(e.message.contains("after 2 attempts"), "{}", e.message);
        s.control("faults", json!({"status": 503, "count": 0}))
            .await;

        // Deletes: gone is gone, twice is fine.
        for id in [&a.id, &b.id, &third.id] {
            c.destroy_instance(id).await.unwrap();
            c.destroy_instance(id).await.unwrap();
            assert!(c.get_instance(id).await.unwrap().is_none());
        }
        for id in [&k1, &k2] {
            c.delete_ssh_key(id).await.unwrap();
            c.delete_ssh_key(id).await.unwrap();
        }
        s.control("page-size", json!({"max": 500})).await;
        assert_eq!(s.leftovers().await, Vec::<String>::new());
    });
}
