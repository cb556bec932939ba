//! `--dockerfile` and `-b`: `docker build` flags parsed into the Engine's build options, plus
//! the build context packed as a tar.

use mngr_plugin_api::{ProviderError, ProviderResult};
use mngr_provider_kit::flags::{parse_bytes, split_flags};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Name of the Dockerfile inside the context tar when it lives outside the context directory.
const OUTSIDE_DOCKERFILE: &str = ".mngr.Dockerfile";

#[derive(Debug, Default, Clone, PartialEq)]
pub struct BuildPlan {
    pub dockerfile: PathBuf,
    pub context: PathBuf,
    pub no_cache: bool,
    pub build_args: HashMap<String, String>,
    pub labels: HashMap<String, String>,
    pub target: String,
    pub network: Option<String>,
    pub extra_hosts: Vec<String>,
    pub shm_size: Option<i64>,
    pub memory: Option<i64>,
    pub cpu_shares: Option<i64>,
    pub cpuset_cpus: Option<String>,
    pub cpu_period: Option<i64>,
    pub cpu_quota: Option<i64>,
    pub cache_from: Vec<String>,
    pub quiet: bool,
}

fn refused(name: &str) -> Option<&'static str> {
    Some(match name {
        "--pull" => "mngr never pulls images; make the base image exist on the daemon first",
        "-t" | "--tag" => "mngr tags the images it builds itself",
        "--platform" => "mngr builds for the daemon's platform only",
        "-o" | "--output" | "--push" | "--load" | "--iidfile" | "--metadata-file" => {
            "the built image must stay on the daemon for mngr to run it"
        }
        "--secret" | "--ssh" | "--cache-to" | "--attest" | "--sbom" | "--provenance"
        | "--builder" | "--allow" | "--call" | "--check" | "--annotation" | "--build-context"
        | "--progress" | "--squash" | "--isolation" | "--security-opt" | "--ulimit"
        | "--cgroup-parent" => {
            "this docker build flag is not supported by mngr's docker backend (it builds with the Engine API's classic builder)"
        }
        _ => return None,
    })
}

fn arity(name: &str) -> Option<bool> {
    if refused(name).is_some() {
        return Some(!matches!(
            name,
            "--pull" | "--push" | "--load" | "--squash" | "--check"
        ));
    }
    Some(match name {
        "-f" | "--file" | "--build-arg" | "--label" | "--target" | "--network" | "--add-host"
        | "--shm-size" | "-m" | "--memory" | "-c" | "--cpu-shares" | "--cpuset-cpus"
        | "--cpu-period" | "--cpu-quota" | "--cache-from" => true,
        "--no-cache" | "-q" | "--quiet" | "--rm" | "--force-rm" => false,
        _ => return None,
    })
}

