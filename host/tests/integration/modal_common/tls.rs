//! A certificate authority made for one test with the `openssl` CLI, and a server certificate
//! it signs for 127.0.0.1 and localhost, so the stand-in can serve TLS that mngr verifies.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct TestCa {
    pub dir: tempfile::TempDir,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl (install it to run the TLS tests)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const EC: [&str; 4] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];

impl TestCa {
    /// A new CA (`ca.pem`) and a server certificate it signed (`server.pem`, `server.key`).
    pub fn new() -> TestCa {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        // A subject of its own, so another test CA is a stranger, not a namesake.
        let subject = format!("/CN=mngr test CA {}", uuid::Uuid::new_v4().simple());
        let mut ca = vec!["req", "-x509", "-nodes", "-days", "2", "-subj", &subject];
        ca.extend(EC);
        ca.extend(["-keyout", "ca.key", "-out", "ca.pem"]);
        ca.extend(["-addext", "basicConstraints=critical,CA:TRUE"]);
        ca.extend(["-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
        openssl(d, &ca);
        let mut csr = vec!["req", "-nodes", "-subj", "/CN=127.0.0.1"];
        csr.extend(EC);
        csr.extend(["-keyout", "server.key", "-out", "server.csr"]);
        openssl(d, &csr);
        std::fs::write(
            d.join("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .expect("writing server.ext");
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "server.ext",
                "-out",
                "server.pem",
            ],
        );
        TestCa { dir }
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The stand-in flags that make it serve TLS with this CA's server certificate.
    pub fn standin_flags(&self) -> Vec<String> {
        let d = self.dir.path();
        vec![
            "--tls-cert".into(),
            d.join("server.pem").display().to_string(),
            "--tls-key".into(),
            d.join("server.key").display().to_string(),
        ]
    }
}
