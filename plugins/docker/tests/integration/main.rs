//! The docker plugin's integration tests, all in one binary (one link instead of one per file).
//! Each loads the plugin from its shared library, as mngr does, and runs against the real
//! Docker Engine; test names are `module::test`
//! (`cargo nextest run -p mngr-docker -E 'test(/^races::/)'`).

// Helpers: the plugin's library, a world with its own prefix that checks nothing is left.
mod common;

// Bad Dockerfiles, bad -s / -b flags and missing images.
mod bad_input;
// The plugin-api conformance suite, one test per check.
mod conformance;
// Several instances at once, a daemon over tcp://, and one that cannot be reached.
mod daemons;
// Idle shutdown.
mod idle;
// One host through the provider contract: create, SSH, stop/start, snapshot, destroy.
mod lifecycle;
// Several mngr processes at once on one instance, and state changed behind mngr's back.
mod races;
// A daemon reached over ssh:// through a real sshd.
mod ssh_daemon;
// A daemon reached over tcp:// with TLS.
mod tls_daemon;
