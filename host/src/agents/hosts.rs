//! Existing hosts by name or id across provider instances: finding one, renaming one.

use super::address::HostAddress;
use crate::error::{ExitCode, MngrError, Result};
use crate::instances::{ProviderHandle, ProviderSet};
use mngr_plugin_api::{HostName, HostRecord};

/// The host `address` names, on the one provider that has it (on `address.provider`, when
/// given; else on any enabled one).
pub fn find<'a>(
    providers: ProviderSet<'a>,
    address: &HostAddress,
) -> Result<(&'a ProviderHandle, HostRecord)> {
    let candidates: Vec<&ProviderHandle> = match &address.provider {
        Some(p) => vec![providers.find(p)?],
        None => providers.handles.iter().collect(),
    };
    let name = &address.host;
    let mut found: Vec<(&ProviderHandle, HostRecord)> = candidates
        .into_iter()
        .filter_map(|p| p.instance.get_host(name).ok().map(|r| (p, r)))
        .collect();
    if found.len() > 1 {
        let names: Vec<String> = found
            .iter()
            .map(|(p, r)| format!("{}.{}", r.name, p.name))
            .collect();
        return Err(MngrError::usage(format!(
            "host '{name}' exists on several providers: {}",
            names.join(", ")
        ))
        .with_hint("add its provider: HOST.PROVIDER"));
    }
    found.pop().ok_or_else(|| {
        MngrError::not_found(format!("no host named '{name}'"))
            .with_hint("mngr list shows agents and their hosts")
    })
}

/// The host `address` names, when its provider can rename hosts.
pub fn renamable<'a>(
    providers: ProviderSet<'a>,
    address: &HostAddress,
) -> Result<(&'a ProviderHandle, HostRecord)> {
    let (provider, record) = find(providers, address)?;
    if !provider.capabilities.rename {
        return Err(MngrError::new(
            ExitCode::Unsupported,
            format!(
                "provider '{}' cannot rename its hosts (host '{}')",
                provider.name, record.name
            ),
        ));
    }
    Ok((provider, record))
}

/// Give a host a new name through its provider ([`renamable`]). Returns the host's record as
/// it was and as it is.
pub fn rename(
    providers: ProviderSet,
    address: &HostAddress,
    new_name: &str,
) -> Result<(HostRecord, HostRecord)> {
    let new_name = HostName::parse(new_name).map_err(|e| MngrError::usage(e.to_string()))?;
    let (provider, record) = renamable(providers, address)?;
    if record.name == new_name {
        return Ok((record.clone(), record));
    }
    let renamed = provider
        .instance
        .rename_host(&record.id, &new_name)
        .map_err(|e| MngrError::from_provider(&provider.name, e))?;
    Ok((record, renamed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::fakes::{self, MemoryProvider};
    use mngr_plugin_api::{Capabilities, HostState};

    #[test]
    fn a_host_is_renamed_only_by_a_provider_that_can() {
        let dir = tempfile::tempdir().unwrap();
        let caps = fakes::capabilities(|c| c.rename = true);
        let renamer = MemoryProvider::new("dirs", caps, &dir.path().join("dirs"));
        let local = MemoryProvider::new("local", Capabilities::default(), &dir.path().join("l"));
        renamer.add_host("box", HostState::Running);
        local.add_host("localhost", HostState::Running);
        let handles = [
            fakes::handle("dirs", &renamer),
            fakes::handle("local", &local),
        ];
        let set = fakes::provider_set(&handles);
        let address = |raw: &str| HostAddress::parse(raw).unwrap();

        let (old, new) = rename(set, &address("box"), "crate").unwrap();
        assert_eq!((old.name.as_str(), new.name.as_str()), ("box", "crate"));
        assert_eq!(renamer.host_names(), ["crate"]);
        let (_, same) = rename(set, &address("crate.dirs"), "crate").unwrap();
        assert_eq!(same.name.as_str(), "crate");
        assert_eq!(renamer.calls().len(), 1, "no call for the same name");

        let err = rename(set, &address("localhost"), "other").err().unwrap();
        assert_eq!(err.code, ExitCode::Unsupported);
        assert_eq!(local.host_names(), ["localhost"]);
        let err = rename(set, &address("crate.local"), "x").err().unwrap();
        assert_eq!(err.code, ExitCode::NotFound, "{err:?}");
    }
}
