//! The plugin side: turns plain Rust backends into FFI objects. Every call into vendor code
//! runs under `catch_unwind`, so a panic becomes an error of kind `Panic`, never an abort.

use super::PluginInfo;
use super::abi::{
    BackendBox, FfiBackend, FfiBackend_TO, FfiError, FfiInstance, FfiInstance_TO, FfiResult,
    HostContextBox, InstanceBox, PluginModule, PluginModuleRef, RegistrarMut,
};
use super::convert::{ffi_ok, from_json, to_json, wire};
use super::remote::{RemoteHostServices, set_plugin_host};
use crate::error::{ErrorKind, ProviderError, ProviderResult};
use crate::provider::{InstanceContext, ProviderBackend, ProviderInstance};
use crate::types::CreateHostRequest;
use abi_stable::prefix_type::PrefixTypeTrait;
use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RResult, RStr, RString};
use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Once};

/// What [`export_plugin!`](crate::export_plugin) records about a plugin.
pub struct PluginDefinition {
    pub name: &'static str,
    pub version: &'static str,
    pub description: &'static str,
    /// Builds the backends; runs inside `on_startup`, under the panic guard.
    pub backends: fn() -> Vec<Box<dyn ProviderBackend>>,
}

thread_local! {
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Inside a plugin library, panics are reported as errors, so the default hook's stderr text
/// would only repeat them. The hook belongs to the plugin's own copy of std, so the host's
/// hook is untouched.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let message = panic_text(info.payload());
            let text = match info.location() {
                Some(loc) => format!("{message} (at {}:{})", loc.file(), loc.line()),
                None => message,
            };
            LAST_PANIC.with(|slot| *slot.borrow_mut() = Some(text));
        }));
    });
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-text payload".to_string()
    }
}

/// Run vendor code; a panic becomes `ProviderError { kind: Panic }` naming the operation.
pub(crate) fn guard<T>(
    operation: &str,
    f: impl FnOnce() -> ProviderResult<T>,
) -> ProviderResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            let text = LAST_PANIC
                .with(|slot| slot.borrow_mut().take())
                .unwrap_or_else(|| panic_text(payload.as_ref()));
            Err(ProviderError::new(
                ErrorKind::Panic,
                format!("the plugin panicked in {operation}: {text}"),
            )
            .with_hint("this is a bug in the plugin; report it to its vendor"))
        }
    }
}

/// The plugin's `plugin_info`.
pub fn plugin_info(def: &PluginDefinition) -> RString {
    to_json(&PluginInfo {
        name: def.name.to_string(),
        version: def.version.to_string(),
        plugin_api_version: crate::PLUGIN_API_VERSION.to_string(),
        description: def.description.to_string(),
    })
    .into()
}

/// The plugin's `on_startup`: keep the host context, build the backends, register them.
pub fn on_startup(
    def: &PluginDefinition,
    host: HostContextBox,
    mut registrar: RegistrarMut<'_>,
) -> RResult<(), FfiError> {
    install_panic_hook();
    set_plugin_host(Arc::new(RemoteHostServices(host)));
    let result = guard("on_startup", || {
        for backend in (def.backends)() {
            registrar
                .register_provider_backend(export_backend(backend))
                .into_result()
                .map_err(ProviderError::from)?;
        }
        Ok(())
    });
    result.map_err(FfiError::from).into()
}

