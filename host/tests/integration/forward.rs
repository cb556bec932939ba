//! `mngr forward` through the real binary: servers inside a real docker host reached from this
//! machine, a server on this machine reached from inside the host, ports in use here and on
//! the host, the end on Ctrl-C, SIGTERM and a host that stops, and the local provider's refusal.

use crate::common;
use crate::docker_common::DockerWorld;
use common::agents::AgentWorld;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, ChildStdout, Stdio};
use std::time::Duration;

/// A server on each of the host's ports 8000 and 8001 (loopback only, so only a forward
/// reaches it): it answers one line with the port and what it read.
const HOST_SERVERS: &str = r#"use IO::Socket::INET;
for my $p (8000, 8001) {
    next if fork;
    my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => $p, Listen => 5, ReuseAddr => 1)
        or die "port $p: $!";
    while (my $c = $s->accept) { my $l = <$c>; print $c "host port $p got $l"; close $c }
    exit;
}
sleep 100000;
"#;

/// Send one line to `port` on this machine and read the whole answer.
fn ask(port: u16, line: &str) -> String {
    let mut socket = TcpStream::connect(("127.0.0.1", port)).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    socket.write_all(format!("{line}\n").as_bytes()).unwrap();
    let mut answer = String::new();
    socket.read_to_string(&mut answer).unwrap();
    answer
}

/// A server on this machine that answers each connection's first line, as the host's do.
fn local_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for socket in listener.incoming().flatten() {
            let mut reader = BufReader::new(socket.try_clone().unwrap());
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = (&socket).write_all(format!("this machine got {line}").as_bytes());
        }
    });
    port
}

