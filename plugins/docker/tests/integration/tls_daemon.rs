//! A daemon reached over `tcp://` with TLS: a real TLS server (Python's ssl, that is OpenSSL,
//! with certificates made by the openssl CLI) on loopback in front of this machine's Docker
//! socket, letting in only clients whose certificate its CA signed.

use crate::common;
use common::*;
use mngr_plugin_api::*;
use serde_json::json;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A key and a certificate `NAME.pem` for `subject`, signed by the CA in `dir`, with the
/// X.509 extensions in `extensions`.
fn issue(dir: &Path, name: &str, subject: &str, extensions: &str) {
    let (key, csr, ext, pem) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.ext"),
        format!("{name}.pem"),
    );
    let request = ["req", "-newkey", "rsa:2048", "-nodes", "-subj", subject];
    openssl(
        dir,
        &[&request[..], &["-keyout", &key, "-out", &csr]].concat(),
    );
    std::fs::write(dir.join(&ext), extensions).unwrap();
    let sign = [
        "x509",
        "-req",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
    ];
    let files = ["-days", "2", "-in", &csr, "-extfile", &ext, "-out", &pem];
    openssl(dir, &[&sign[..], &files[..]].concat());
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, both signed by it, in
/// `dir`; the client's files also under `dir/client` in Docker's layout.
fn make_certificates(dir: &Path) {
    let ca = [
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
    ];
    let ca_files = [
        "-subj",
        "/CN=mngr test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ];
    openssl(dir, &[&ca[..], &ca_files[..]].concat());
    issue(
        dir,
        "server",
        "/CN=127.0.0.1",
        "subjectAltName=IP:127.0.0.1\n",
    );
    issue(
        dir,
        "client",
        "/CN=mngr client",
        "extendedKeyUsage=clientAuth\n",
    );
    let client = dir.join("client");
    std::fs::create_dir_all(&client).unwrap();
    std::fs::copy(dir.join("ca.pem"), client.join("ca.pem")).unwrap();
    std::fs::copy(dir.join("client.pem"), client.join("cert.pem")).unwrap();
    std::fs::copy(dir.join("client.key"), client.join("key.pem")).unwrap();
}

/// The TLS front: Python's ssl module (OpenSSL) serving TLS with client certificates required,
/// each connection piped to the Docker socket. (socat's OpenSSL listener cannot serve clients
/// that resume sessions while it verifies them, and rustls resumes.)
const TLS_FRONT: &str = r#"
import socket, ssl, sys, threading
certs, port = sys.argv[1], int(sys.argv[2])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(certs + "/server.pem", certs + "/server.key")
ctx.load_verify_locations(certs + "/ca.pem")
ctx.verify_mode = ssl.CERT_REQUIRED
listener = socket.create_server(("127.0.0.1", port))
def pipe(src, dst, finish):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            finish()
        except (OSError, ValueError):
            pass
def serve(raw):
    try:
        conn = ctx.wrap_socket(raw, server_side=True)
    except (ssl.SSLError, OSError):
        raw.close()
        return
    docker = socket.socket(socket.AF_UNIX)
    docker.connect("/var/run/docker.sock")
    # The daemon's end of a stream closes TLS properly (close_notify), as a TLS daemon does;
    # the client's end half-closes the socket to the daemon.
    back = threading.Thread(target=pipe, args=(docker, conn, conn.unwrap), daemon=True)
    back.start()
    pipe(conn, docker, lambda: docker.shutdown(socket.SHUT_WR))
    back.join()
    conn.close()
    docker.close()
while True:
    raw, _ = listener.accept()
    threading.Thread(target=serve, args=(raw,), daemon=True).start()
"#;

struct TlsFront {
    child: Child,
    port: u16,
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// TLS on 127.0.0.1:<port>, client certificates required, forwarded to the Docker socket.
fn start_tls_front(dir: &Path) -> TlsFront {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("python3")
        .arg("-c")
        .arg(TLS_FRONT)
        .arg(dir)
        .arg(port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 runs");
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the TLS front did not listen"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    TlsFront { child, port }
}

#[test]
fn a_tls_daemon_needs_its_certificates_and_works_with_them() {
    let certs = tempfile::tempdir().unwrap();
    make_certificates(certs.path());
    let front = start_tls_front(certs.path());
    let world = World::new();
    let url = format!("tcp://127.0.0.1:{}", front.port);

    // Without certificates the client speaks plain HTTP, which the TLS front refuses.
    let plain = world.instance_named("dktls", json!({"host": url})).unwrap();
    let err = plain.discover_hosts(false).unwrap_err();
    assert_eq!(err.kind, ErrorKind::Unavailable, "{err:?}");
    drop(plain);

    // A certificate directory without the client key is refused up front, naming the file.
    let incomplete = tempfile::tempdir().unwrap();
    std::fs::copy(
        certs.path().join("ca.pem"),
        incomplete.path().join("ca.pem"),
    )
    .unwrap();
    std::fs::copy(
        certs.path().join("client.pem"),
        incomplete.path().join("cert.pem"),
    )
    .unwrap();
    let err = world
        .instance_named(
            "dktls",
            json!({"host": url, "tls_cert_path": incomplete.path().to_str().unwrap()}),
        )
        .err()
        .expect("a missing key.pem is a settings error");
    assert_eq!(err.kind, ErrorKind::InvalidConfig, "{err:?}");
    assert!(err.message.contains("key.pem"), "{}", err.message);

    // With the certificates, hosts are made, listed, reached and destroyed over TLS.
    let client = certs.path().join("client");
    let tls = world
        .instance_named(
            "dktls",
            json!({"host": url, "tls_cert_path": client.to_str().unwrap()}),
        )
        .unwrap();
    let host = tls
        .create_host(host_request("delta"))
        .expect("create over TLS");
    let names: Vec<String> = tls
        .discover_hosts(false)
        .unwrap()
        .into_iter()
        .map(|h| h.name.to_string())
        .collect();
    assert_eq!(names, vec!["delta"]);
    let ep = ssh_endpoint(tls.as_ref(), &host.id);
    assert_eq!(ssh(&ep, "echo via-tls").1.trim(), "via-tls");
    tls.destroy_host(&host.id).unwrap();
    world.assert_clean();
}
