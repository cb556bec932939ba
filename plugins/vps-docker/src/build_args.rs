//! `-b` for a VPS host: `--vps-region=`, `--vps-plan=` and `--vps-os=` (or the provider's own
//! spelling, `--vultr-region=` ...) choose the VPS; every other build arg goes to
//! `docker build` on the VPS, with the local build context uploaded.

use mngr_plugin_api::{ProviderError, ProviderResult};

/// The VPS a host asks for, and the build args left for `docker build`.
#[derive(Debug, Clone, PartialEq)]
pub struct VpsChoice {
    pub region: String,
    pub plan: String,
    pub os: String,
    pub docker_build_args: Vec<String>,
}

const KEYS: [&str; 3] = ["region", "plan", "os"];

/// Take the VPS flags out of `args`. `alias` is the provider's prefix (`vultr`): `--vultr-plan=`
/// means `--vps-plan=`. The last occurrence wins; an empty value keeps the default. An
/// unknown `--vps-` (or alias) flag, or one without `=VALUE`, is refused by name.
pub fn split_vps_args(
    args: &[String],
    alias: &str,
    defaults: (&str, &str, &str),
) -> ProviderResult<VpsChoice> {
    let mut choice = VpsChoice {
        region: defaults.0.to_string(),
        plan: defaults.1.to_string(),
        os: defaults.2.to_string(),
        docker_build_args: Vec::new(),
    };
    let prefixes = [String::from("--vps-"), format!("--{alias}-")];
    for arg in args {
        let Some(rest) = prefixes.iter().find_map(|p| arg.strip_prefix(p.as_str())) else {
            choice.docker_build_args.push(arg.clone());
            continue;
        };
        let valid = || {
            KEYS.iter()
                .map(|k| format!("--vps-{k}=VALUE"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let Some((key, value)) = rest.split_once('=') else {
            return Err(ProviderError::invalid_input(format!(
                "build arg '{arg}' needs a value; VPS build args are {} (or --{alias}-...)",
                valid()
            )));
        };
        let slot = match key {
            "region" => &mut choice.region,
            "plan" => &mut choice.plan,
            "os" => &mut choice.os,
            _ => {
                return Err(ProviderError::invalid_input(format!(
                    "unknown VPS build arg '{arg}'; VPS build args are {} (or --{alias}-...); other -b args go to docker build",
                    valid()
                )));
            }
        };
        if !value.is_empty() {
            *slot = value.to_string();
        }
    }
    Ok(choice)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(args: &[&str]) -> ProviderResult<VpsChoice> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        split_vps_args(&args, "vultr", ("ewr", "vc2-1c-1gb", "2136"))
    }

    #[test]
    fn vps_flags_and_aliases_are_taken_the_rest_goes_to_docker_build() {
        let c = split(&[
            "--vps-plan=vc2-2c-4gb",
            "--file=Dockerfile",
            "--vultr-region=ams",
            ".",
            "--vps-region=fra",
            "--vps-os=",
        ])
        .unwrap();
        assert_eq!(c.region, "fra");
        assert_eq!(c.plan, "vc2-2c-4gb");
        assert_eq!(c.os, "2136");
        assert_eq!(c.docker_build_args, vec!["--file=Dockerfile", "."]);
        let none = split(&[]).unwrap();
        assert_eq!(
            (none.region.as_str(), none.plan.as_str()),
            ("ewr", "vc2-1c-1gb")
        );
    }

    #[test]
    fn unknown_or_valueless_vps_flags_are_refused_by_name() {
        let e = split(&["--vps-size=big"]).unwrap_err();
        assert!(e.message.contains("'--vps-size=big'"), "{}", e.message);
        assert!(e.message.contains("--vps-plan=VALUE"), "{}", e.message);
        let e = split(&["--vultr-plan"]).unwrap_err();
        assert!(e.message.contains("needs a value"), "{}", e.message);
    }
}
