//! `mngr config list|get|set|unset|path|edit`: read the merged settings or one scope's file,
//! and change a file safely: every change is checked as the full settings of this run (every
//! layer, every provider instance built) before the file is replaced atomically.

use crate::app::App;
use crate::config::{self, LoadOptions, Locations, Scope, files, overrides, trust};
use crate::error::{MngrError, Result};
use crate::output::{OutputFormat, print_items, print_one, print_table};
use crate::run_options::RunOptions;
use clap::{Subcommand, ValueEnum};
use serde_json::json;
use std::path::Path;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ScopeArg {
    /// `<MNGR_ROOT or ~/.mngr>/settings.toml`
    User,
    /// `<git root>/.mngr/settings.toml` (meant to be committed)
    Project,
    /// `<git root>/.mngr/settings.local.toml` (meant to stay out of git)
    Local,
}

impl From<ScopeArg> for Scope {
    fn from(s: ScopeArg) -> Scope {
        match s {
            ScopeArg::User => Scope::User,
            ScopeArg::Project => Scope::Project,
            ScopeArg::Local => Scope::Local,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Show every setting with the layer that set it (or one scope's file with --scope)
    #[command(visible_alias = "ls")]
    List {
        #[arg(long, value_enum)]
        scope: Option<ScopeArg>,
    },
    /// Print one setting by dotted key, for example providers.local.host_dir
    Get {
        key: String,
        /// Read this scope's file instead of the merged settings
        #[arg(long, value_enum)]
        scope: Option<ScopeArg>,
    },
    /// Set a key in a settings file (VALUE is TOML, for example 3, true or ["a"], else a string)
    Set {
        key: String,
        value: String,
        #[arg(long, value_enum, default_value = "user")]
        scope: ScopeArg,
    },
    /// Remove a key from a settings file
    Unset {
        key: String,
        #[arg(long, value_enum, default_value = "user")]
        scope: ScopeArg,
    },
    /// Print the settings file path of a scope, or of every scope
    Path {
        #[arg(long, value_enum)]
        scope: Option<ScopeArg>,
    },
    /// Open a settings file in $VISUAL / $EDITOR (vi); the result is checked before it is saved
    Edit {
        #[arg(long, value_enum, default_value = "user")]
        scope: ScopeArg,
    },
    /// Trust the project's settings files as they are now, so settings that choose programs to
    /// run (agent types, provider settings, command defaults such as start_args) are used
    #[command(after_help = TRUST_HELP)]
    Trust {
        /// Only this scope's file (project or local); default: both
        #[arg(long, value_enum)]
        scope: Option<ScopeArg>,
    },
}

const TRUST_HELP: &str = "\
A repository's .mngr/settings.toml (and settings.local.toml) could define the claude agent type
to run anything. Until you trust such a file, every command refuses it (exit 8), naming the file
and the keys. `mngr config trust` records the file's path and the SHA-256 of its content in
<mngr root>/trusted_settings.toml; when the file changes, it needs trust again. Read the file
first (`mngr config list --scope project` shows it). Settings that run nothing (prefix, headless,
enabled plugins and instances, command defaults such as provider) need no trust.";

pub fn run(global: &RunOptions, cmd: ConfigCommand) -> Result<()> {
    let format = OutputFormat::parse(&global.format);
    match cmd {
        ConfigCommand::List { scope } => list(global, &format, scope.map(Scope::from)),
        ConfigCommand::Get { key, scope } => get(global, &format, &key, scope.map(Scope::from)),
        ConfigCommand::Set { key, value, scope } => {
            set(global, &format, &key, &value, scope.into())
        }
        ConfigCommand::Unset { key, scope } => unset(global, &format, &key, scope.into()),
        ConfigCommand::Path { scope } => path(&format, scope.map(Scope::from)),
        ConfigCommand::Edit { scope } => edit(global, &format, scope.into()),
        ConfigCommand::Trust { scope } => trust_files(&format, scope.map(Scope::from)),
    }
}

fn load_options(global: &RunOptions) -> LoadOptions {
    LoadOptions::from_process(&global.settings_overrides, Some(global.commands.clone()))
}

/// For `list` and `get`: showing settings runs nothing, so untrusted project files are shown
/// too (to be read before `mngr config trust`).
fn reading_options(global: &RunOptions) -> LoadOptions {
    LoadOptions {
        check_trust: false,
        ..load_options(global)
    }
}

/// One setting as shown by list and get.
fn entry(key: &str, value: &toml::Value, source: &str, origin: &str) -> serde_json::Value {
    json!({
        "key": key,
        "value": overrides::toml_to_json(value),
        "source": source,
        "origin": origin,
    })
}

/// Every leaf of `table` (values that are not tables, and empty tables) with its dotted key.
fn leaves(
    table: &toml::Table,
    prefix: &mut Vec<String>,
    out: &mut Vec<(Vec<String>, toml::Value)>,
) {
    for (key, value) in table {
        prefix.push(key.clone());
        match value {
            toml::Value::Table(t) if !t.is_empty() => leaves(t, prefix, out),
            other => out.push((prefix.clone(), other.clone())),
        }
        prefix.pop();
    }
}

/// A scope's file as a table (empty if the file does not exist), with its path.
fn read_scope(locations: &Locations, scope: Scope) -> Result<(std::path::PathBuf, toml::Table)> {
    let path = locations.require_file(scope)?;
    let table = match files::read_file(&path)? {
        Some(text) => files::parse(&path, &text)?,
        None => toml::Table::new(),
    };
    Ok((path, table))
}

fn list(global: &RunOptions, format: &OutputFormat, scope: Option<Scope>) -> Result<()> {
    let opts = reading_options(global);
    let mut found = Vec::new();
    let items: Vec<serde_json::Value> = match scope {
        None => {
            let settings = config::load(&opts)?;
            leaves(&settings.merged, &mut Vec::new(), &mut found);
            found
                .iter()
                .map(|(path, value)| {
                    let source = settings
                        .provenance
                        .source_of(path)
                        .expect("every value has a layer");
                    entry(&path.join("."), value, source.label(), &source.describe())
                })
                .collect()
        }
        Some(scope) => {
            let (file, table) = read_scope(&opts.locations, scope)?;
            leaves(&table, &mut Vec::new(), &mut found);
            let origin = file.display().to_string();
            found
                .iter()
                .map(|(path, value)| entry(&path.join("."), value, scope.as_str(), &origin))
                .collect()
        }
    };
    print_items(format, "settings", &items, |_| {
        for (path, value) in &found {
            let item = items
                .iter()
                .find(|i| i["key"] == path.join("."))
                .expect("listed");
            let comment = match item["source"].as_str() {
                Some(label @ ("user" | "project" | "local")) if scope.is_none() => {
                    format!("{label}: {}", item["origin"].as_str().unwrap_or_default())
                }
                Some("env" | "-S") => item["origin"].as_str().unwrap_or_default().to_string(),
                other => other.unwrap_or_default().to_string(),
            };
            println!("{} = {value}  # {comment}", path.join("."));
        }
    });
    Ok(())
}

fn parse_key(key: &str) -> Result<Vec<String>> {
    overrides::dotted_path(key).map_err(MngrError::usage)
}

fn get(global: &RunOptions, format: &OutputFormat, key: &str, scope: Option<Scope>) -> Result<()> {
    let path = parse_key(key)?;
    let opts = reading_options(global);
    let (value, source, origin) = match scope {
        None => {
            let settings = config::load(&opts)?;
            let value = settings.get(key).cloned();
            let source = settings.provenance.source_of(&path).cloned();
            match (value, source) {
                (Some(v), Some(s)) => (v, s.label().to_string(), s.describe()),
                _ => return Err(not_set(key, "the merged settings")),
            }
        }
        Some(scope) => {
            let (file, table) = read_scope(&opts.locations, scope)?;
            let value = lookup(&table, &path).ok_or_else(|| {
                not_set(
                    key,
                    &format!("the {} settings ({})", scope.as_str(), file.display()),
                )
            })?;
            (
                value.clone(),
                scope.as_str().to_string(),
                file.display().to_string(),
            )
        }
    };
    print_one(
        format,
        &entry(key, &value, &source, &origin),
        || match &value {
            toml::Value::String(s) => println!("{s}"),
            toml::Value::Table(t) => print!("{}", toml::to_string(t).expect("toml")),
            other => println!("{other}"),
        },
    );
    Ok(())
}

fn lookup<'t>(table: &'t toml::Table, path: &[String]) -> Option<&'t toml::Value> {
    let (first, rest) = path.split_first()?;
    rest.iter()
        .try_fold(table.get(first)?, |v, part| v.as_table()?.get(part))
}

fn not_set(key: &str, place: &str) -> MngrError {
    MngrError::not_found(format!("setting '{key}' is not set in {place}"))
        .with_hint("`mngr config list` shows every setting")
}

/// Check `new_text` as the file of `scope` together with every other layer (including building
/// every provider instance), then replace the file atomically.
fn check_and_write(global: &RunOptions, scope: Scope, file: &Path, new_text: &str) -> Result<()> {
    let mut opts = load_options(global);
    // A change made here is the user's own: a project file that was trusted (or needed no
    // trust) stays trusted with it. An untrusted file still needs `mngr config trust` first.
    let old_text = files::read_file(file)?.unwrap_or_default();
    // (A file that does not parse vouches for nothing: `edit` may be fixing it.)
    let keep_trust = scope != Scope::User
        && match files::parse(file, &old_text) {
            Ok(old_table) => {
                trust::keys_needing_trust(&old_table).is_empty()
                    || trust::is_trusted(&opts.locations.root, file, &old_text)?
            }
            Err(_) => false,
        };
    opts.replace = Some((scope, new_text.to_string()));
    opts.replacement_trusted = keep_trust;
    let checked = config::load(&opts).and_then(|settings| App::from_settings(global, settings));
    if let Err(mut err) = checked {
        if err.hint.is_none() {
            err.hint = Some(format!(
                "nothing was written; {} is unchanged",
                file.display()
            ));
        }
        return Err(err);
    }
    files::write_atomic(file, new_text)?;
    if keep_trust {
        trust::trust(&opts.locations.root, file, new_text)?;
    }
    Ok(())
}

fn current_text(file: &Path) -> Result<String> {
    let text = files::read_file(file)?.unwrap_or_default();
    // A file that does not parse gets the same one-line error as everywhere else.
    files::parse(file, &text)?;
    Ok(text)
}

fn set(
    global: &RunOptions,
    format: &OutputFormat,
    key: &str,
    raw: &str,
    scope: Scope,
) -> Result<()> {
    let path = parse_key(key)?;
    let file = Locations::from_process().require_file(scope)?;
    let value = overrides::parse_value(raw);
    let new_text = config::edit::set_key(&current_text(&file)?, &path, &value).map_err(|why| {
        MngrError::settings(format!("{}: cannot set '{key}': {why}", file.display()))
    })?;
    check_and_write(global, scope, &file, &new_text)?;
    let item = json!({
        "key": key,
        "value": overrides::toml_to_json(&value),
        "scope": scope.as_str(),
        "path": file.display().to_string(),
    });
    print_one(format, &item, || {
        println!(
            "Set {key} = {value} in {} ({})",
            file.display(),
            scope.as_str()
        )
    });
    Ok(())
}

fn unset(global: &RunOptions, format: &OutputFormat, key: &str, scope: Scope) -> Result<()> {
    let path = parse_key(key)?;
    let file = Locations::from_process().require_file(scope)?;
    let new_text = config::edit::unset_key(&current_text(&file)?, &path)
        .map_err(|why| MngrError::settings(format!("{}: {why}", file.display())))?
        .ok_or_else(|| {
            not_set(
                key,
                &format!("the {} settings ({})", scope.as_str(), file.display()),
            )
        })?;
    check_and_write(global, scope, &file, &new_text)?;
    let item = json!({"key": key, "scope": scope.as_str(), "path": file.display().to_string()});
    print_one(format, &item, || {
        println!("Unset {key} in {} ({})", file.display(), scope.as_str())
    });
    Ok(())
}

fn path(format: &OutputFormat, scope: Option<Scope>) -> Result<()> {
    let locations = Locations::from_process();
    let describe = |scope: Scope, file: Option<&Path>| {
        json!({
            "scope": scope.as_str(),
            "path": file.map(|f| f.display().to_string()),
            "exists": file.is_some_and(Path::exists),
        })
    };
    match scope {
        Some(scope) => {
            let file = locations.require_file(scope)?;
            print_one(format, &describe(scope, Some(&file)), || {
                println!("{}", file.display())
            });
        }
        None => {
            let items: Vec<serde_json::Value> = Scope::ALL
                .iter()
                .map(|&s| describe(s, locations.file(s).as_deref()))
                .collect();
            print_items(format, "paths", &items, |items| {
                let rows: Vec<Vec<String>> = items
                    .iter()
                    .map(|i| {
                        vec![
                            i["scope"].as_str().unwrap_or_default().to_string(),
                            i["path"]
                                .as_str()
                                .unwrap_or("- (not in a git repository)")
                                .to_string(),
                            if i["exists"] == true { "yes" } else { "no" }.to_string(),
                        ]
                    })
                    .collect();
                print_table(&["SCOPE", "PATH", "EXISTS"], &rows);
            });
        }
    }
    Ok(())
}

/// Edit a copy of the file; save it over the original only if the result is valid. A rejected
/// edit is kept beside the file (`settings.toml.rejected`) so the work is not lost.
fn edit(global: &RunOptions, format: &OutputFormat, scope: Scope) -> Result<()> {
    let settings_headless = crate::app::load_settings(global)
        .map(|s| s.headless)
        .unwrap_or(false);
    if global.headless || settings_headless {
        return Err(MngrError::usage("config edit opens an editor, which headless mode forbids")
            .with_hint("use `mngr config set KEY VALUE` instead, or run without --headless / MNGR_HEADLESS"));
    }
    let file = Locations::from_process().require_file(scope)?;
    let original = files::read_file(&file)?.unwrap_or_default();
    let dir = file.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .map_err(|e| MngrError::failure(format!("cannot create {}: {e}", dir.display())))?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let draft = dir.join(format!(".{name}.{}.edit.toml", std::process::id()));
    std::fs::write(&draft, &original)?;
    let editor = ["VISUAL", "EDITOR"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|e| !e.trim().is_empty()))
        .unwrap_or_else(|| "vi".to_string());
    // Through the shell, so EDITOR may carry arguments ("code --wait").
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(&draft)
        .status();
    let edited = match status {
        Ok(s) if s.success() => std::fs::read_to_string(&draft),
        Ok(s) => {
            let _ = std::fs::remove_file(&draft);
            return Err(MngrError::failure(format!(
                "the editor ({editor}) exited with {s}; {} is unchanged",
                file.display()
            )));
        }
        Err(e) => Err(e),
    };
    let edited = match edited {
        Ok(text) => text,
        Err(e) => {
            let _ = std::fs::remove_file(&draft);
            return Err(MngrError::failure(format!(
                "cannot run the editor ({editor}): {e}"
            )));
        }
    };
    let changed = edited != original;
    if changed {
        let checked = files::parse(&file, &edited)
            .and_then(|_| check_and_write(global, scope, &file, &edited));
        if let Err(mut err) = checked {
            let rejected = dir.join(format!("{name}.rejected"));
            let _ = std::fs::rename(&draft, &rejected);
            err.hint = Some(format!(
                "{} is unchanged; your edit is kept in {}",
                file.display(),
                rejected.display()
            ));
            return Err(err);
        }
    }
    let _ = std::fs::remove_file(&draft);
    let item =
        json!({"scope": scope.as_str(), "path": file.display().to_string(), "changed": changed});
    print_one(format, &item, || {
        if changed {
            println!("Saved {} ({})", file.display(), scope.as_str());
        } else {
            println!("No changes to {} ({})", file.display(), scope.as_str());
        }
    });
    Ok(())
}

