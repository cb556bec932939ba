//! Changing one key of a settings file's text while keeping its comments and layout
//! (`mngr config set` / `unset`).

use toml_edit::{DocumentMut, Item, Table, TableLike};

/// The text with `path` set to `value`; missing tables along the path are created.
pub fn set_key(text: &str, path: &[String], value: &toml::Value) -> Result<String, String> {
    let mut doc: DocumentMut = text.parse().map_err(|e| format!("invalid TOML: {e}"))?;
    let (last, parents) = path.split_last().expect("a key has at least one part");
    let mut table: &mut dyn TableLike = doc.as_table_mut();
    for (i, part) in parents.iter().enumerate() {
        let item = table.entry(part).or_insert_with(|| {
            let mut t = Table::new();
            // No `[providers]` header just because `[providers.lab]` is being made.
            t.set_implicit(true);
            Item::Table(t)
        });
        if !item.is_table_like() {
            return Err(format!(
                "'{}' is {}, not a table; unset it first",
                path[..=i].join("."),
                crate::config::schema::describe(&item_to_toml(item))
            ));
        }
        table = item.as_table_like_mut().expect("checked");
    }
    let mut new = to_item(value);
    match table.get_mut(last) {
        // Replace in place so the key's comments and the value's trailing comment stay.
        Some(existing) => {
            if let (Some(old), Some(new)) = (existing.as_value(), new.as_value_mut()) {
                *new.decor_mut() = old.decor().clone();
            }
            *existing = new;
        }
        None => {
            table.insert(last, new);
        }
    }
    Ok(doc.to_string())
}

/// The text without `path`, and without tables left empty by its removal; `None` if `path`
/// is not set in the text.
pub fn unset_key(text: &str, path: &[String]) -> Result<Option<String>, String> {
    let mut doc: DocumentMut = text.parse().map_err(|e| format!("invalid TOML: {e}"))?;
    if !remove(doc.as_table_mut(), path) {
        return Ok(None);
    }
    Ok(Some(doc.to_string()))
}

/// Remove `path` below `table`, then any table on the way that became empty.
fn remove(table: &mut dyn TableLike, path: &[String]) -> bool {
    let (first, rest) = path.split_first().expect("a key has at least one part");
    if rest.is_empty() {
        return table.remove(first).is_some();
    }
    let Some(child) = table.get_mut(first).and_then(Item::as_table_like_mut) else {
        return false;
    };
    let removed = remove(child, rest);
    if removed && child.is_empty() {
        table.remove(first);
    }
    removed
}

/// A value as a file item: tables become `[table]` sections, everything else inline.
fn to_item(value: &toml::Value) -> Item {
    match value {
        toml::Value::Table(t) => {
            let mut table = Table::new();
            for (k, v) in t {
                table.insert(k, to_item(v));
            }
            Item::Table(table)
        }
        other => {
            let text = other.to_string();
            Item::Value(text.parse().expect("a TOML value prints as valid TOML"))
        }
    }
}

fn item_to_toml(item: &Item) -> toml::Value {
    item.to_string()
        .trim()
        .parse()
        .unwrap_or_else(|_| toml::Value::String(item.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::source::path_of;

    #[test]
    fn set_keeps_comments_and_makes_only_the_needed_headers() {
        let text = "# my settings\nprefix = \"a-\" # short\n";
        let out = set_key(
            text,
            &path_of("providers.lab.host_dir"),
            &toml::Value::String("/x".into()),
        )
        .unwrap();
        assert_eq!(
            out,
            "# my settings\nprefix = \"a-\" # short\n\n[providers.lab]\nhost_dir = \"/x\"\n"
        );
        let out = set_key(&out, &path_of("prefix"), &toml::Value::String("b-".into())).unwrap();
        assert!(
            out.starts_with("# my settings\nprefix = \"b-\" # short\n"),
            "{out}"
        );
        let err = set_key(&out, &path_of("prefix.x"), &toml::Value::Integer(1)).unwrap_err();
        assert!(err.contains("'prefix' is a string"), "{err}");
    }

    #[test]
    fn unset_removes_the_key_and_tables_it_leaves_empty() {
        let text = "# top\nprefix = \"a-\"\n\n[providers.lab]\nhost_dir = \"/x\"\n";
        let out = unset_key(text, &path_of("providers.lab.host_dir"))
            .unwrap()
            .unwrap();
        assert_eq!(out, "# top\nprefix = \"a-\"\n");
        assert_eq!(
            unset_key(text, &path_of("providers.other.x")).unwrap(),
            None
        );
        assert_eq!(unset_key(text, &path_of("prefix.x")).unwrap(), None);
    }
}
