//! Declarative backend configuration. A backend declares its `[providers.NAME]` table once,
//! with [`provider_config!`](crate::provider_config): each key's name, type, default and help
//! (its doc comment). From that one declaration come the struct, its `Default`, the
//! [`ConfigField`] list the backend describes itself with, and the parse, which refuses
//! unknown keys and wrongly typed values with a message naming the key.

use mngr_plugin_api::{ConfigField, ConfigValueType, ProviderError, ProviderResult};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A Rust type a configuration key can have: what the host shows for it, and how a wrong
/// value is described.
pub trait ConfigType: DeserializeOwned + Serialize {
    const VALUE_TYPE: ConfigValueType;
    /// Completes "'key' must be ...".
    const EXPECTED: &'static str;

    /// Whether `value` reads as this type; else the message for the user, naming the key by
    /// its dotted `path` (`port`, `hosts.gpu1.port`).
    fn check_value(path: &str, value: &Value) -> Result<(), String> {
        Self::deserialize(value)
            .map(|_| ())
            .map_err(|_| format!("'{path}' must be {}, got {value}", Self::EXPECTED))
    }
}

macro_rules! config_types {
    ($($ty:ty => $value_type:ident, $expected:literal;)*) => {
        $(impl ConfigType for $ty {
            const VALUE_TYPE: ConfigValueType = ConfigValueType::$value_type;
            const EXPECTED: &'static str = $expected;
        })*
    };
}

config_types! {
    String => String, "a string";
    bool => Bool, "true or false";
    u16 => Integer, "a non-negative integer";
    u32 => Integer, "a non-negative integer";
    u64 => Integer, "a non-negative integer";
    i64 => Integer, "an integer";
    f64 => Float, "a number";
    Vec<String> => StringList, "a list of strings";
}

/// A key that may be absent (no default): typed as its inner type.
impl<T: ConfigType> ConfigType for Option<T> {
    const VALUE_TYPE: ConfigValueType = T::VALUE_TYPE;
    const EXPECTED: &'static str = T::EXPECTED;
}

/// A key holding named sub-tables, each a table declared with
/// [`provider_config!`](crate::provider_config) (`[providers.NAME.hosts.HOST]`): every
/// sub-table is checked like a top-level one, so unknown keys and wrong types are refused with
/// their dotted path.
impl<T: ProviderConfig + Serialize> ConfigType for BTreeMap<String, T> {
    const VALUE_TYPE: ConfigValueType = ConfigValueType::Table;
    const EXPECTED: &'static str = "a table of tables";

    fn check_value(path: &str, value: &Value) -> Result<(), String> {
        let Value::Object(entries) = value else {
            return Err(format!("'{path}' must be {}, got {value}", Self::EXPECTED));
        };
        for (name, entry) in entries {
            let Value::Object(table) = entry else {
                return Err(format!("'{path}.{name}' must be a table, got {entry}"));
            };
            check_table::<T>(table, &format!("{path}.{name}"))?;
        }
        Ok(())
    }
}

/// Every key of `table` declared by `C` and of its type; `within` is the dotted path of a
/// sub-table (empty for the top level), for messages.
fn check_table<C: ProviderConfig>(table: &Map<String, Value>, within: &str) -> Result<(), String> {
    for (key, value) in table {
        let path = if within.is_empty() {
            key.clone()
        } else {
            format!("{within}.{key}")
        };
        match C::check_key(key, &path, value) {
            Some(result) => result?,
            None => {
                let valid: Vec<String> = C::fields().into_iter().map(|f| f.name).collect();
                let place = if within.is_empty() {
                    String::new()
                } else {
                    format!(" in {within}")
                };
                return Err(format!(
                    "unknown key '{key}'{place} for the {} backend; valid keys: {}",
                    C::BACKEND,
                    valid.join(", ")
                ));
            }
        }
    }
    Ok(())
}

/// What [`provider_config!`](crate::provider_config) implements for a declared table.
pub trait ProviderConfig: DeserializeOwned + Default {
    /// The backend's name, for messages.
    const BACKEND: &'static str;

    /// The keys, in declaration order, for `BackendDescription::config_fields`.
    fn fields() -> Vec<ConfigField>;

    /// Whether `value` suits `key`: `None` for an unknown key, else the message on a
    /// mismatch, naming the key by its dotted `path`.
    fn check_key(key: &str, path: &str, value: &Value) -> Option<Result<(), String>>;

