#!/usr/bin/env bash
# Runs the whole test suite: builds every workspace crate once (the host binary and the plugin
# shared libraries the tests load), then runs all tests with cargo-nextest.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --workspace --all-targets
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast "$@"
else
  cargo test --workspace --no-fail-fast "$@"
fi
