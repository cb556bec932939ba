//! PID 1 of host containers (the watcher and shutdown script come from the kit, stopping
//! through PID 1: see `mngr_provider_kit::watcher::StopAction::SignalInit`).

use mngr_docker_core::labels::{EXIT_IDLE_PAUSED, EXIT_NO_AGENTS_STOPPED};

/// PID 1 of a host container. It starts sshd once mngr has injected the keys (marker file),
/// marks boot activity, starts the idle watcher, and then waits. Signals say why it ended:
/// TERM (docker stop) exits 0, USR1 (idle) and USR2 (no agent sessions left) exit with codes
/// that `mngr list` reads back as PAUSED and STOPPED.
pub fn entrypoint(host_dir: &str) -> String {
    format!(
        "trap 'exit 0' TERM; trap 'exit {EXIT_IDLE_PAUSED}' USR1; trap 'exit {EXIT_NO_AGENTS_STOPPED}' USR2; \
HD='{host_dir}'; mkdir -p /run/sshd \"$HD/activity\" \"$HD/logs\"; \
if [ -f /etc/ssh/mngr_host_provisioned ]; then /usr/sbin/sshd -o MaxSessions=100 -o PasswordAuthentication=no \
-o PermitRootLogin=prohibit-password -o UseDNS=no -o UsePAM=no -o PrintMotd=no -o PrintLastLog=no -E \"$HD/logs/sshd.log\"; fi; \
touch \"$HD/activity/boot\"; \
if [ -x \"$HD/commands/activity_watcher.sh\" ]; then \
nohup \"$HD/commands/activity_watcher.sh\" \"$HD\" >\"$HD/logs/activity_watcher.log\" 2>&1 & fi; \
tail -f /dev/null & wait"
    )
}
