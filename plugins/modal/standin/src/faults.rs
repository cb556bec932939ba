//! Test-only fault injection: `--unavailable RPC=N` makes the first N calls of RPC fail with
//! UNAVAILABLE, so clients' retry paths can be exercised against real objects.

use std::collections::HashMap;
use std::sync::Mutex;
use tonic::Status;

#[derive(Default)]
pub struct Faults {
    remaining: Mutex<HashMap<String, u32>>,
}

impl Faults {
    /// Parses `RPC=N` specs; a bare `RPC` means once.
    pub fn parse(specs: &[String]) -> Result<Self, String> {
        let mut remaining = HashMap::new();
        for spec in specs {
            let (rpc, count) = match spec.split_once('=') {
                Some((rpc, count)) => (
                    rpc,
                    count.parse::<u32>().map_err(|_| {
                        format!("--unavailable {spec}: the count after '=' must be a whole number")
                    })?,
                ),
                None => (spec.as_str(), 1),
            };
            remaining.insert(rpc.to_string(), count);
        }
        Ok(Faults {
            remaining: Mutex::new(remaining),
        })
    }

    /// Fails this call if `rpc` still has injected failures left.
    pub fn check(&self, rpc: &str) -> Result<(), Status> {
        let mut remaining = self.remaining.lock().unwrap();
        match remaining.get_mut(rpc) {
            Some(left) if *left > 0 => {
                *left -= 1;
                Err(Status::unavailable(format!(
                    "{rpc}: injected UNAVAILABLE (stand-in --unavailable)"
                )))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fails_the_first_n_calls_then_passes() {
        let faults = Faults::parse(&["SandboxCreateV2=2".into()]).unwrap();
        assert_eq!(
            faults.check("SandboxCreateV2").unwrap_err().code(),
            tonic::Code::Unavailable
        );
        assert!(faults.check("SandboxCreateV2").is_err());
        assert!(faults.check("SandboxCreateV2").is_ok());
        assert!(faults.check("AppGetOrCreate").is_ok());
        assert!(Faults::parse(&["X=y".into()]).is_err());
    }
}
