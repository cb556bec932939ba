//! `-s` / `default_start_args`: `docker run` flags parsed into the Engine's container-create
//! body. A flag Docker accepts that mngr cannot honour is refused by name, never dropped.

use bollard::models::{
    DeviceMapping, DeviceRequest, HostConfig, HostConfigLogConfig, Mount, MountBindOptions,
    MountType, MountVolumeOptions, PortBinding, ResourcesUlimits, RestartPolicy,
    RestartPolicyNameEnum,
};
use mngr_plugin_api::{ProviderError, ProviderResult};
use mngr_provider_kit::flags::{Flag, parse_bytes, split_flags};
use std::collections::HashMap;

/// What the start flags contribute to a container.
#[derive(Debug, Default)]
pub struct RunOptions {
    pub host_config: HostConfig,
    pub env: Vec<String>,
    pub labels: HashMap<String, String>,
    pub exposed_ports: Vec<String>,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    pub user: Option<String>,
    pub working_dir: Option<String>,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<i64>,
    pub has_volumes: bool,
}

/// Flags mngr cannot pass through, with the reason given to the user.
fn refused(name: &str) -> Option<&'static str> {
    Some(match name {
        "--name" => "mngr names containers itself (<prefix><host name>)",
        "--rm" => "a container removed on exit could not be stopped and started again",
        "-d" | "--detach" => "host containers always run detached",
        "-i" | "--interactive" | "-t" | "--tty" | "-a" | "--attach" | "--sig-proxy"
        | "--detach-keys" => "host containers are not attached to a terminal; use `mngr connect`",
        "--entrypoint" => {
            "mngr's entrypoint runs sshd and the idle watcher; put your setup in the image instead"
        }
        "--pull" => "mngr never pulls images; build or load the image on the daemon first",
        "--cidfile" => "mngr records the container id itself",
        "--platform" => "mngr runs images built or present for the daemon's platform only",
        "--network-alias" | "--ip" | "--ip6" | "--link" | "--link-local-ip" | "--mac-address" => {
            "per-network endpoint settings are not supported by mngr's docker backend yet"
        }
        "--health-cmd"
        | "--health-interval"
        | "--health-retries"
        | "--health-timeout"
        | "--health-start-period"
        | "--health-start-interval"
        | "--no-healthcheck" => "health checks are not supported by mngr's docker backend yet",
        "--volumes-from"
        | "--volume-driver"
        | "--disable-content-trust"
        | "--kernel-memory"
        | "--cpu-rt-period"
        | "--cpu-rt-runtime"
        | "--blkio-weight-device"
        | "--device-read-bps"
        | "--device-write-bps"
        | "--device-read-iops"
        | "--device-write-iops"
        | "--gpus-opts"
        | "--annotation"
        | "--use-api-socket" => {
            "this docker run flag is not supported by mngr's docker backend yet"
        }
        _ => return None,
    })
}

/// Whether a known flag takes a value (`Some(true)`), is a switch (`Some(false)`), or is
/// unknown/refused (`None`, answered by [`refused`] or as unknown).
fn arity(name: &str) -> Option<bool> {
    if refused(name).is_some() {
        return Some(matches!(
            name,
            "--name"
                | "--entrypoint"
                | "--pull"
                | "--cidfile"
                | "--platform"
                | "--network-alias"
                | "--ip"
                | "--ip6"
                | "--link"
                | "--link-local-ip"
                | "--mac-address"
                | "-a"
                | "--attach"
                | "--detach-keys"
                | "--health-cmd"
                | "--health-interval"
                | "--health-retries"
                | "--health-timeout"
                | "--health-start-period"
                | "--health-start-interval"
                | "--volumes-from"
                | "--volume-driver"
                | "--kernel-memory"
                | "--cpu-rt-period"
                | "--cpu-rt-runtime"
                | "--blkio-weight-device"
                | "--device-read-bps"
                | "--device-write-bps"
                | "--device-read-iops"
                | "--device-write-iops"
                | "--annotation"
        ));
    }
    Some(match name {
        "--cpus"
        | "-c"
        | "--cpu-shares"
        | "--cpu-period"
        | "--cpu-quota"
        | "--cpuset-cpus"
        | "--cpuset-mems"
        | "-m"
        | "--memory"
        | "--memory-swap"
        | "--memory-reservation"
        | "--memory-swappiness"
        | "--gpus"
        | "-v"
        | "--volume"
        | "--mount"
        | "--tmpfs"
        | "--network"
        | "--net"
        | "--add-host"
        | "--dns"
        | "--dns-search"
        | "--dns-option"
        | "--dns-opt"
        | "-h"
        | "--hostname"
        | "--domainname"
        | "-p"
        | "--publish"
        | "--expose"
        | "-e"
        | "--env"
        | "--env-file"
        | "-l"
        | "--label"
        | "--label-file"
        | "--shm-size"
        | "--cap-add"
        | "--cap-drop"
        | "--security-opt"
        | "--sysctl"
        | "--ulimit"
        | "--pids-limit"
        | "--device"
        | "--device-cgroup-rule"
        | "--group-add"
        | "--ipc"
        | "--pid"
        | "--uts"
        | "--userns"
        | "--cgroupns"
        | "--cgroup-parent"
        | "--oom-score-adj"
        | "--runtime"
        | "--restart"
        | "--storage-opt"
        | "--log-driver"
        | "--log-opt"
        | "-w"
        | "--workdir"
        | "-u"
        | "--user"
        | "--stop-signal"
        | "--stop-timeout"
        | "--blkio-weight"
        | "--isolation" => true,
        "-P" | "--publish-all" | "--privileged" | "--init" | "--read-only"
        | "--oom-kill-disable" => false,
        _ => return None,
    })
}

