"""Privilege drop and confinement (core/sandbox.c, docs/security.md).

The release build (build/ringmx: the seccomp filter is on there; the
sanitizer build skips it) started as root with user = "ringmx": after the
start-up it runs as ringmx, holds no capability (effective, permitted,
bounding) on any thread, has NoNewPrivs and a seccomp filter, and still
accepts and delivers mail, speaks STARTTLS, answers on the control socket,
reloads, runs a plugin and stops cleanly on SIGTERM. Started as an
ordinary user it runs confined too, without switching.
"""

import os
import pathlib
import pwd
import re
import shutil
import signal
import smtplib
import ssl
import subprocess
import tempfile

import pytest

from conftest import REPO, Daemon, make_msg, wait_for

REL = REPO / "build/ringmx"
CTL = REPO / "build/ringmxctl"
PLUGINS = REPO / "build/plugins"

pytestmark = pytest.mark.skipif(not REL.exists(), reason="build/ringmx")


def ensure_user(name="ringmx"):
    try:
        return pwd.getpwnam(name)
    except KeyError:
        if os.geteuid() != 0:
            pytest.skip(f"no user {name} and not root")
        subprocess.run(["adduser", "--system", "--group", "--no-create-home",
                        "--home", "/nonexistent", name], check=True,
                       capture_output=True)
        return pwd.getpwnam(name)


@pytest.fixture
def base():
    # under /var/tmp, traversable by the account the daemon becomes
    d = pathlib.Path(tempfile.mkdtemp(prefix="ringmx-priv-", dir="/var/tmp"))
    d.chmod(0o755)
    daemons = []
    yield d, daemons
    for x in daemons:
        if x.running:
            x.kill()
    if not os.environ.get("RINGMX_KEEP_TMP"):
        shutil.rmtree(d, ignore_errors=True)


def status(pid, tid=None):
    p = f"/proc/{pid}/task/{tid}/status" if tid else f"/proc/{pid}/status"
    out = {}
    for line in open(p):
        k, _, v = line.partition(":")
        out[k] = v.strip()
    return out


def make_cert(d, name):
    key, crt = d / f"{name}.key", d / f"{name}.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-nodes", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:P-256", "-keyout", str(key), "-out", str(crt),
         "-days", "2", "-subj", f"/CN={name}",
         "-addext", f"subjectAltName=DNS:{name}"],
        check=True, capture_output=True)
    # root-only key: read before the drop (and again on reload: see below)
    key.chmod(0o600)
    return {"cert": str(crt), "key": str(key)}