/// Build the root module from the two exported functions.
pub fn root_module(
    plugin_info: extern "C" fn() -> RString,
    on_startup: extern "C" fn(HostContextBox, RegistrarMut<'_>) -> RResult<(), FfiError>,
) -> PluginModuleRef {
    PluginModule {
        plugin_info,
        on_startup,
    }
    .leak_into_prefix()
}

/// Wrap a plain backend into its FFI object.
pub fn export_backend(backend: Box<dyn ProviderBackend>) -> BackendBox {
    FfiBackend_TO::from_value(BackendExport(backend), TD_Opaque)
}

/// Wrap a plain instance into its FFI object.
pub fn export_instance(instance: Box<dyn ProviderInstance>) -> InstanceBox {
    FfiInstance_TO::from_value(InstanceExport(instance), TD_Opaque)
}

struct BackendExport(Box<dyn ProviderBackend>);

impl FfiBackend for BackendExport {
    fn describe(&self) -> FfiResult {
        ffi_ok(guard("describe", || Ok(self.0.describe())))
    }

    fn build_instance(
        &self,
        context_json: RStr<'_>,
        services: HostContextBox,
        config_json: RStr<'_>,
    ) -> RResult<InstanceBox, FfiError> {
        let result = guard("build_instance", || {
            let ctx: wire::Context = from_json("instance context", context_json.as_str())?;
            let config = from_json("provider config", config_json.as_str())?;
            let ctx = InstanceContext {
                instance_name: ctx.instance_name,
                state_dir: ctx.state_dir,
                prefix: ctx.prefix,
                services: Arc::new(RemoteHostServices(services)),
            };
            self.0.build_instance(ctx, config).map(export_instance)
        });
        result.map_err(FfiError::from).into()
    }
}

struct InstanceExport(Box<dyn ProviderInstance>);

impl InstanceExport {
    /// Decode the arguments, run the operation under the guard, encode the result.
    fn op<A, T>(
        &self,
        operation: &str,
        args: RStr<'_>,
        f: impl FnOnce(&dyn ProviderInstance, A) -> ProviderResult<T>,
    ) -> FfiResult
    where
        A: serde::de::DeserializeOwned,
        T: serde::Serialize,
    {
        ffi_ok(guard(operation, || {
            let args: A = from_json(operation, args.as_str())?;
            f(self.0.as_ref(), args)
        }))
    }
}

impl FfiInstance for InstanceExport {
    fn capabilities(&self) -> FfiResult {
        ffi_ok(guard("capabilities", || Ok(self.0.capabilities())))
    }
    fn create_host(&self, args: RStr<'_>) -> FfiResult {
        self.op("create_host", args, |i, r: CreateHostRequest| {
            i.create_host(r)
        })
    }
    fn stop_host(&self, args: RStr<'_>) -> FfiResult {
        self.op("stop_host", args, |i, a: wire::Host| i.stop_host(&a.host))
    }
    fn start_host(&self, args: RStr<'_>) -> FfiResult {
        self.op("start_host", args, |i, a: wire::Start| {
            i.start_host(&a.host, a.snapshot.as_deref())
        })
    }
    fn destroy_host(&self, args: RStr<'_>) -> FfiResult {
        self.op("destroy_host", args, |i, a: wire::Host| {
            i.destroy_host(&a.host)
        })
    }
    fn delete_host(&self, args: RStr<'_>) -> FfiResult {
        self.op("delete_host", args, |i, a: wire::Host| {
            i.delete_host(&a.host)
        })
    }
    fn get_host(&self, args: RStr<'_>) -> FfiResult {
        self.op("get_host", args, |i, a: wire::Lookup| {
            i.get_host(&a.id_or_name)
        })
    }
    fn discover_hosts(&self, args: RStr<'_>) -> FfiResult {
        self.op("discover_hosts", args, |i, a: wire::Discover| {
            i.discover_hosts(a.include_destroyed)
        })
    }
    fn host_access(&self, args: RStr<'_>) -> FfiResult {
        self.op("host_access", args, |i, a: wire::Host| {
            i.host_access(&a.host)
        })
    }
    fn create_snapshot(&self, args: RStr<'_>) -> FfiResult {
        self.op("create_snapshot", args, |i, a: wire::SnapshotCreate| {
            i.create_snapshot(&a.host, a.name.as_deref())
        })
    }
    fn list_snapshots(&self, args: RStr<'_>) -> FfiResult {
        self.op("list_snapshots", args, |i, a: wire::Host| {
            i.list_snapshots(&a.host)
        })
    }
    fn delete_snapshot(&self, args: RStr<'_>) -> FfiResult {
        self.op("delete_snapshot", args, |i, a: wire::SnapshotDelete| {
            i.delete_snapshot(&a.host, &a.snapshot_id)
        })
    }
    fn get_tags(&self, args: RStr<'_>) -> FfiResult {
        self.op("get_tags", args, |i, a: wire::Host| i.get_tags(&a.host))
    }
    fn set_tags(&self, args: RStr<'_>) -> FfiResult {
        self.op("set_tags", args, |i, a: wire::Tags| {
            i.set_tags(&a.host, a.tags)
        })
    }
    fn add_tags(&self, args: RStr<'_>) -> FfiResult {
        self.op("add_tags", args, |i, a: wire::Tags| {
            i.add_tags(&a.host, a.tags)
        })
    }
    fn remove_tags(&self, args: RStr<'_>) -> FfiResult {
        self.op("remove_tags", args, |i, a: wire::TagKeys| {
            i.remove_tags(&a.host, a.keys)
        })
    }
    fn rename_host(&self, args: RStr<'_>) -> FfiResult {
        self.op("rename_host", args, |i, a: wire::Rename| {
            i.rename_host(&a.host, &a.new_name)
        })
    }
    fn persisted_agent_records(&self, args: RStr<'_>) -> FfiResult {
        self.op("persisted_agent_records", args, |i, a: wire::Host| {
            i.persisted_agent_records(&a.host)
        })
    }
    fn persist_agent_record(&self, args: RStr<'_>) -> FfiResult {
        self.op("persist_agent_record", args, |i, a: wire::AgentRecord| {
            i.persist_agent_record(&a.host, a.record)
        })
    }
    fn remove_persisted_agent_record(&self, args: RStr<'_>) -> FfiResult {
        self.op(
            "remove_persisted_agent_record",
            args,
            |i, a: wire::AgentRef| i.remove_persisted_agent_record(&a.host, &a.agent_id),
        )
    }
    fn persist_host_record(&self, args: RStr<'_>) -> FfiResult {
        self.op("persist_host_record", args, |i, a: wire::Record| {
            i.persist_host_record(&a.host, a.record)
        })
    }
    fn call(&self, method: RStr<'_>, _args: RStr<'_>) -> FfiResult {
        RResult::RErr(
            ProviderError::unsupported(format!(
                "this plugin does not know the operation '{method}'"
            ))
            .into(),
        )
    }
}

/// Export a plugin: a plain Rust backend (or several) plus this one line.
///
/// ```text
/// mngr_plugin_api::export_plugin! {
///     name: "example-dirs",
///     version: env!("CARGO_PKG_VERSION"),
///     description: "Hosts that are directories on this machine",
///     backends: [DirsBackend::default()],
/// }
/// ```
///
/// `name` is the plugin's name (used by `[plugins.NAME]` and `--disable-plugin`);
/// `description` is optional. Each `backends` expression is evaluated inside `on_startup`,
/// under the panic guard. The crate must be built with `crate-type = ["cdylib"]` (add `"rlib"`
/// to test the backend directly) and must not use `panic = "abort"`.
#[macro_export]
macro_rules! export_plugin {
    (
        name: $name:expr,
        version: $version:expr,
        $(description: $description:expr,)?
        backends: [$($backend:expr),* $(,)?] $(,)?
    ) => {
        const _: () = {
            use $crate::ffi::__private as __mngr;

            fn __mngr_backends() -> ::std::vec::Vec<::std::boxed::Box<dyn $crate::ProviderBackend>> {
                ::std::vec![$(::std::boxed::Box::new($backend)),*]
            }

            static __MNGR_PLUGIN: __mngr::PluginDefinition = __mngr::PluginDefinition {
                name: $name,
                version: $version,
                description: $crate::__mngr_first!($($description,)? ""),
                backends: __mngr_backends,
            };

            extern "C" fn __mngr_plugin_info() -> __mngr::RString {
                __mngr::plugin_info(&__MNGR_PLUGIN)
            }

            extern "C" fn __mngr_on_startup(
                host: __mngr::HostContextBox,
                registrar: __mngr::RegistrarMut<'_>,
            ) -> __mngr::RResult<(), __mngr::FfiError> {
                __mngr::on_startup(&__MNGR_PLUGIN, host, registrar)
            }

            fn __mngr_root_module() -> __mngr::PluginModuleRef {
                __mngr::root_module(__mngr_plugin_info, __mngr_on_startup)
            }

            extern "C" fn __mngr_erased_root_module() -> __mngr::RootModuleResult {
                __mngr::__call_root_module_loader(__mngr_root_module)
            }

            // What abi_stable's `#[export_root_module]` emits, written out so plugin crates
            // need no direct abi_stable dependency. The symbol name is abi_stable's
            // `ROOT_MODULE_LOADER_NAME` (a unit test keeps them equal).
            #[unsafe(export_name = "_1as_0lib_1header_0root_bmodule_bloader")]
            pub static __MNGR_ROOT_MODULE: __mngr::LibHeader = unsafe {
                __mngr::LibHeader::from_constructor::<__mngr::PluginModuleRef>(
                    __mngr_erased_root_module,
                    __mngr::CheckTypeLayout::Yes,
                )
            };
        };
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __mngr_first {
    ($first:expr $(, $rest:expr)*) => {
        $first
    };
}