fn push<T>(slot: &mut Option<Vec<T>>, value: T) {
    slot.get_or_insert_with(Vec::new).push(value);
}

fn int(flag: &Flag) -> ProviderResult<i64> {
    flag.value()
        .parse()
        .map_err(|_| flag.bad("expected an integer"))
}

fn bytes(flag: &Flag) -> ProviderResult<i64> {
    if flag.value() == "-1" {
        return Ok(-1);
    }
    parse_bytes(flag.value()).ok_or_else(|| flag.bad("expected a size such as 512m or 4g"))
}

fn key_value(flag: &Flag) -> ProviderResult<(String, String)> {
    match flag.value().split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(flag.bad("expected KEY=VALUE")),
    }
}

/// `--gpus all`, `--gpus 2`, `--gpus "device=0,1"`, `--gpus count=2,capabilities=compute`.
fn gpus(flag: &Flag) -> ProviderResult<DeviceRequest> {
    let mut request = DeviceRequest {
        driver: Some(String::new()),
        count: None,
        device_ids: None,
        capabilities: Some(vec![vec!["gpu".to_string()]]),
        options: None,
    };
    let raw = flag.value().trim_matches('"');
    if raw == "all" {
        request.count = Some(-1);
        return Ok(request);
    }
    if let Ok(n) = raw.parse::<i64>() {
        request.count = Some(n);
        return Ok(request);
    }
    for part in raw.split(',') {
        match part.split_once('=') {
            Some(("count", "all")) => request.count = Some(-1),
            Some(("count", n)) => {
                request.count = Some(
                    n.parse()
                        .map_err(|_| flag.bad("count must be a number or all"))?,
                )
            }
            Some(("device", ids)) => push(&mut request.device_ids, ids.to_string()),
            Some(("driver", d)) => request.driver = Some(d.to_string()),
            Some(("capabilities", c)) => {
                request.capabilities = Some(vec![c.split('|').map(str::to_string).collect()])
            }
            _ if request.device_ids.is_some() && !part.contains('=') => {
                push(&mut request.device_ids, part.to_string())
            }
            _ => return Err(flag.bad("expected all, a count, or device=ID[,ID]")),
        }
    }
    Ok(request)
}

/// `--mount type=bind,source=/a,target=/b,readonly`.
fn mount(flag: &Flag) -> ProviderResult<Mount> {
    let mut m = Mount::default();
    for part in flag.value().split(',') {
        let (k, v) = part.split_once('=').unwrap_or((part, "true"));
        match k {
            "type" => {
                m.typ = Some(match v {
                    "bind" => MountType::BIND,
                    "volume" => MountType::VOLUME,
                    "tmpfs" => MountType::TMPFS,
                    _ => return Err(flag.bad("type must be bind, volume or tmpfs")),
                })
            }
            "source" | "src" => m.source = Some(v.to_string()),
            "target" | "destination" | "dst" => m.target = Some(v.to_string()),
            "readonly" | "ro" => m.read_only = Some(v != "false" && v != "0"),
            "bind-propagation" => {
                m.bind_options = Some(MountBindOptions {
                    propagation: Some(
                        serde_json::from_value(serde_json::Value::from(v))
                            .map_err(|_| flag.bad("unknown bind-propagation"))?,
                    ),
                    ..Default::default()
                })
            }
            "volume-subpath" => {
                m.volume_options
                    .get_or_insert_with(MountVolumeOptions::default)
                    .subpath = Some(v.to_string())
            }
            "volume-nocopy" => {
                m.volume_options
                    .get_or_insert_with(MountVolumeOptions::default)
                    .no_copy = Some(v != "false")
            }
            _ => return Err(flag.bad(&format!("unknown --mount option '{k}'"))),
        }
    }
    if m.target.is_none() {
        return Err(flag.bad("a mount needs target=PATH"));
    }
    if m.typ.is_none() {
        m.typ = Some(MountType::VOLUME);
    }
    Ok(m)
}

