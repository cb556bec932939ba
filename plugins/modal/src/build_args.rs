//! `-b` build arguments of a modal host: `gpu`, `cpu`, `memory` (GB), `image` and `timeout`
//! (seconds), written `key=value`, `--key=value`, `--key value`, or several in one
//! whitespace-separated string (`--build-args "gpu=h100 cpu=2"`); plus `--dockerfile PATH`.

use crate::config::ModalConfig;
use mngr_plugin_api::{ProviderError, ProviderResult};

pub const KEYS: [&str; 6] = ["gpu", "cpu", "memory", "image", "timeout", "dockerfile"];

/// What a new sandbox is made from and of.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildPlan {
    pub gpu: Option<String>,
    pub milli_cpu: u32,
    pub memory_mb: u32,
    pub timeout_secs: u32,
    /// The first image layer's Dockerfile commands (`FROM <image>`, or a Dockerfile's).
    pub base_commands: Vec<String>,
    /// What the host's record names as its image.
    pub image_label: String,
}

fn bad(message: String) -> ProviderError {
    ProviderError::invalid_input(message).with_hint(
        "modal build args: gpu=TYPE[:N], cpu=CORES, memory=GB, image=REGISTRY_NAME, timeout=SECONDS, dockerfile=PATH",
    )
}

/// `key=value` pairs from the argument list, in order.
fn pairs(args: &[String]) -> ProviderResult<Vec<(String, String)>> {
    let tokens: Vec<&str> = args.iter().flat_map(|a| a.split_whitespace()).collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let token = tokens[i].trim_start_matches("--");
        let (key, value) = match token.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None if tokens[i].starts_with("--") && i + 1 < tokens.len() => {
                i += 1;
                (token.to_string(), tokens[i].to_string())
            }
            None => {
                return Err(bad(format!(
                    "build arg '{}' has no value (write KEY=VALUE)",
                    tokens[i]
                )));
            }
        };
        if !KEYS.contains(&key.as_str()) {
            return Err(bad(format!("unknown modal build arg '{key}'")));
        }
        out.push((key, value));
        i += 1;
    }
    Ok(out)
}

fn number(key: &str, value: &str) -> ProviderResult<f64> {
    match value.parse::<f64>() {
        Ok(n) if n > 0.0 && n.is_finite() => Ok(n),
        _ => Err(bad(format!(
            "build arg '{key}' must be a number greater than 0, got '{value}'"
        ))),
    }
}

/// A Dockerfile as image-layer commands: continuation lines joined, comments and blank lines
/// dropped. `COPY`/`ADD` need a build context Modal would have to upload, which mngr does not.
pub fn dockerfile_commands(text: &str, path: &str) -> ProviderResult<Vec<String>> {
    let mut commands = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        if let Some(head) = trimmed.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
            continue;
        }
        current.push_str(trimmed);
        commands.push(std::mem::take(&mut current));
    }
    if !current.is_empty() {
        commands.push(current);
    }
    let first = commands.first().map(|c| c.to_ascii_uppercase());
    if !first.is_some_and(|c| c.starts_with("FROM ")) {
        return Err(bad(format!(
            "{path}: a Dockerfile for modal must start with FROM"
        )));
    }
    if let Some(c) = commands.iter().find(|c| {
        let upper = c.to_ascii_uppercase();
        upper.starts_with("COPY ") || upper.starts_with("ADD ")
    }) {
        return Err(bad(format!(
            "{path}: '{c}' needs local files, which the modal backend does not upload; use RUN to fetch them"
        )));
    }
    Ok(commands)
}

