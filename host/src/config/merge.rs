//! Merging one settings layer over the layers below it.
//!
//! Scalars assign. Lists and tables assign too, except:
//! - the registry tables (`providers`, `agent_types`, `plugins`, `commands`) merge per entry, and
//!   an entry present in several layers merges field by field;
//! - `key__extend` appends to a list, or merges a table recursively, instead of replacing it;
//! - `key__assign` replaces (the default, spelled out).

use super::keys::{ASSIGN, EXTEND, base_key};
use super::source::Provenance;
use toml::{Table, Value};

/// Top-level tables whose entries merge field by field.
pub const REGISTRY_TABLES: [&str; 4] = ["agent_types", "commands", "plugins", "providers"];

/// Merge `overlay` (layer number `layer`) over `acc`, recording what it set in `prov`.
pub fn merge_layer(acc: &mut Table, overlay: Table, layer: usize, prov: &mut Provenance) {
    let mut path = Vec::new();
    for (key, value) in overlay {
        // Registry tables merge two levels deep: the registry, then each entry's fields.
        let depth = if REGISTRY_TABLES.contains(&base_key(&key)) {
            2
        } else {
            0
        };
        merge_key(acc, key, value, depth, &mut path, layer, prov);
    }
}

fn merge_table(
    acc: &mut Table,
    overlay: Table,
    depth: usize,
    path: &mut Vec<String>,
    layer: usize,
    prov: &mut Provenance,
) {
    for (key, value) in overlay {
        merge_key(acc, key, value, depth, path, layer, prov);
    }
}

fn merge_key(
    acc: &mut Table,
    key: String,
    value: Value,
    depth: usize,
    path: &mut Vec<String>,
    layer: usize,
    prov: &mut Provenance,
) {
    if let Some(base) = key.strip_suffix(EXTEND) {
        path.push(base.to_string());
        match (acc.get_mut(base), value) {
            (Some(Value::Array(have)), Value::Array(more)) => {
                have.extend(more);
                prov.touch(path, layer);
            }
            (Some(Value::Table(have)), Value::Table(more)) => {
                merge_table(have, more, usize::MAX, path, layer, prov);
            }
            (_, value) => {
                acc.insert(base.to_string(), value);
                prov.assign(path, layer);
            }
        }
        path.pop();
        return;
    }
    let key = match key.strip_suffix(ASSIGN) {
        Some(base) => return assign(acc, base.to_string(), value, path, layer, prov),
        None => key,
    };
    match (acc.get_mut(&key), value) {
        (Some(Value::Table(have)), Value::Table(more)) if depth > 0 => {
            path.push(key);
            merge_table(have, more, depth - 1, path, layer, prov);
            path.pop();
        }
        (_, value) => assign(acc, key, value, path, layer, prov),
    }
}

fn assign(
    acc: &mut Table,
    key: String,
    value: Value,
    path: &mut Vec<String>,
    layer: usize,
    prov: &mut Provenance,
) {
    path.push(key.clone());
    prov.assign(path, layer);
    path.pop();
    acc.insert(key, value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::source::{Source, path_of};

    fn merged(layers: &[&str]) -> (Table, Provenance) {
        let mut acc = Table::new();
        let mut prov = Provenance::default();
        for (i, text) in layers.iter().enumerate() {
            let layer = prov.add_layer(Source::Env(format!("L{i}")));
            merge_layer(&mut acc, text.parse().unwrap(), layer, &mut prov);
        }
        (acc, prov)
    }

    #[test]
    fn registry_entries_merge_field_by_field_and_other_values_assign() {
        let (acc, prov) = merged(&[
            "prefix = 'a-'\nenabled_backends = ['local', 'docker']\n[providers.lab]\nbackend = 'ssh'\nhost_dir = '/a'\n[providers.other]\nx = 1",
            "prefix = 'b-'\nenabled_backends = ['local']\n[providers.lab]\nhost_dir = '/b'",
        ]);
        let expected: Table = "prefix = 'b-'\nenabled_backends = ['local']\n[providers.lab]\nbackend = 'ssh'\nhost_dir = '/b'\n[providers.other]\nx = 1"
            .parse()
            .unwrap();
        assert_eq!(acc, expected);
        assert_eq!(
            prov.source_of(&path_of("providers.lab.backend")),
            Some(&Source::Env("L0".into()))
        );
        assert_eq!(
            prov.source_of(&path_of("providers.lab.host_dir")),
            Some(&Source::Env("L1".into()))
        );
    }

    #[test]
    fn extend_appends_lists_and_merges_tables_while_nested_tables_assign() {
        let (acc, _) = merged(&[
            "enabled_backends = ['local']\n[providers.lab.hosts.a]\nx = 1\n[providers.lab.tags]\nk = 'v'",
            "enabled_backends__extend = ['docker']\n[providers.lab.hosts.b]\nx = 2\n[providers.lab.tags__extend]\nk2 = 'v2'",
        ]);
        let expected: Table = "enabled_backends = ['local', 'docker']\n[providers.lab.hosts.b]\nx = 2\n[providers.lab.tags]\nk = 'v'\nk2 = 'v2'"
            .parse()
            .unwrap();
        assert_eq!(acc, expected);
    }
}
