//! Settings keys and their operator suffixes: `key__extend` appends to a list or merges a
//! table, `key__assign` replaces (see [`super::merge`]). Every layer that reads keys (merge,
//! schema, trust, secrets) compares them without the suffix.

/// Appends to a list, or merges a table recursively, instead of replacing it.
pub const EXTEND: &str = "__extend";
/// Replaces (the default, spelled out).
pub const ASSIGN: &str = "__assign";

/// The key without an operator suffix.
pub fn base_key(key: &str) -> &str {
    key.strip_suffix(EXTEND)
        .or_else(|| key.strip_suffix(ASSIGN))
        .unwrap_or(key)
}