pub fn parse(
    config: &ModalConfig,
    args: &[String],
    image: Option<&str>,
    dockerfile: Option<&str>,
) -> ProviderResult<BuildPlan> {
    let mut gpu = config.default_gpu.clone();
    let mut cpu = config.default_cpu;
    let mut memory = config.default_memory;
    let mut timeout = config.default_timeout as f64;
    let mut image = image.map(str::to_string);
    let mut dockerfile = dockerfile.map(str::to_string);
    for (key, value) in pairs(args)? {
        match key.as_str() {
            "gpu" => gpu = Some(value).filter(|v| !v.is_empty() && v != "none"),
            "cpu" => cpu = number(&key, &value)?,
            "memory" => memory = number(&key, &value)?,
            "timeout" => timeout = number(&key, &value)?.round(),
            "image" => image = Some(value),
            "dockerfile" => dockerfile = Some(value),
            _ => unreachable!("pairs() admits only KEYS"),
        }
    }
    if image.is_some() && dockerfile.is_some() {
        return Err(bad("give an image or a Dockerfile, not both".into()));
    }
    if timeout > f64::from(u32::MAX) {
        return Err(bad(format!("build arg 'timeout' is too large: {timeout}")));
    }
    let (base_commands, image_label) = match dockerfile {
        Some(path) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| bad(format!("cannot read Dockerfile {path}: {e}")))?;
            (
                dockerfile_commands(&text, &path)?,
                format!("dockerfile:{path}"),
            )
        }
        None => {
            let image = image.unwrap_or_else(|| config.default_image.clone());
            if image.is_empty() || image.contains(char::is_whitespace) {
                return Err(bad(format!("invalid image name '{image}'")));
            }
            (vec![format!("FROM {image}")], image)
        }
    };
    Ok(BuildPlan {
        gpu,
        milli_cpu: (cpu * 1000.0).round() as u32,
        memory_mb: (memory * 1024.0).round() as u32,
        timeout_secs: timeout as u32,
        base_commands,
        image_label,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_three_forms_mean_the_same() {
        let config = ModalConfig::default();
        let expected = parse(
            &config,
            &args(&["gpu=h100", "cpu=2", "memory=8"]),
            None,
            None,
        )
        .unwrap();
        for form in [
            args(&["--gpu=h100", "--cpu=2", "--memory=8"]),
            args(&["--gpu", "h100", "--cpu", "2", "memory=8"]),
            args(&["gpu=h100 cpu=2 memory=8"]),
        ] {
            assert_eq!(
                parse(&config, &form, None, None).unwrap(),
                expected,
                "{form:?}"
            );
        }
        assert_eq!(expected.gpu.as_deref(), Some("h100"));
        assert_eq!((expected.milli_cpu, expected.memory_mb), (2000, 8192));
    }

    #[test]
    fn defaults_follow_the_seed() {
        let plan = parse(&ModalConfig::default(), &[], None, None).unwrap();
        assert_eq!(plan.gpu, None);
        assert_eq!(
            (plan.milli_cpu, plan.memory_mb, plan.timeout_secs),
            (1000, 1024, 900)
        );
        assert_eq!(plan.base_commands, ["FROM debian:bookworm-slim"]);
        let plan = parse(
            &ModalConfig::default(),
            &args(&["image=python:3.11-slim", "timeout=3600"]),
            None,
            None,
        )
        .unwrap();
        assert_eq!(plan.base_commands, ["FROM python:3.11-slim"]);
        assert_eq!(plan.timeout_secs, 3600);
    }

    #[test]
    fn bad_args_name_what_is_wrong() {
        let config = ModalConfig::default();
        let message = |a: &[&str]| parse(&config, &args(a), None, None).unwrap_err().message;
        assert_eq!(message(&["colour=red"]), "unknown modal build arg 'colour'");
        assert_eq!(
            message(&["cpu=many"]),
            "build arg 'cpu' must be a number greater than 0, got 'many'"
        );
        assert_eq!(
            message(&["memory=0"]),
            "build arg 'memory' must be a number greater than 0, got '0'"
        );
        assert_eq!(
            message(&["gpu"]),
            "build arg 'gpu' has no value (write KEY=VALUE)"
        );
    }

    #[test]
    fn dockerfiles_become_layer_commands() {
        let text = "# base\nFROM debian:bookworm-slim\nRUN apt-get update && \\\n    apt-get install -y jq\n\nENV A=1\n";
        assert_eq!(
            dockerfile_commands(text, "Dockerfile").unwrap(),
            [
                "FROM debian:bookworm-slim",
                "RUN apt-get update &&  apt-get install -y jq",
                "ENV A=1"
            ]
        );
        assert!(
            dockerfile_commands("RUN x\n", "D")
                .unwrap_err()
                .message
                .contains("must start with FROM")
        );
        assert!(
            dockerfile_commands("FROM a\nCOPY . /x\n", "D")
                .unwrap_err()
                .message
                .contains("does not upload")
        );
    }
}
