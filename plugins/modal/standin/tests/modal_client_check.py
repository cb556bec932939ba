"""Drives Modal's official Python client (modal==1.6.4) against the stand-in.

Run by the stand-in's integration test with MODAL_SERVER_URL, MODAL_TOKEN_ID and
MODAL_TOKEN_SECRET set. Modes:
  lookup  look up an app only; on a Modal error print "error <ExceptionClass> <message>", exit 3
  full    the whole check below, printing "step <name> <seconds>" after each step and
          "object <id>" for each sandbox and snapshot; the restored sandbox is left running
  v1      the V1 sandbox family's calls (run with MODAL_SANDBOX_V2=0), printing steps too
Any disagreement between the client and the stand-in shows up as an exception or a failed assert.
"""

import contextlib
import io
import socket
import sys
import time

import modal

APP_NAME = "mngr-standin-check"


@contextlib.contextmanager
def step(name):
    started = time.monotonic()
    yield
    print(f"step {name} {time.monotonic() - started:.2f}", flush=True)


def lookup():
    try:
        app = modal.App.lookup(APP_NAME, create_if_missing=True)
    except modal.exception.Error as e:
        print(f"error {type(e).__name__} {e}", flush=True)
        sys.exit(3)
    assert app.app_id.startswith("ap-"), app.app_id
    print(f"app {app.app_id}", flush=True)


def ssh_banner(host, port):
    """The first line sshd sends; a tunnel that reaches sshd yields 'SSH-2.0-...'."""
    deadline = time.monotonic() + 20
    while True:
        try:
            with socket.create_connection((host, port), timeout=5) as conn:
                banner = conn.makefile("rb").readline()
                if banner:
                    return banner.decode().strip()
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"no SSH banner from {host}:{port}")
        time.sleep(0.2)


def full():
    with step("app_lookup"):
        app = modal.App.lookup(APP_NAME, create_if_missing=True)
        assert app.app_id.startswith("ap-"), app.app_id
        again = modal.App.lookup(APP_NAME)
        assert again.app_id == app.app_id, (again.app_id, app.app_id)

    with step("image_build"):
        # jq is not in the base image: the apt layer really runs apt-get.
        image = modal.Image.from_registry("debian:bookworm-slim").apt_install("jq")
        image.build(app)
        assert image.object_id.startswith("im-"), image.object_id

    with step("sandbox_create"):
        sb = modal.Sandbox.create("sleep", "infinity", app=app, image=image, unencrypted_ports=[22], timeout=600)
        assert sb.object_id.startswith("sb-"), sb.object_id
        assert sb.poll() is None
        print(f"object {sb.object_id}", flush=True)

    with step("tags"):
        sb.set_tags({"mngr_host_id": "host-1", "k": "v"})
        assert sb.get_tags() == {"mngr_host_id": "host-1", "k": "v"}, sb.get_tags()
        sb.set_tags({"k": "w"})
        assert sb.get_tags() == {"k": "w"}, sb.get_tags()

    with step("exec"):
        p = sb.exec("sh", "-c", "echo hi; jq -n '1+1'; echo oops >&2; exit 3")
        assert p.stdout.read() == "hi\n2\n", "stdout"
        assert p.stderr.read() == "oops\n", "stderr"
        assert p.wait() == 3, p.returncode
        p = sb.exec("cat", "/etc/os-release", text=False)
        assert b"bookworm" in p.stdout.read()
        assert p.wait() == 0

    with step("tunnel_sshd"):
        p = sb.exec("sh", "-c", "mkdir -p /run/sshd && ssh-keygen -A >/dev/null && /usr/sbin/sshd")
        assert p.wait() == 0, p.stderr.read()
        tunnel = sb.tunnels()[22]
        host, port = tunnel.tcp_socket
        banner = ssh_banner(host, port)
        assert banner.startswith("SSH-2.0-"), banner

    with step("snapshot"):
        assert sb.exec("sh", "-c", "echo kept > /root/marker").wait() == 0
        snapshot = sb.snapshot_filesystem()
        assert snapshot.object_id.startswith("im-"), snapshot.object_id
        print(f"object {snapshot.object_id}", flush=True)

    with step("terminate"):
        sb.terminate()
        sb.wait(raise_on_termination=False)
        assert sb.returncode is not None

    with step("restore"):
        sb2 = modal.Sandbox.create(app=app, image=snapshot, timeout=300)
        print(f"object {sb2.object_id}", flush=True)
        p = sb2.exec("cat", "/root/marker")
        assert p.stdout.read() == "kept\n"
        assert p.wait() == 0

    with step("list"):
        listed = [s.object_id for s in modal.Sandbox.list(app_id=app.app_id)]
        assert sb2.object_id in listed, listed
        assert sb.object_id not in listed, listed

    with step("volume"):
        volume = modal.Volume.from_name("mngr-standin-check-vol", create_if_missing=True, version=2)
        # Trailing zeros are stripped from blocks on upload and padded back on download.
        content = b"hello volume\n" + b"\0" * 100
        with volume.batch_upload() as batch:
            batch.put_file(io.BytesIO(content), "/a.txt")
            batch.put_file(io.BytesIO(b"x"), "/d/b.txt")
        assert b"".join(volume.read_file("/a.txt")) == content
        names = sorted(entry.path for entry in volume.listdir("/"))
        assert names == ["a.txt", "d"], names

    with step("timeout"):
        short = modal.Sandbox.create("sleep", "infinity", app=app, image=image, timeout=2)
        try:
            short.wait()
            raise AssertionError("a sandbox past its timeout should end with TIMEOUT")
        except modal.exception.SandboxTimeoutError:
            pass
        assert short.returncode == 124, short.returncode


def v1():
    with step("v1_sandbox"):
        app = modal.App.lookup(APP_NAME, create_if_missing=True)
        image = modal.Image.from_registry("debian:bookworm-slim")
        sb = modal.Sandbox.create("sleep", "infinity", app=app, image=image, unencrypted_ports=[22], timeout=300)
        # V1 ids are sb- plus 22 base62 characters; the client picks the family by that shape.
        assert len(sb.object_id) == 25, sb.object_id
        sb.set_tags({"family": "v1"})
        assert sb.get_tags() == {"family": "v1"}
        p = sb.exec("sh", "-c", "echo v1")
        assert p.stdout.read() == "v1\n"
        assert p.wait() == 0
        host, port = sb.tunnels()[22].tcp_socket
        assert host == "127.0.0.1" and port > 0, (host, port)
        listed = [s.object_id for s in modal.Sandbox.list(app_id=app.app_id, tags={"family": "v1"})]
        assert listed == [sb.object_id], listed
        snapshot = sb.snapshot_filesystem()
        assert snapshot.object_id.startswith("im-")
        sb.terminate()
        sb.wait(raise_on_termination=False)
        assert sb.returncode is not None
        # A GPU request always takes the V1 family; an unknown type is refused.
        try:
            modal.Sandbox.create("sleep", "1", app=app, image=image, gpu="NOPE-GPU")
            raise AssertionError("an unknown GPU type should be refused")
        except modal.exception.InvalidError as e:
            assert "Unknown GPU type" in str(e), e


if __name__ == "__main__":
    {"lookup": lookup, "full": full, "v1": v1}[sys.argv[1]]()
