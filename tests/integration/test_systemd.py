"""systemd integration (core/sandbox.c, tools/ringmx.service): the
sd_notify protocol without libsystemd, and the unit file.

The test binds a datagram socket, passes it as $NOTIFY_SOCKET (a path,
and the abstract namespace with '@'), and checks READY=1 (with MAINPID)
arrives once the listener answers, RELOADING=1 then READY=1 around a
reload, and STOPPING=1 on SIGTERM."""

import os
import pathlib
import shutil
import signal
import socket
import subprocess

import pytest

from conftest import REPO, wait_for

UNIT = REPO / "tools/ringmx.service"


def recv_all(s, timeout=0.1):
    out = []
    s.settimeout(timeout)
    try:
        while True:
            out.append(s.recv(4096).decode())
    except (socket.timeout, BlockingIOError):
        pass
    return out


def run_notify(make_ringmx, tmp_path, abstract):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if abstract:
        name = f"@ringmx-test-{os.getpid()}-{tmp_path.name}"
        s.bind("\0" + name[1:])
    else:
        name = str(tmp_path / "notify.sock")
        s.bind(name)
        os.chmod(name, 0o777)
    try:
        d = make_ringmx(start=False)
        d.start(env={"NOTIFY_SOCKET": name}, wait=False)
        msgs = []

        def ready():
            msgs.extend(recv_all(s))
            return any("READY=1" in m for m in msgs)

        wait_for(ready, 30, "READY=1")
        # READY=1 comes after the listener is up: it answers at once
        with d.connect() as c:
            c.ok("QUIT", 221)
        m = next(m for m in msgs if "READY=1" in m)
        assert f"MAINPID={d.pid}" in m.split("\n"), m
        assert "event=ready" in d.log()

        d.send_signal(signal.SIGHUP)
        seen = []
        wait_for(lambda: seen.extend(recv_all(s)) or
                 (any(x.startswith("RELOADING=1") for x in seen) and
                  "READY=1" in seen[-1]), 20, "RELOADING=1, READY=1")
        rl = next(x for x in seen if x.startswith("RELOADING=1"))
        assert "MONOTONIC_USEC=" in rl

        d.send_signal(signal.SIGTERM)
        assert d.wait(40) == 0
        tail = recv_all(s, 0.5)
        assert any(x == "STOPPING=1" for x in tail), tail
    finally:
        s.close()


def test_notify_path(make_ringmx, tmp_path):
    run_notify(make_ringmx, tmp_path, abstract=False)


def test_notify_abstract(make_ringmx, tmp_path):
    run_notify(make_ringmx, tmp_path, abstract=True)


def test_no_notify_socket_is_fine(ringmx):
    with ringmx.connect() as c:
        c.ok("QUIT", 221)


def test_unit_file_verifies(tmp_path):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze missing")
    text = UNIT.read_text()
    assert "Type=notify" in text
    # the installed path may not exist here: point it at this build
    binary = REPO / "build/ringmx"
    if not binary.exists():
        binary = pathlib.Path("/bin/true")
    unit = tmp_path / "ringmx.service"
    unit.write_text(text.replace("/usr/local/sbin/ringmx", str(binary)))
    p = subprocess.run(["systemd-analyze", "verify", str(unit)],
                       capture_output=True, text=True, timeout=60)
    problems = [l for l in (p.stdout + p.stderr).splitlines()
                if "ringmx.service" in l]
    assert p.returncode == 0 and not problems, p.stdout + p.stderr


def test_make_install_installs_the_unit(tmp_path):
    """make install puts the unit where systemd looks for it under the
    prefix, with ExecStart pointing at the installed binary."""
    prefix = tmp_path / "prefix"
    p = subprocess.run(["make", "--no-print-directory", "install",
                        f"PREFIX={prefix}", "DESTDIR="], cwd=REPO,
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    unit = prefix / "lib/systemd/system/ringmx.service"
    text = unit.read_text()
    assert f"ExecStart={prefix}/sbin/ringmx -c /etc/ringmx/ringmx.conf" \
        in text, text
    assert "/usr/local/" not in text, text
    assert (prefix / "sbin/ringmx").exists()
    assert oct(unit.stat().st_mode & 0o777) == "0o644"