/// `mngr config trust`: record the project files (or one scope's) as trusted as they are now.
fn trust_files(format: &OutputFormat, scope: Option<Scope>) -> Result<()> {
    let locations = Locations::from_process();
    let explicit = scope.is_some();
    let scopes = match scope {
        Some(Scope::User) => {
            return Err(MngrError::usage(
                "the user settings are yours and always trusted; trust takes --scope project or local",
            ));
        }
        Some(scope) => {
            locations.require_file(scope)?;
            vec![scope]
        }
        None => {
            locations.require_file(Scope::Project)?;
            vec![Scope::Project, Scope::Local]
        }
    };
    let mut items = Vec::new();
    for scope in scopes {
        let file = locations.require_file(scope)?;
        let Some(text) = files::read_file(&file)? else {
            if explicit {
                return Err(MngrError::not_found(format!(
                    "{} does not exist; there is nothing to trust",
                    file.display()
                )));
            }
            continue;
        };
        let keys = trust::keys_needing_trust(&files::parse(&file, &text)?);
        trust::trust(&locations.root, &file, &text)?;
        items.push(json!({
            "scope": scope.as_str(),
            "path": file.display().to_string(),
            "sha256": trust::digest(&text),
            "keys": keys,
        }));
    }
    print_items(format, "trusted", &items, |items| {
        if items.is_empty() {
            println!("No project settings files to trust.");
        }
        for item in items {
            let keys: Vec<&str> = item["keys"]
                .as_array()
                .map(|k| k.iter().filter_map(|k| k.as_str()).collect())
                .unwrap_or_default();
            let runs = if keys.is_empty() {
                String::new()
            } else {
                format!("; it chooses programs to run with {}", keys.join(", "))
            };
            println!(
                "Trusted {} ({}) as it is now{runs}",
                item["path"].as_str().unwrap_or_default(),
                item["scope"].as_str().unwrap_or_default()
            );
        }
    });
    Ok(())
}