/// `-p [ip:][hostPort:]containerPort[/proto]`.
fn publish(flag: &Flag, opts: &mut RunOptions) -> ProviderResult<()> {
    let raw = flag.value();
    let (spec, proto) = raw.rsplit_once('/').unwrap_or((raw, "tcp"));
    let parts: Vec<&str> = spec.rsplitn(3, ':').collect();
    let (container, host_port, host_ip) = match parts.as_slice() {
        [c] => (*c, "", ""),
        [c, h] => (*c, *h, ""),
        [c, h, ip] => (*c, *h, *ip),
        _ => return Err(flag.bad("expected [IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]")),
    };
    if container.parse::<u16>().is_err()
        || (!host_port.is_empty() && host_port.parse::<u16>().is_err())
    {
        return Err(flag.bad("ports must be numbers (ranges are not supported)"));
    }
    if container == "22" {
        return Err(flag.bad("port 22 is mngr's SSH port; publish another port"));
    }
    let key = format!("{container}/{proto}");
    opts.exposed_ports.push(key.clone());
    let bindings = opts
        .host_config
        .port_bindings
        .get_or_insert_with(HashMap::new);
    bindings
        .entry(key)
        .or_insert_with(|| Some(Vec::new()))
        .get_or_insert_with(Vec::new)
        .push(PortBinding {
            host_ip: Some(host_ip.trim_matches(['[', ']']).to_string()),
            host_port: Some(host_port.to_string()),
        });
    Ok(())
}

fn read_lines(flag: &Flag) -> ProviderResult<Vec<String>> {
    let text = std::fs::read_to_string(flag.value())
        .map_err(|e| flag.bad(&format!("cannot read the file: {e}")))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect())
}

