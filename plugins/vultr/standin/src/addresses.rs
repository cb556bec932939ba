//! The loopback addresses VPSes get: 127.0.0.N for N in a configured range, each used by one
//! machine at a time. Other processes (another stand-in, a test) may hold ports on the same
//! addresses, so an address whose ports 22 or 2222 cannot be bound is skipped (on 127.0.0.N
//! or on its back address 127.0.1.N, see relay.rs).

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};

/// The ports a VPS publishes: its own sshd and the one its container serves.
pub const VPS_PORTS: [u16; 2] = [22, 2222];

pub struct AddressPool {
    first: u8,
    last: u8,
    taken: BTreeSet<u8>,
}

impl AddressPool {
    pub fn new(first: Ipv4Addr, last: Ipv4Addr) -> Result<AddressPool, String> {
        let [a, b, c, first_n] = first.octets();
        let [a2, b2, c2, last_n] = last.octets();
        if (a, b, c) != (127, 0, 0)
            || (a2, b2, c2) != (127, 0, 0)
            || first_n == 0
            || first_n > last_n
        {
            return Err(format!(
                "addresses must be a range within 127.0.0.1-127.0.0.254, like 127.0.0.10-127.0.0.250 (got {first}-{last})"
            ));
        }
        Ok(AddressPool {
            first: first_n,
            last: last_n.min(254),
            taken: BTreeSet::new(),
        })
    }

    /// The lowest free address whose VPS ports can be bound right now.
    pub fn take(&mut self) -> Option<Ipv4Addr> {
        let n = (self.first..=self.last)
            .find(|n| !self.taken.contains(n) && ports_free(Ipv4Addr::new(127, 0, 0, *n)))?;
        self.taken.insert(n);
        Some(Ipv4Addr::new(127, 0, 0, n))
    }

    pub fn release(&mut self, address: Ipv4Addr) {
        self.taken.remove(&address.octets()[3]);
    }
}

/// The VPS's own address and the back address its machine publishes on (relay.rs).
fn ports_free(address: Ipv4Addr) -> bool {
    [address, crate::relay::back_address(address)]
        .iter()
        .all(|a| {
            VPS_PORTS
                .iter()
                .all(|port| TcpListener::bind(SocketAddrV4::new(*a, *port)).is_ok())
        })
}