/// Build a plan from `--dockerfile` (optional) and the `-b` tokens. Relative paths are
/// resolved against `cwd`. Returns `None` when neither asks for a build.
pub fn parse_build(
    dockerfile: Option<&str>,
    tokens: &[String],
    cwd: &Path,
) -> ProviderResult<Option<BuildPlan>> {
    if dockerfile.is_none() && tokens.is_empty() {
        return Ok(None);
    }
    let (flags, positional) = split_flags(tokens, "docker build", arity).map_err(|e| {
        e.with_hint("build args (-b) are docker build flags, e.g. -b --no-cache -b --build-arg=K=V")
    })?;
    let mut plan = BuildPlan::default();
    let mut file: Option<PathBuf> = dockerfile.map(|d| cwd.join(d));
    for flag in &flags {
        if let Some(why) = refused(&flag.name) {
            return Err(ProviderError::invalid_input(format!(
                "docker build flag '{}' cannot be used with mngr: {why}",
                flag.name
            )));
        }
        let v = flag.value().to_string();
        let int = |f: &mngr_provider_kit::flags::Flag| {
            f.value()
                .parse::<i64>()
                .map_err(|_| f.bad("expected an integer"))
        };
        match flag.name.as_str() {
            "-f" | "--file" => {
                if file.is_some() {
                    return Err(ProviderError::invalid_input(
                        "give the Dockerfile once: either --dockerfile PATH or -b --file=PATH",
                    ));
                }
                file = Some(cwd.join(v));
            }
            "--build-arg" => match v.split_once('=') {
                Some((k, val)) => {
                    plan.build_args.insert(k.to_string(), val.to_string());
                }
                None => {
                    let val = std::env::var(&v).map_err(|_| {
                        flag.bad("expected KEY=VALUE (or a variable set in mngr's environment)")
                    })?;
                    plan.build_args.insert(v, val);
                }
            },
            "--label" => {
                let (k, val) = v.split_once('=').unwrap_or((&v, ""));
                plan.labels.insert(k.to_string(), val.to_string());
            }
            "--target" => plan.target = v,
            "--network" => plan.network = Some(v),
            "--add-host" => plan.extra_hosts.push(v.replacen('=', ":", 1)),
            "--shm-size" => {
                plan.shm_size = Some(parse_bytes(&v).ok_or_else(|| flag.bad("expected a size"))?)
            }
            "-m" | "--memory" => {
                plan.memory = Some(parse_bytes(&v).ok_or_else(|| flag.bad("expected a size"))?)
            }
            "-c" | "--cpu-shares" => plan.cpu_shares = Some(int(flag)?),
            "--cpuset-cpus" => plan.cpuset_cpus = Some(v),
            "--cpu-period" => plan.cpu_period = Some(int(flag)?),
            "--cpu-quota" => plan.cpu_quota = Some(int(flag)?),
            "--cache-from" => plan.cache_from.push(v),
            "--no-cache" => plan.no_cache = flag.switch()?,
            "-q" | "--quiet" => plan.quiet = flag.switch()?,
            // Intermediate containers are always removed.
            "--rm" | "--force-rm" => {}
            other => {
                return Err(ProviderError::internal(format!(
                    "build flag '{other}' not handled"
                )));
            }
        }
    }
    if positional.len() > 1 {
        return Err(ProviderError::invalid_input(format!(
            "more than one build context given: {}",
            positional.join(", ")
        )));
    }
    let context = match positional.first() {
        Some(dir) => cwd.join(dir),
        None => match &file {
            Some(f) => f
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| cwd.to_path_buf()),
            None => cwd.to_path_buf(),
        },
    };
    if !context.is_dir() {
        return Err(ProviderError::invalid_input(format!(
            "build context '{}' is not a directory",
            context.display()
        )));
    }
    let file = file.unwrap_or_else(|| context.join("Dockerfile"));
    if !file.is_file() {
        return Err(ProviderError::invalid_input(format!(
            "Dockerfile '{}' does not exist",
            file.display()
        )));
    }
    plan.dockerfile = file;
    plan.context = context;
    Ok(Some(plan))
}

impl BuildPlan {
    /// The context as a tar, and the Dockerfile's path inside it.
    pub fn context_tar(&self) -> ProviderResult<(Vec<u8>, String)> {
        let io = |e: std::io::Error| {
            ProviderError::invalid_input(format!(
                "cannot pack build context '{}': {e}",
                self.context.display()
            ))
        };
        let mut builder = tar::Builder::new(Vec::new());
        builder.follow_symlinks(false);
        builder.append_dir_all(".", &self.context).map_err(io)?;
        let canonical_ctx = self.context.canonicalize().map_err(io)?;
        let canonical_file = self.dockerfile.canonicalize().map_err(io)?;
        let inside = match canonical_file.strip_prefix(&canonical_ctx) {
            Ok(rel) => rel.to_string_lossy().into_owned(),
            Err(_) => {
                let data = std::fs::read(&self.dockerfile).map_err(io)?;
                let mut header = tar::Header::new_gnu();
                header.set_size(data.len() as u64);
                header.set_mode(0o644);
                header.set_cksum();
                builder
                    .append_data(&mut header, OUTSIDE_DOCKERFILE, data.as_slice())
                    .map_err(io)?;
                OUTSIDE_DOCKERFILE.to_string()
            }
        };
        let tar = builder.into_inner().map_err(io)?;
        Ok((tar, inside))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerfile_and_flags() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Dockerfile"), "FROM x\n").unwrap();
        assert_eq!(parse_build(None, &[], dir.path()).unwrap(), None);
        let toks: Vec<String> = ["--no-cache", "--build-arg=A=1", "--target", "t"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let plan = parse_build(Some("Dockerfile"), &toks, dir.path())
            .unwrap()
            .unwrap();
        assert!(plan.no_cache);
        assert_eq!(plan.build_args.get("A").map(String::as_str), Some("1"));
        assert_eq!(plan.target, "t");
        let (_tar, inside) = plan.context_tar().unwrap();
        assert_eq!(inside, "Dockerfile");
        let e = parse_build(Some("Dockerfile"), &["--pull".to_string()], dir.path()).unwrap_err();
        assert!(e.message.contains("never pulls"));
        assert!(parse_build(Some("Nope"), &[], dir.path()).is_err());
        assert!(parse_build(None, &["--bogus".to_string()], dir.path()).is_err());
    }
}