def ctl(sock, *args, rc=0):
    p = subprocess.run([str(CTL), "--socket", sock, *args],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == rc, (args, p.returncode, p.stdout, p.stderr)
    return p.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_root_drops_to_ringmx(base):
    root, daemons = base
    pw = ensure_user("ringmx")
    certs = root / "certs"
    certs.mkdir()
    cert = make_cert(certs, "mx.test.example")
    table = root / "recipients"
    table.write_text("alice@localhost\nbob@localhost\n")
    table.chmod(0o644)
    d = Daemon(root / "d", binary=REL, user="ringmx")
    daemons.append(d)
    d.sock = str(d.state_dir / "control.sock")
    d.cfg["listeners"] = ({"address": f"{d.host}:{d.port}", "mode": "smtp",
                           "tls": {"certificates": (cert,)}},)
    d.cfg["plugins"] = ({"name": "rcpt_table",
                         "path": str(PLUGINS / "rcpt_table.so"),
                         "table": str(table)},)
    d.start()
    wait_for(lambda: "event=ready" in d.log(), 20, "event=ready")
    log = d.log()
    assert "event=sandbox" in log and "seccomp=on" in log, log[-3000:]

    st = status(d.pid)
    assert st["Uid"].split() == [str(pw.pw_uid)] * 4, st["Uid"]
    assert st["Gid"].split() == [str(pw.pw_gid)] * 4, st["Gid"]
    assert st["NoNewPrivs"] == "1"
    assert st["Seccomp"] == "2"
    for tid in os.listdir(f"/proc/{d.pid}/task"):
        t = status(d.pid, tid)
        for k in ("CapEff", "CapPrm", "CapBnd", "CapAmb", "CapInh"):
            assert int(t[k], 16) == 0, (tid, t["Name"], k, t[k])
        assert t["Uid"].split()[0] == str(pw.pw_uid), (tid, t["Name"])
        assert t["Seccomp"] == "2" and t["NoNewPrivs"] == "1", t["Name"]
    # the state directory was handed over
    assert (d.state_dir / "queue").stat().st_uid == pw.pw_uid
    assert d.maildir_root.stat().st_uid == pw.pw_uid

    # mail in and delivered into the Maildir (by the ringmx account)
    d.send(make_msg(subject="plain"))
    (path, raw), = d.wait_mail("alice")
    assert path.stat().st_uid == pw.pw_uid
    # the plugin works: unknown recipients refused
    with d.session() as c:
        c.ok("MAIL FROM:<s@example.org>")
        c.expect(550, None, c.cmd("RCPT TO:<nobody@localhost>"))
    # STARTTLS
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with smtplib.SMTP(d.host, d.port, "client.test", timeout=30) as s:
        s.ehlo()
        s.starttls(context=ctx)
        s.ehlo()
        s.sendmail("s@example.org", ["bob@localhost"],
                   make_msg(subject="tls", to="bob@localhost"))
    (_, raw), = d.wait_mail("bob")
    assert b"TLS" in raw or b"ESMTPS" in raw

    # the control socket
    assert "workers" in ctl(d.sock, "status").lower() or ctl(d.sock, "status")
    # reload: the key is root-only, the reload (as ringmx) cannot read it:
    # refused, nothing changes, the daemon goes on
    out = subprocess.run([str(CTL), "--socket", d.sock, "reload"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 1, out
    # made readable to the account: reload works
    key = pathlib.Path(cert["key"])
    os.chown(key, pw.pw_uid, -1)
    table.write_text("alice@localhost\nbob@localhost\ncarol@localhost\n")
    ctl(d.sock, "reload")
    d.send(make_msg(subject="after reload", to="carol@localhost"),
           rcpts=("carol@localhost",))
    d.wait_mail("carol")
    d.send_signal(signal.SIGHUP)
    wait_for(lambda: len(d.events("reload")) >= 2, 20, "SIGHUP reload")

    assert "event=seccomp_denied" not in d.log(), \
        re.findall(r".*seccomp_denied.*", d.log())
    assert d.stop() == 0, d.log()[-3000:]
    assert "event=exit" in d.log()
    assert not (d.state_dir / "ringmx.pid").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (setpriv)")
@pytest.mark.parametrize("account", ["nobody", "ringmx"])
def test_unprivileged_start(base, account):
    root, daemons = base
    if account == "ringmx":
        ensure_user("ringmx")
    pw = pwd.getpwnam(account)
    d = Daemon(root / f"u-{account}", binary=REL)
    daemons.append(d)
    for p in (d.root,):
        os.chown(p, pw.pw_uid, pw.pw_gid)
    d.start(wrapper=["setpriv", f"--reuid={pw.pw_uid}",
                     f"--regid={pw.pw_gid}", "--clear-groups",
                     "--inh-caps=-all"], wait=False)
    # the config and the log are written by root before the start
    d.wait_ready()
    wait_for(lambda: "event=ready" in d.log(), 20, "event=ready")
    st = status(d.pid)
    assert st["Uid"].split()[0] == str(pw.pw_uid)
    assert int(st["CapEff"], 16) == 0 and int(st["CapPrm"], 16) == 0
    assert st["NoNewPrivs"] == "1" and st["Seccomp"] == "2"
    d.send()
    d.wait_mail("alice")
    assert "event=seccomp_denied" not in d.log()
    assert d.stop() == 0, d.log()[-3000:]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_sandbox_false(base):
    root, daemons = base
    ensure_user("ringmx")
    d = Daemon(root / "nosb", binary=REL, user="ringmx", sandbox=False)
    daemons.append(d)
    d.start()
    wait_for(lambda: "event=ready" in d.log(), 20, "event=ready")
    st = status(d.pid)
    assert st["Seccomp"] == "0" and st["NoNewPrivs"] == "0"
    assert int(st["CapEff"], 16) == 0
    d.send()
    d.wait_mail("alice")
    assert d.stop() == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_unknown_user_refused(base):
    root, daemons = base
    d = Daemon(root / "nouser", binary=REL, user="no-such-user-ringmx")
    daemons.append(d)
    d.start(wait=False)
    assert d.wait(20) == 1
    assert "no-such-user-ringmx: no such user" in d.log()
