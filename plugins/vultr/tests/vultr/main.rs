//! The vultr plugin's integration tests, in one binary, against the Vultr stand-in (its VPSes
//! are real Docker-in-Docker machines booted by Debian's cloud-init). Each test starts its own
//! stand-in once and keeps the VPS boots few. Needs: `scripts/build-base-image.sh`,
//! `scripts/build-vps-image.sh`, `cargo build -p mngr-vultr-standin -p mngr-vultr -p mngr`.

// The stand-in process, its control path, the plugin's library and leftover checks.
mod common;
// The plugin-api conformance suite through the loaded library.
mod conformance;
// A VPS whose boot fails: a clear error within the boot allowance, nothing left.
mod failed_boot;
// The idle timeout (container stops, VPS runs) and a changed VPS host key refused.
mod idle_and_keys;
// A create and a destroy killed at their steps: abandoned, and gc removes the rest.
mod interrupted;
// An agent on a VPS through the real mngr binary: runs, execs, stops, starts, is destroyed.
mod lifecycle;
// The API client alone: paging, 429 and 500 survived, one order per create, a bad key.
mod wire;
