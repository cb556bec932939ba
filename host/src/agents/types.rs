//! Agent types: what command an agent runs. `command` runs any command; `claude` and `codex`
//! run those tools; `[agent_types.NAME]` in settings defines more (and may redefine these).

use crate::config::Settings;
use crate::error::{MngrError, Result};
use crate::shell;

/// An agent type resolved to the command line the agent runs.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedType {
    pub name: String,
    pub command: String,
    /// A program that must be installed on the host, with how to install it.
    pub requires: Option<(String, String)>,
}

/// Types built into mngr, besides those from settings: (name, program, install hint).
const TOOL_TYPES: &[(&str, &str, &str)] = &[
    (
        "claude",
        "claude",
        "install Claude Code (npm install -g @anthropic-ai/claude-code) on that host",
    ),
    (
        "codex",
        "codex",
        "install Codex (npm install -g @openai/codex) on that host",
    ),
];

/// Every type name usable with `mngr create`, sorted.
/// The process name that shows an agent of this type is running; empty for `command` agents,
/// whose command is arbitrary shell (any non-shell process counts).
pub fn expected_process(agent_type: &str, command: &str) -> String {
    if agent_type == "command" {
        String::new()
    } else {
        super::state::expected_process_name(command)
    }
}

pub fn known_types(settings: &Settings) -> Vec<String> {
    let mut names: Vec<String> = vec!["command".to_string()];
    names.extend(TOOL_TYPES.iter().map(|(n, _, _)| n.to_string()));
    names.extend(settings.agent_types.keys().cloned());
    names.sort();
    names.dedup();
    names
}

/// Resolve the type and the command line. `command_flag` is `--command`; `args` come after `--`.
pub fn resolve(
    type_name: Option<&str>,
    settings: &Settings,
    command_flag: Option<&str>,
    args: &[String],
) -> Result<ResolvedType> {
    let extra = shell::join(args);
    let append = |base: &str| {
        if extra.is_empty() {
            base.to_string()
        } else if base.is_empty() {
            extra.clone()
        } else {
            format!("{base} {extra}")
        }
    };
    let name = match type_name {
        Some(name) => name.to_string(),
        None if command_flag.is_some() || !args.is_empty() => "command".to_string(),
        None => {
            return Err(MngrError::usage(
                "no agent type and no command given",
            )
            .with_hint("name a type (mngr create NAME claude) or give a command (mngr create NAME -- CMD ARGS)"));
        }
    };
    if let Some(custom) = settings.agent_types.get(&name) {
        let mut base = command_flag.unwrap_or(&custom.command).to_string();
        if !custom.args.is_empty() {
            base = format!("{base} {}", shell::join(&custom.args));
        }
        return finish(name, append(&base), None);
    }
    if name == "command" {
        return finish(name, append(command_flag.unwrap_or("")), None);
    }
    if let Some((_, program, hint)) = TOOL_TYPES.iter().find(|(n, _, _)| *n == name) {
        let base = command_flag.unwrap_or(program);
        return finish(
            name.clone(),
            append(base),
            Some((program.to_string(), hint.to_string())),
        );
    }
    Err(MngrError::usage(format!(
        "unknown agent type '{name}'; known types: {}",
        known_types(settings).join(", ")
    ))
    .with_hint("define it in settings as [agent_types.NAME] with a command, or use --command"))
}

fn finish(
    name: String,
    command: String,
    requires: Option<(String, String)>,
) -> Result<ResolvedType> {
    if command.trim().is_empty() {
        return Err(
            MngrError::usage(format!("agent type '{name}' has no command to run")).with_hint(
                "give one with --command 'CMD ARGS' or after '--': mngr create NAME -- CMD ARGS",
            ),
        );
    }
    Ok(ResolvedType {
        name,
        command,
        requires,
    })
}

/// Whether mngr knows a stored type (unknown types report RUNNING_UNKNOWN_AGENT_TYPE).
pub fn is_known(name: &str, settings: &Settings) -> bool {
    name == "command"
        || TOOL_TYPES.iter().any(|(n, _, _)| *n == name)
        || settings.agent_types.contains_key(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AgentTypeSettings;

    #[test]
    fn resolves_command_tool_and_settings_types() {
        let mut settings = Settings::default();
        settings.agent_types.insert(
            "helper".into(),
            AgentTypeSettings {
                command: "python3".into(),
                args: vec!["-m".into(), "http.server".into()],
            },
        );
        let args = vec!["sleep".to_string(), "10 20".to_string()];
        let t = resolve(None, &settings, None, &args).unwrap();
        assert_eq!(
            (t.name.as_str(), t.command.as_str()),
            ("command", "sleep '10 20'")
        );
        let t = resolve(Some("helper"), &settings, None, &["8000".into()]).unwrap();
        assert_eq!(t.command, "python3 -m http.server 8000");
        let t = resolve(Some("claude"), &settings, None, &[]).unwrap();
        assert_eq!(t.command, "claude");
        assert_eq!(t.requires.unwrap().0, "claude");
        assert!(resolve(Some("nope"), &settings, None, &[]).is_err());
        assert!(resolve(Some("command"), &settings, None, &[]).is_err());
        assert!(resolve(None, &settings, None, &[]).is_err());
    }
}
