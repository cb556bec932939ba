//! Where a setting came from: the layer (and file, variable or `-S` argument) that set it.
//! Errors name it, and `mngr provider list` / `mngr config list` show it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A settings file scope that `mngr config` can read and write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    User,
    Project,
    Local,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::User, Scope::Project, Scope::Local];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::User => "user",
            Scope::Project => "project",
            Scope::Local => "local",
        }
    }
}

/// One settings layer, lowest precedence first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    File {
        scope: Scope,
        path: PathBuf,
    },
    /// A `MNGR__...` (or alias) environment variable.
    Env(String),
    /// A `-S KEY=VALUE` argument.
    Setting(String),
}

impl Source {
    /// Short label for tables: default, user, project, local, env, -S.
    pub fn label(&self) -> &'static str {
        match self {
            Source::Default => "default",
            Source::File { scope, .. } => scope.as_str(),
            Source::Env(_) => "env",
            Source::Setting(_) => "-S",
        }
    }

    /// What an error message names: the file path, variable or argument.
    pub fn describe(&self) -> String {
        match self {
            Source::Default => "built-in defaults".to_string(),
            Source::File { path, .. } => path.display().to_string(),
            Source::Env(var) => format!("environment variable {var}"),
            // A secret value is never shown, only its key.
            Source::Setting(arg) => match arg.split_once('=') {
                Some((key, _)) if super::secret::is_secret_key(key) => {
                    format!("-S {key}=<secret, not shown>")
                }
                _ => format!("-S {arg}"),
            },
        }
    }

    pub fn file(&self) -> Option<&Path> {
        match self {
            Source::File { path, .. } => Some(path),
            _ => None,
        }
    }
}

/// For every path a layer assigned, the index of that layer in `layers`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Provenance {
    pub layers: Vec<Source>,
    assigned: BTreeMap<Vec<String>, usize>,
}

impl Provenance {
    pub fn add_layer(&mut self, source: Source) -> usize {
        self.layers.push(source);
        self.layers.len() - 1
    }

    /// Record that `layer` assigned `path` (replacing whatever was below it).
    pub fn assign(&mut self, path: &[String], layer: usize) {
        self.assigned.retain(|p, _| !p.starts_with(path));
        self.assigned.insert(path.to_vec(), layer);
    }

    /// Record that `layer` changed `path` in place (extended a list), keeping what is below.
    pub fn touch(&mut self, path: &[String], layer: usize) {
        self.assigned.insert(path.to_vec(), layer);
    }

    /// The layer that set `path` (or the table holding it).
    pub fn source_of(&self, path: &[String]) -> Option<&Source> {
        (0..=path.len())
            .rev()
            .find_map(|n| self.assigned.get(&path[..n]))
            .map(|&i| &self.layers[i])
    }

    /// Every layer that set `path`, something inside it, or a table holding it; lowest first.
    pub fn sources_under(&self, path: &[String]) -> Vec<&Source> {
        let mut found: Vec<usize> = self
            .assigned
            .iter()
            .filter(|(p, _)| p.starts_with(path) || path.starts_with(p))
            .map(|(_, &i)| i)
            .collect();
        found.sort_unstable();
        found.dedup();
        found.into_iter().map(|i| &self.layers[i]).collect()
    }
}

pub fn path_of(dotted: &str) -> Vec<String> {
    dotted.split('.').map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_assignment_wins_and_sources_collect_in_layer_order() {
        let mut p = Provenance::default();
        let user = p.add_layer(Source::Env("A".into()));
        let local = p.add_layer(Source::Env("B".into()));
        p.assign(&path_of("providers.lab"), user);
        p.assign(&path_of("providers.lab.host_dir"), local);
        assert_eq!(
            p.source_of(&path_of("providers.lab.backend")),
            Some(&Source::Env("A".into()))
        );
        assert_eq!(
            p.source_of(&path_of("providers.lab.host_dir")),
            Some(&Source::Env("B".into()))
        );
        assert_eq!(p.sources_under(&path_of("providers.lab")).len(), 2);
        p.assign(&path_of("providers.lab"), local);
        assert_eq!(p.sources_under(&path_of("providers.lab")).len(), 1);
    }
}
