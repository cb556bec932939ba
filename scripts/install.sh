#!/usr/bin/env bash
# Installs mngr: system packages it needs, the `mngr` binary (into ~/.cargo/bin), and the
# provider plugins built with the workspace (into ~/.mngr/plugins, or $MNGR_ROOT/plugins).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cargo build --release --workspace
bin_dir="${CARGO_HOME:-$HOME/.cargo}/bin"
plugin_dir="${MNGR_ROOT:-$HOME/.mngr}/plugins"
mkdir -p "$bin_dir" "$plugin_dir"
install -m 0755 target/release/mngr "$bin_dir/mngr"
shopt -s nullglob
for lib in target/release/libmngr_*.so target/release/libmngr_*.dylib; do
  case "$lib" in *example*) continue ;; esac  # the vendor template is not a product plugin
  install -m 0644 "$lib" "$plugin_dir/"
  echo "installed plugin $(basename "$lib") into $plugin_dir" >&2
done
echo "installed $bin_dir/mngr" >&2