    /// Parse a `[providers.NAME]` table (common keys already removed): every key must be
    /// declared and of its type; absent keys take their defaults.
    fn parse_table(table: Map<String, Value>) -> ProviderResult<Self> {
        check_table::<Self>(&table, "").map_err(ProviderError::invalid_config)?;
        // Every key was checked above, so this only fails on a declaration mistake.
        serde_json::from_value(Value::Object(table)).map_err(|e| {
            ProviderError::invalid_config(format!("invalid {} settings: {e}", Self::BACKEND))
        })
    }
}

/// Whether `value` reads as a `T` (for [`ProviderConfig::check_key`]).
pub fn check<T: ConfigType>(path: &str, value: &Value) -> Result<(), String> {
    T::check_value(path, value)
}

/// One key's [`ConfigField`]: its help is its doc comment, lines joined.
pub fn field<T: ConfigType>(name: &str, doc: &[&str], default: Option<&T>) -> ConfigField {
    let help: Vec<&str> = doc.iter().map(|line| line.trim()).collect();
    let mut field = ConfigField::new(name, T::VALUE_TYPE, help.join(" "));
    field.default = default.map(|d| serde_json::to_value(d).expect("defaults serialize"));
    field
}

/// Declare a backend's configuration table once:
///
/// ```
/// mngr_provider_kit::provider_config! {
///     /// The `[providers.NAME]` table of a sandbox instance.
///     pub struct SandboxConfig for "sandbox" {
///         /// The API endpoint.
///         pub endpoint: String = "https://api.example.invalid".to_string(),
///         /// Seconds without activity after which a host stops itself.
///         pub idle_timeout: u64 = 800,
///         /// The region (default: the account's).
///         pub region: Option<String>,
///     }
/// }
/// use mngr_provider_kit::config::ProviderConfig;
/// let table = serde_json::json!({"idle_timeout": 60});
/// let config = SandboxConfig::parse_table(table.as_object().unwrap().clone()).unwrap();
/// assert_eq!((config.idle_timeout, config.region), (60, None));
/// assert_eq!(SandboxConfig::fields()[0].help, "The API endpoint.");
/// ```
///
/// A key with `= DEFAULT` takes it when absent (and shows it as its default); a key without
/// one must be an `Option` (absent is `None`). A key of type `BTreeMap<String, T>`, where `T`
/// is another declared table, holds named sub-tables (`[providers.NAME.hosts.HOST]`), each
/// checked the same way. The declaring crate needs `serde` as a dependency (the struct derives
/// `Deserialize` and `Serialize`).
#[macro_export]
macro_rules! provider_config {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident for $backend:literal {
            $(
                $(#[doc = $doc:literal])+
                $fvis:vis $field:ident : $ty:ty $(= $default:expr)?
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
        #[serde(default, deny_unknown_fields)]
        $vis struct $name {
            $( $(#[doc = $doc])+ $fvis $field: $ty, )*
        }

        impl ::core::default::Default for $name {
            fn default() -> Self {
                $name { $( $field: $crate::provider_config!(@default $($default)?), )* }
            }
        }

        impl $crate::config::ProviderConfig for $name {
            const BACKEND: &'static str = $backend;

            fn fields() -> ::std::vec::Vec<$crate::__api::ConfigField> {
                let _defaults = <Self as ::core::default::Default>::default();
                ::std::vec![$(
                    $crate::config::field::<$ty>(
                        stringify!($field),
                        &[$($doc),+],
                        $crate::provider_config!(@shown (&_defaults.$field) $($default)?),
                    )
                ),*]
            }

            fn check_key(
                key: &str,
                path: &str,
                value: &$crate::__json::Value,
            ) -> ::core::option::Option<::core::result::Result<(), ::std::string::String>> {
                match key {
                    $( stringify!($field) => Some($crate::config::check::<$ty>(path, value)), )*
                    _ => None,
                }
            }
        }
    };
    (@default) => { ::core::default::Default::default() };
    (@default $default:expr) => { $default };
    (@shown ($value:expr)) => { None };
    (@shown ($value:expr) $default:expr) => { Some($value) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    crate::provider_config! {
        /// A test backend's table.
        pub struct TestConfig for "test" {
            /// The endpoint,
            /// over two lines.
            pub endpoint: String = "https://x.invalid".to_string(),
            /// How long.
            pub timeout: u64 = 30,
            /// Extra flags.
            pub flags: Vec<String> = vec!["--a".to_string()],
            /// Optional.
            pub region: Option<String>,
            /// A switch.
            pub fast: bool = false,
        }
    }

    crate::provider_config! {
        /// One machine of a pool.
        pub struct TestMachine for "pool" {
            /// Where it is.
            pub address: Option<String>,
            /// Its port.
            pub port: u16 = 22,
        }
    }

    crate::provider_config! {
        /// A pool of machines.
        pub struct TestPool for "pool" {
            /// The machines, by name.
            pub hosts: std::collections::BTreeMap<String, TestMachine> = Default::default(),
        }
    }

    #[test]
    fn sub_tables_are_checked_like_tables_and_named_by_their_path() {
        let pool = TestPool::parse_table(
            json!({"hosts": {"a": {"address": "10.0.0.1"}, "b": {"address": "h", "port": 2222}}})
                .as_object()
                .unwrap()
                .clone(),
        )
        .unwrap();
        assert_eq!(pool.hosts["a"].port, 22);
        assert_eq!(pool.hosts["a"].address.as_deref(), Some("10.0.0.1"));
        assert_eq!(pool.hosts["b"].port, 2222);
        assert_eq!(TestPool::fields()[0].value_type, ConfigValueType::Table);
        assert_eq!(TestPool::fields()[0].default, Some(json!({})));
        let cases = [
            (
                json!({"hosts": 3}),
                "'hosts' must be a table of tables, got 3",
            ),
            (
                json!({"hosts": {"a": "x"}}),
                "'hosts.a' must be a table, got \"x\"",
            ),
            (
                json!({"hosts": {"a": {"adress": "x"}}}),
                "unknown key 'adress' in hosts.a for the pool backend; valid keys: address, port",
            ),
            (
                json!({"hosts": {"a": {"port": "22"}}}),
                "'hosts.a.port' must be a non-negative integer, got \"22\"",
            ),
        ];
        for (table, expected) in cases {
            let err = TestPool::parse_table(table.as_object().unwrap().clone()).unwrap_err();
            assert_eq!(err.kind, mngr_plugin_api::ErrorKind::InvalidConfig);
            assert_eq!(err.message, expected);
        }
    }

    fn parse(v: Value) -> ProviderResult<TestConfig> {
        TestConfig::parse_table(v.as_object().unwrap().clone())
    }

    #[test]
    fn fields_come_from_the_declaration() {
        let fields = TestConfig::fields();
        let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["endpoint", "timeout", "flags", "region", "fast"]);
        assert_eq!(fields[0].help, "The endpoint, over two lines.");
        assert_eq!(fields[0].value_type, ConfigValueType::String);
        assert_eq!(fields[0].default, Some(json!("https://x.invalid")));
        assert_eq!(fields[1].value_type, ConfigValueType::Integer);
        assert_eq!(fields[1].default, Some(json!(30)));
        assert_eq!(fields[2].value_type, ConfigValueType::StringList);
        assert_eq!(fields[2].default, Some(json!(["--a"])));
        assert_eq!(fields[3].value_type, ConfigValueType::String);
        assert_eq!(fields[3].default, None);
        assert_eq!(fields[4].value_type, ConfigValueType::Bool);
    }

    #[test]
    fn absent_keys_take_their_defaults() {
        assert_eq!(parse(json!({})).unwrap(), TestConfig::default());
        let c = parse(json!({"timeout": 5, "region": "eu", "flags": []})).unwrap();
        assert_eq!(c.timeout, 5);
        assert_eq!(c.region.as_deref(), Some("eu"));
        assert!(c.flags.is_empty());
        assert_eq!(c.endpoint, "https://x.invalid");
    }

    #[test]
    fn unknown_keys_and_wrong_types_name_the_key() {
        let err = parse(json!({"endpiont": "x"})).unwrap_err();
        assert_eq!(err.kind, mngr_plugin_api::ErrorKind::InvalidConfig);
        assert_eq!(
            err.message,
            "unknown key 'endpiont' for the test backend; valid keys: endpoint, timeout, flags, region, fast"
        );
        let cases = [
            (
                json!({"timeout": "x"}),
                "'timeout' must be a non-negative integer, got \"x\"",
            ),
            (
                json!({"timeout": -1}),
                "'timeout' must be a non-negative integer, got -1",
            ),
            (
                json!({"flags": [1]}),
                "'flags' must be a list of strings, got [1]",
            ),
            (json!({"region": 3}), "'region' must be a string, got 3"),
            (
                json!({"fast": "yes"}),
                "'fast' must be true or false, got \"yes\"",
            ),
        ];
        for (table, expected) in cases {
            assert_eq!(parse(table).unwrap_err().message, expected);
        }
    }
}
