//! Output formats shared by every command: human text, one JSON document, JSON lines, or a
//! `{field}` template rendered once per item.

use crate::error::{MngrError, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputFormat {
    Human,
    Json,
    Jsonl,
    /// A template such as `{name}\t{state}`; `{a.b}` reads nested fields; unknown fields are empty.
    Template(String),
}

impl OutputFormat {
    pub fn parse(raw: &str) -> Self {
        match raw.to_ascii_lowercase().as_str() {
            "human" => OutputFormat::Human,
            "json" => OutputFormat::Json,
            "jsonl" => OutputFormat::Jsonl,
            _ => OutputFormat::Template(unescape(raw)),
        }
    }

    /// For commands that have no per-item output to template.
    pub fn reject_template(&self, command: &str) -> Result<()> {
        match self {
            OutputFormat::Template(_) => Err(MngrError::usage(format!(
                "format templates are not supported by '{command}'; use --format human, json or jsonl"
            ))),
            _ => Ok(()),
        }
    }
}

fn unescape(raw: &str) -> String {
    raw.replace("\\t", "\t").replace("\\n", "\n")
}

/// The value at a dotted path (`host.name`, `labels.project`) of a JSON object.
pub fn field<'a>(item: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
    path.split('.')
        .try_fold(item, |value, part| value.get(part))
}

/// A JSON value as a table cell: text as is, null empty, objects as `k=v, k=v`, lists as
/// `a, b` (a listed object with a `name` shows its name).
pub fn display_value(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{k}={}", display_value(v)))
            .collect::<Vec<_>>()
            .join(", "),
        Value::Array(items) => items
            .iter()
            .map(|item| match item.get("name") {
                Some(name) => display_value(name),
                None => display_value(item),
            })
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

/// Order two JSON values for sorting: missing and null first, then booleans, numbers
/// (numerically), strings, and anything else by its JSON text.
pub fn compare_values(
    a: Option<&serde_json::Value>,
    b: Option<&serde_json::Value>,
) -> std::cmp::Ordering {
    use serde_json::Value;
    let rank = |v: Option<&Value>| match v {
        None | Some(Value::Null) => 0,
        Some(Value::Bool(_)) => 1,
        Some(Value::Number(_)) => 2,
        Some(Value::String(_)) => 3,
        Some(_) => 4,
    };
    match (a, b) {
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x.cmp(y),
        (Some(Value::Number(x)), Some(Value::Number(y))) => {
            let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            x.total_cmp(&y)
        }
        (Some(Value::String(x)), Some(Value::String(y))) => x.cmp(y),
        (Some(x), Some(y)) if rank(a) == 4 && rank(b) == 4 => x.to_string().cmp(&y.to_string()),
        _ => rank(a).cmp(&rank(b)),
    }
}

/// Render `{field}` / `{a.b}` placeholders from a JSON object. `{{` and `}}` are literal braces.
pub fn render_template(template: &str, item: &serde_json::Value) -> String {
    let mut out = String::new();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                let path: String = chars.by_ref().take_while(|&c| c != '}').collect();
                if let Some(value) = field(item, &path) {
                    match value {
                        serde_json::Value::String(s) => out.push_str(s),
                        serde_json::Value::Null => {}
                        other => out.push_str(&other.to_string()),
                    }
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// Print a list of items in the chosen format. `human` is called for human output.
pub fn print_items(
    format: &OutputFormat,
    key: &str,
    items: &[serde_json::Value],
    human: impl FnOnce(&[serde_json::Value]),
) {
    match format {
        OutputFormat::Human => human(items),
        OutputFormat::Json => {
            let doc = serde_json::json!({ key: items });
            println!("{}", serde_json::to_string_pretty(&doc).expect("json"));
        }
        OutputFormat::Jsonl => {
            for item in items {
                println!("{}", serde_json::to_string(item).expect("json"));
            }
        }
        OutputFormat::Template(t) => {
            for item in items {
                println!("{}", render_template(t, item));
            }
        }
    }
}

/// Print one result object: pretty JSON for `json`, one line for `jsonl`, the template once, or
/// `human` for human output.
pub fn print_one(format: &OutputFormat, item: &serde_json::Value, human: impl FnOnce()) {
    match format {
        OutputFormat::Human => human(),
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(item).expect("json")),
        OutputFormat::Jsonl => println!("{}", serde_json::to_string(item).expect("json")),
        OutputFormat::Template(t) => println!("{}", render_template(t, item)),
    }
}

/// A plain text table with left-aligned columns, for human output.
pub fn print_table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{:<w$}  ", cell, w = widths[i]));
            }
        }
        println!("{}", s.trim_end());
    };
    line(headers.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_read_nested_fields_and_leave_unknown_ones_empty() {
        let item = serde_json::json!({"name": "a", "host": {"name": "h"}, "n": 3});
        assert_eq!(
            render_template("{name}@{host.name} {n} {missing}|{{x}}", &item),
            "a@h 3 |{x}"
        );
        assert_eq!(
            OutputFormat::parse("{name}\\t{state}"),
            OutputFormat::Template("{name}\t{state}".into())
        );
        assert_eq!(OutputFormat::parse("JSON"), OutputFormat::Json);
    }
}
