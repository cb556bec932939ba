//! The host's integration tests, all in one binary: each test file used to be its own binary
//! linking the whole crate, so a change to `src/` relinked fifteen of them. Test names are
//! `module::test` (filter one file with `cargo nextest run -p mngr -E 'test(/^kill_loop::/)'`).
//! Every test drives the real `mngr` binary or the real library against real tmux, git, sshd and
//! Docker Engine; each file says what it covers.

// Helpers: an isolated mngr world, agents on the local provider, fixture plugins, footprints.
mod common;
// Helpers for tests that need the real docker plugin and engine.
mod docker_common;
// Helpers for tests of the modal plugin against the Modal stand-in.
mod modal_common;
// Helpers for tests of the ssh plugin: sshd machines in containers, a blackholed address.
mod ssh_common;

// Agent commands end to end on the local provider.
mod agents;
// Parallel creates under the host lock, and SIGKILL in the middle of a create.
mod agents_concurrency;
// Bad input to agent commands: one error line, a documented exit code, nothing half-made.
mod agents_errors;
// gc never deletes work the user may still want.
mod agents_gc;
// `mngr config` subcommands.
mod config_cmd;
// The conformance suite against the local backend and the example plugin.
mod conformance;
// Agents in docker through the real binary.
mod docker_cli;
// Kill loops on docker (`kill_loop_docker_*`, trials from MNGR_KILL_TRIALS).
mod docker_kill_loop;
// `mngr forward` to and from a docker host, and the local provider's refusal.
mod forward;
// Waiting for the host lock.
mod host_lock;
// `mngr rename --host` on the dirs plugin and the local provider's refusal.
mod host_rename;
// Idle shutdown on docker hosts: limit, activity, why a host stopped.
mod idle;
// Ctrl-C and SIGTERM in the middle of a step.
mod interrupt;
// Kill loops on the local provider (`kill_loop_local_*`, trials from MNGR_KILL_TRIALS).
mod kill_loop;
// Agents on modal through the real binary, against the Modal stand-in.
mod modal_cli;
// Modal over TLS: a stand-in with a certificate from a CA the test makes.
mod modal_tls;
// Plugin loading through the real shared-library path, and deliberately bad plugins.
mod plugins;
// Modes of everything mngr keeps that may hold secrets.
mod secrets;
// Settings layers, merge rules, provider instances and bad settings.
mod settings;
// The ssh backend: agents on existing machines, dead machines, pinned host keys.
mod ssh_cli;
// The SSH transport against a real sshd in a docker container.
mod ssh_transport;
// `mngr rsync` and `mngr git` with docker and local agents; `create --from` without rsync.
mod sync;
