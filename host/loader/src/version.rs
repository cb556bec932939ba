//! Plugin API compatibility: a plugin built against plugin-api `P` runs on a host that provides
//! plugin-api `H` when `H` matches the caret requirement `^P` (same major, or same minor while
//! the major is 0, and `H >= P`). abi_stable's own version and layout checks run as well.

use semver::{Version, VersionReq};

/// Why a plugin's API version is refused, in words that name both versions and the fix.
pub fn check_compatible(plugin_api: &str, host_api: &str) -> Result<(), String> {
    let plugin = Version::parse(plugin_api).map_err(|e| {
        format!("its plugin-api version '{plugin_api}' is not a semver version: {e}")
    })?;
    let host = Version::parse(host_api).expect("this crate's version is semver");
    let req = VersionReq::parse(&format!("^{plugin}")).expect("a caret requirement parses");
    if req.matches(&host) {
        return Ok(());
    }
    let line = compatible_line(&host);
    Err(if host < plugin && same_line(&host, &plugin) {
        format!(
            "it was built against mngr-plugin-api {plugin}, newer than the {host} this mngr provides; \
             upgrade mngr, or rebuild the plugin against mngr-plugin-api {line}"
        )
    } else {
        format!(
            "it was built against mngr-plugin-api {plugin}, but this mngr provides mngr-plugin-api {host}; \
             rebuild the plugin against mngr-plugin-api {line}"
        )
    })
}

/// `1.4` for 1.x.y, `0.3` for 0.3.y, `0.0.5` for 0.0.5: the releases one compatible line spans.
fn compatible_line(v: &Version) -> String {
    if v.major > 0 {
        format!("{}.x", v.major)
    } else if v.minor > 0 {
        format!("0.{}.x", v.minor)
    } else {
        format!("0.0.{}", v.patch)
    }
}

fn same_line(a: &Version, b: &Version) -> bool {
    compatible_line(a) == compatible_line(b)
}

#[cfg(test)]
mod tests {
    use super::check_compatible;

    #[test]
    fn caret_rule_decides() {
        assert!(check_compatible("0.1.0", "0.1.0").is_ok());
        assert!(check_compatible("0.1.0", "0.1.7").is_ok());
        assert!(check_compatible("1.2.0", "1.9.1").is_ok());
        let newer = check_compatible("0.1.3", "0.1.0").unwrap_err();
        assert!(newer.contains("upgrade mngr"), "{newer}");
        let major = check_compatible("1.0.0", "0.1.0").unwrap_err();
        assert!(
            major.contains("1.0.0")
                && major.contains("0.1.0")
                && major.contains("rebuild the plugin against mngr-plugin-api 0.1.x"),
            "{major}"
        );
        assert!(check_compatible("0.2.0", "0.1.0").is_err());
        assert!(check_compatible("2.0.0", "1.0.0").is_err());
        assert!(check_compatible("nonsense", "0.1.0").is_err());
    }
}