/// Parse `docker run` flags. Every flag either lands in the result or is an error.
pub fn parse_run_args(tokens: &[String]) -> ProviderResult<RunOptions> {
    let (flags, positional) = split_flags(tokens, "docker run", arity).map_err(|e| {
        e.with_hint("start args (-s) are docker run flags, e.g. -s --cpus=2 -s --memory=4g -s -v=/data:/data")
    })?;
    if let Some(p) = positional.first() {
        return Err(ProviderError::invalid_input(format!(
            "unexpected start arg '{p}': start args are docker run flags (write -s --flag=VALUE); the image and command are chosen by mngr"
        )));
    }
    let mut o = RunOptions::default();
    for flag in &flags {
        if let Some(why) = refused(&flag.name) {
            return Err(ProviderError::invalid_input(format!(
                "docker run flag '{}' cannot be used with mngr: {why}",
                flag.name
            )));
        }
        let hc = &mut o.host_config;
        let v = flag.value().to_string();
        match flag.name.as_str() {
            "--cpus" => {
                let cpus: f64 = v
                    .parse()
                    .map_err(|_| flag.bad("expected a number of CPUs"))?;
                if cpus <= 0.0 {
                    return Err(flag.bad("must be more than 0"));
                }
                hc.nano_cpus = Some((cpus * 1e9) as i64);
            }
            "-c" | "--cpu-shares" => hc.cpu_shares = Some(int(flag)?),
            "--cpu-period" => hc.cpu_period = Some(int(flag)?),
            "--cpu-quota" => hc.cpu_quota = Some(int(flag)?),
            "--cpuset-cpus" => hc.cpuset_cpus = Some(v),
            "--cpuset-mems" => hc.cpuset_mems = Some(v),
            "-m" | "--memory" => hc.memory = Some(bytes(flag)?),
            "--memory-swap" => hc.memory_swap = Some(bytes(flag)?),
            "--memory-reservation" => hc.memory_reservation = Some(bytes(flag)?),
            "--memory-swappiness" => hc.memory_swappiness = Some(int(flag)?),
            "--shm-size" => hc.shm_size = Some(bytes(flag)?),
            "--pids-limit" => hc.pids_limit = Some(int(flag)?),
            "--blkio-weight" => {
                hc.blkio_weight = Some(v.parse().map_err(|_| flag.bad("expected 10..1000"))?)
            }
            "--oom-score-adj" => hc.oom_score_adj = Some(int(flag)?),
            "--oom-kill-disable" => hc.oom_kill_disable = Some(flag.switch()?),
            "--gpus" => push(&mut hc.device_requests, gpus(flag)?),
            "-v" | "--volume" => {
                let parts: Vec<&str> = v.split(':').collect();
                if parts.len() < 2 || parts.len() > 3 || parts[1].is_empty() {
                    return Err(flag.bad("expected SOURCE:TARGET[:OPTIONS]"));
                }
                o.has_volumes = true;
                push(&mut hc.binds, v);
            }
            "--mount" => {
                o.has_volumes = true;
                push(&mut hc.mounts, mount(flag)?)
            }
            "--tmpfs" => {
                let (path, opts) = v.split_once(':').unwrap_or((&v, ""));
                hc.tmpfs
                    .get_or_insert_with(HashMap::new)
                    .insert(path.to_string(), opts.to_string());
            }
            "--network" | "--net" => hc.network_mode = Some(v),
            "--add-host" => push(&mut hc.extra_hosts, v.replacen('=', ":", 1)),
            "--dns" => push(&mut hc.dns, v),
            "--dns-search" => push(&mut hc.dns_search, v),
            "--dns-option" | "--dns-opt" => push(&mut hc.dns_options, v),
            "-h" | "--hostname" => o.hostname = Some(v),
            "--domainname" => o.domainname = Some(v),
            "-p" | "--publish" => publish(flag, &mut o)?,
            "-P" | "--publish-all" => hc.publish_all_ports = Some(flag.switch()?),
            "--expose" => {
                let port = if v.contains('/') {
                    v
                } else {
                    format!("{v}/tcp")
                };
                o.exposed_ports.push(port);
            }
            "-e" | "--env" => {
                if v.contains('=') {
                    o.env.push(v)
                } else if let Ok(val) = std::env::var(&v) {
                    o.env.push(format!("{v}={val}"))
                }
            }
            "--env-file" => o.env.extend(read_lines(flag)?),
            "-l" | "--label" | "--label-file" => {
                let items = if flag.name == "--label-file" {
                    read_lines(flag)?
                } else {
                    vec![v]
                };
                for item in items {
                    let (k, val) = item.split_once('=').unwrap_or((&item, ""));
                    if k.starts_with(crate::labels::LABEL_PREFIX) {
                        return Err(flag.bad("labels starting with com.imbue.mngr. belong to mngr; use --tag K=V for your own tags"));
                    }
                    o.labels.insert(k.to_string(), val.to_string());
                }
            }
            "--cap-add" => push(&mut hc.cap_add, v),
            "--cap-drop" => push(&mut hc.cap_drop, v),
            "--privileged" => hc.privileged = Some(flag.switch()?),
            "--security-opt" => push(&mut hc.security_opt, v),
            "--sysctl" => {
                let (k, val) = key_value(flag)?;
                hc.sysctls.get_or_insert_with(HashMap::new).insert(k, val);
            }
            "--storage-opt" => {
                let (k, val) = key_value(flag)?;
                hc.storage_opt
                    .get_or_insert_with(HashMap::new)
                    .insert(k, val);
            }
            "--ulimit" => {
                let (name, limits) = key_value(flag)?;
                let (soft, hard) = limits.split_once(':').unwrap_or((&limits, &limits));
                let n = |s: &str| {
                    s.parse::<i64>()
                        .map_err(|_| flag.bad("expected NAME=SOFT[:HARD]"))
                };
                push(
                    &mut hc.ulimits,
                    ResourcesUlimits {
                        name: Some(name),
                        soft: Some(n(soft)?),
                        hard: Some(n(hard)?),
                    },
                );
            }
            "--device" => {
                let parts: Vec<&str> = v.split(':').collect();
                let host = parts[0].to_string();
                let container = parts
                    .get(1)
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| host.clone());
                let perms = parts
                    .get(2)
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "rwm".to_string());
                push(
                    &mut hc.devices,
                    DeviceMapping {
                        path_on_host: Some(host),
                        path_in_container: Some(container),
                        cgroup_permissions: Some(perms),
                    },
                );
            }
            "--device-cgroup-rule" => push(&mut hc.device_cgroup_rules, v),
            "--group-add" => push(&mut hc.group_add, v),
            "--ipc" => hc.ipc_mode = Some(v),
            "--pid" => hc.pid_mode = Some(v),
            "--uts" => hc.uts_mode = Some(v),
            "--userns" => hc.userns_mode = Some(v),
            "--cgroupns" => {
                hc.cgroupns_mode = Some(
                    serde_json::from_value(serde_json::Value::from(v.as_str()))
                        .map_err(|_| flag.bad("expected host or private"))?,
                )
            }
            "--cgroup-parent" => hc.cgroup_parent = Some(v),
            "--init" => hc.init = Some(flag.switch()?),
            "--read-only" => hc.readonly_rootfs = Some(flag.switch()?),
            "--runtime" => hc.runtime = Some(v),
            "--isolation" => {
                hc.isolation = Some(
                    serde_json::from_value(serde_json::Value::from(v.as_str()))
                        .map_err(|_| flag.bad("expected default, process or hyperv"))?,
                )
            }
            "--restart" => {
                let (name, count) = v.split_once(':').unwrap_or((&v, ""));
                let name = match name {
                    "no" => RestartPolicyNameEnum::NO,
                    "always" => RestartPolicyNameEnum::ALWAYS,
                    "unless-stopped" => RestartPolicyNameEnum::UNLESS_STOPPED,
                    "on-failure" => RestartPolicyNameEnum::ON_FAILURE,
                    _ => {
                        return Err(
                            flag.bad("expected no, always, unless-stopped or on-failure[:N]")
                        );
                    }
                };
                hc.restart_policy = Some(RestartPolicy {
                    name: Some(name),
                    maximum_retry_count: if count.is_empty() {
                        None
                    } else {
                        Some(count.parse().map_err(|_| flag.bad("bad retry count"))?)
                    },
                });
            }
            "--log-driver" => {
                hc.log_config
                    .get_or_insert_with(HostConfigLogConfig::default)
                    .typ = Some(v)
            }
            "--log-opt" => {
                let (k, val) = key_value(flag)?;
                hc.log_config
                    .get_or_insert_with(HostConfigLogConfig::default)
                    .config
                    .get_or_insert_with(HashMap::new)
                    .insert(k, val);
            }
            "-w" | "--workdir" => o.working_dir = Some(v),
            "-u" | "--user" => {
                if v != "root" && v != "0" && v != "0:0" {
                    return Err(flag.bad("mngr's sshd runs as root inside the container; the agent user cannot be changed"));
                }
                o.user = Some(v)
            }
            "--stop-signal" => o.stop_signal = Some(v),
            "--stop-timeout" => o.stop_timeout = Some(int(flag)?),
            other => {
                return Err(ProviderError::internal(format!(
                    "docker run flag '{other}' is listed but not handled"
                )));
            }
        }
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn common_flags_land_in_the_create_body() {
        let o = parse_run_args(&toks(&[
            "--cpus=2",
            "--memory=4g",
            "-v=/a:/b:ro",
            "--network",
            "host",
            "-p=8080:80",
            "-e",
            "A=1",
            "--shm-size=1g",
            "--cap-add=SYS_PTRACE",
            "--gpus=all",
            "--init",
        ]))
        .unwrap();
        let hc = &o.host_config;
        assert_eq!(hc.nano_cpus, Some(2_000_000_000));
        assert_eq!(hc.memory, Some(4 << 30));
        assert_eq!(hc.binds.as_deref(), Some(&["/a:/b:ro".to_string()][..]));
        assert_eq!(hc.network_mode.as_deref(), Some("host"));
        assert_eq!(hc.shm_size, Some(1 << 30));
        assert_eq!(hc.init, Some(true));
        assert_eq!(hc.device_requests.as_ref().unwrap()[0].count, Some(-1));
        let pb = hc
            .port_bindings
            .as_ref()
            .unwrap()
            .get("80/tcp")
            .unwrap()
            .as_ref()
            .unwrap();
        assert_eq!(pb[0].host_port.as_deref(), Some("8080"));
        assert_eq!(o.env, vec!["A=1"]);
        assert!(o.has_volumes);
    }

    #[test]
    fn unknown_refused_and_malformed_flags_are_errors() {
        let e = parse_run_args(&toks(&["--cpuz=2"])).unwrap_err();
        assert!(
            e.message.contains("unknown docker run flag '--cpuz'"),
            "{}",
            e.message
        );
        let e = parse_run_args(&toks(&["--rm"])).unwrap_err();
        assert!(e.message.contains("'--rm' cannot be used"), "{}", e.message);
        assert!(parse_run_args(&toks(&["--memory=lots"])).is_err());
        assert!(parse_run_args(&toks(&["--memory"])).is_err());
        assert!(parse_run_args(&toks(&["ubuntu"])).is_err());
        assert!(parse_run_args(&toks(&["-p=22"])).is_err());
        assert!(parse_run_args(&toks(&["--label=com.imbue.mngr.host-id=x"])).is_err());
    }
}
