//! The system `ssh` client pinned to a host's key, for programs that speak SSH themselves
//! (`rsync -e`, `GIT_SSH_COMMAND`, `mngr connect`): the host's client key, a known_hosts file
//! holding exactly the pinned key, and strict checking, so no program ever trusts on first use.

use crate::shell::quote;

/// How the system `ssh` reaches one host.
#[derive(Debug, Clone)]
pub struct SystemSsh {
    /// Options for `ssh` (key, known_hosts, strict checking), without the port.
    pub options: Vec<String>,
    pub port: u16,
    pub user: String,
    pub address: String,
}

impl SystemSsh {
    /// `ssh OPTIONS -p PORT` as one shell word list (for `rsync -e`).
    pub fn rsync_shell(&self) -> String {
        format!("{} -p {}", self.git_ssh_command(), self.port)
    }

    /// `ssh OPTIONS` as one shell word list (for `GIT_SSH_COMMAND`; git adds the port from
    /// the `ssh://` URL).
    pub fn git_ssh_command(&self) -> String {
        let words: Vec<String> = std::iter::once("ssh".to_string())
            .chain(self.options.iter().map(|o| quote(o)))
            .collect();
        words.join(" ")
    }

    /// `USER@ADDRESS:PATH`, a path on the host as `rsync` names it.
    pub fn rsync_remote(&self, path: &str) -> String {
        format!("{}@{}:{path}", self.user, self.bracketed_address())
    }

    /// `ssh://USER@ADDRESS:PORT/PATH` for git (PATH absolute).
    pub fn git_url(&self, path: &str) -> String {
        format!(
            "ssh://{}@{}:{}{path}",
            self.user,
            self.bracketed_address(),
            self.port
        )
    }

    /// An IPv6 address in brackets, as rsync and URLs need it.
    fn bracketed_address(&self) -> String {
        if self.address.contains(':') {
            format!("[{}]", self.address)
        } else {
            self.address.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ssh() -> SystemSsh {
        SystemSsh {
            options: vec!["-i".into(), "/keys/my key".into()],
            port: 2222,
            user: "root".into(),
            address: "127.0.0.1".into(),
        }
    }

    #[test]
    fn commands_quote_options_and_carry_the_port() {
        assert_eq!(ssh().git_ssh_command(), "ssh -i '/keys/my key'");
        assert_eq!(ssh().rsync_shell(), "ssh -i '/keys/my key' -p 2222");
        assert_eq!(ssh().rsync_remote("/w/"), "root@127.0.0.1:/w/");
        assert_eq!(
            ssh().git_url("/work/dir"),
            "ssh://root@127.0.0.1:2222/work/dir"
        );
        let v6 = SystemSsh {
            address: "::1".into(),
            ..ssh()
        };
        assert_eq!(v6.git_url("/w"), "ssh://root@[::1]:2222/w");
    }
}