/// Start `mngr forward ARGS --format jsonl` and read the forwards it prints when ready.
fn start_forward(
    w: &AgentWorld,
    args: &[&str],
    expected: usize,
) -> (Child, Vec<serde_json::Value>) {
    let mut all = vec!["forward"];
    all.extend_from_slice(args);
    all.extend(["--format", "jsonl"]);
    let mut child = w
        .command(&all)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout: BufReader<ChildStdout> = BufReader::new(child.stdout.take().unwrap());
    let mut forwards = Vec::new();
    while forwards.len() < expected {
        let mut line = String::new();
        if stdout.read_line(&mut line).unwrap() == 0 {
            let out = child.wait_with_output().unwrap();
            panic!(
                "mngr forward ended before it was ready: {:?}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        forwards.push(serde_json::from_str(&line).unwrap());
    }
    (child, forwards)
}

fn stop(child: Child, sig: i32) -> common::Run {
    // SAFETY: kill(2) on a process this test started.
    assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
    common::Run::from(child.wait_with_output().unwrap())
}

fn port_of(forward: &serde_json::Value) -> u16 {
    forward["listen_port"].as_u64().unwrap() as u16
}

#[test]
fn forwards_reach_servers_in_a_docker_host_and_a_reverse_forward_reaches_this_machine() {
    let mut d = DockerWorld::new();
    let repo = d.w.repo_with_commit();
    std::fs::write(repo.join("servers.pl"), HOST_SERVERS).unwrap();
    d.w.create(&["srv", "--in", "docker", "--", "perl", "servers.pl"]);
    d.w.wait_until("the host's servers to listen", || {
        d.w.run(&[
            "exec",
            "srv",
            "perl -MIO::Socket::INET -e 'IO::Socket::INET->new(\"127.0.0.1:8001\") or exit 1'",
        ])
        .code
            == 0
    });

    // Two ports forwarded (the local ports picked by the system) and one reverse, in one run.
    let here = local_server();
    let reverse = format!("0:{here}");
    let (child, forwards) = start_forward(
        &d.w,
        &["srv", "0:8000", "0:8001", "--reverse", &reverse, "0:8002"],
        4,
    );
    assert_eq!(forwards[0]["direction"], "local");
    assert_eq!(forwards[0]["target"], "srv:8000");
    assert_eq!(forwards[1]["target"], "srv:8001");
    assert_eq!(forwards[3]["direction"], "reverse");
    assert_eq!(forwards[3]["target_port"], here);
    let (first, second, remote) = (
        port_of(&forwards[0]),
        port_of(&forwards[1]),
        port_of(&forwards[3]),
    );
    assert_eq!(forwards[0]["listen"], format!("127.0.0.1:{first}"));
    assert_eq!(ask(first, "hello"), "host port 8000 got hello\n");
    assert_eq!(ask(second, "again"), "host port 8001 got again\n");
    // Several connections at once through one forward.
    let answers: Vec<_> = (0..4)
        .map(|i| std::thread::spawn(move || ask(first, &format!("n{i}"))))
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    assert_eq!(answers[3], "host port 8000 got n3\n");

    // Nothing listens on the host's port 8002: that connection is closed, with a warning.
    let mut socket = TcpStream::connect(("127.0.0.1", port_of(&forwards[2]))).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut answer = String::new();
    match socket.read_to_string(&mut answer) {
        Ok(_) => assert_eq!(answer, ""),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset),
    }

    // From inside the host, the reverse forward's port reaches the server on this machine.
    let client = format!(
        "perl -MIO::Socket::INET -e '$c = IO::Socket::INET->new(\"127.0.0.1:{remote}\") or die \"connect: $!\"; print $c \"from the host\\n\"; print scalar <$c>'"
    );
    assert_eq!(
        d.w.run(&["exec", "srv", &client]).ok(),
        "this machine got from the host\n"
    );

    // Ctrl-C ends it cleanly: exit 130, no error line, and the host's port is closed again.
    let run = stop(child, libc::SIGINT);
    assert_eq!(run.code, 130, "{}", run.stderr);
    assert!(!run.stderr.contains("Error"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("Warning: the host refused a connection to its port 8002"),
        "{}",
        run.stderr
    );
    assert!(TcpStream::connect(("127.0.0.1", first)).is_err());
    assert_ne!(d.w.run(&["exec", "srv", &client]).code, 0);

    // A local port in use is refused, naming the port; nothing is left listening.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_port = taken.local_addr().unwrap().port();
    let spec = format!("{taken_port}:8000");
    let run = d.w.run(&["forward", "srv", "0:8001", &spec]);
    let line = run.error_line(11);
    assert!(
        line.contains(&format!("local port {taken_port} ")),
        "{line}"
    );

    // So is a port on the host that its server holds (the perl server listens on 8000).
    let run =
        d.w.run(&["forward", "srv", "0:8001", "--reverse", "8000:9"]);
    let line = run.error_line(11);
    assert!(line.contains("refused to listen on port 8000"), "{line}");

    // The human line, and SIGTERM: exit 143.
    let mut child =
        d.w.command(&["forward", "srv", "0:8000"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(
        line.starts_with("Forwarding 127.0.0.1:") && line.ends_with(" -> srv:8000\n"),
        "{line}"
    );
    let port: u16 = line["Forwarding 127.0.0.1:".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(ask(port, "human"), "host port 8000 got human\n");
    let run = stop(child, libc::SIGTERM);
    assert_eq!(run.code, 143, "{}", run.stderr);

    // The host going away ends the forward with the unreachable-host code, naming why.
    let (child, _) = start_forward(&d.w, &["srv", "0:8000"], 1);
    let stopped = std::process::Command::new("docker")
        .args(["stop", "-t", "0", &format!("{}srv", d.prefix)])
        .output()
        .unwrap();
    assert!(stopped.status.success(), "{stopped:?}");
    let run = common::Run::from(child.wait_with_output().unwrap());
    let line = run.error_line(6);
    assert!(
        line.contains("connection closed while forwarding"),
        "{line}"
    );

    d.w.run(&["destroy", "srv", "--force"]).ok();
    d.assert_clean();
}

#[test]
fn the_local_provider_has_nothing_to_forward() {
    let w = AgentWorld::new();
    w.create(&["here", "--", "sleep", "1000"]);
    let run = w.run(&["forward", "here", "8080:80"]);
    let line = run.error_line(10);
    assert!(line.contains("nothing to forward"), "{line}");
    assert!(run.stderr.contains("127.0.0.1:80"), "{}", run.stderr);
    w.run(&["destroy", "here", "--force"]).ok();
}

#[test]
fn bad_forwards_are_usage_errors() {
    let w = AgentWorld::new();
    let run = w.run(&["forward", "here", "8080:http"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("remote port 'http'"), "{}", run.stderr);
    let run = w.run(&["forward", "here"]);
    let line = run.error_line(2);
    assert!(line.contains("at least one port"), "{line}");
}
