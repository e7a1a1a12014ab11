"""SMTP AUTH (RFC 4954) PLAIN and LOGIN through the auth_file plugin:
success and relay for authenticated users, wrong passwords, AUTH required
on submission, swaks, the per-IP failure limit across workers, and the
submission sender rules (RFC 6409 6.1).

Needs build/asan/plugins/auth_file.so and build/ringmx-passwd (the
password file is written with the tool, so the daemon verifies real
argon2id hashes made by it).
"""

import base64
import contextlib
import smtplib
import subprocess

import pytest

from conftest import REPO, SMTPConn, dot_stuff, free_port, make_msg

PLUGIN = REPO / "build/asan/plugins/auth_file.so"
TOOL = REPO / "build/ringmx-passwd"

USERS = {"alice": "correct horse", "bob@example.test": "b0b-pässword"}
SENDERS = "alice: alice@example.test, @team.example\n"


def b64(s):
    return base64.b64encode(s.encode()).decode()


def write_passwd(path, users):
    if not TOOL.exists():
        pytest.fail(f"{TOOL} not built (see tools/ringmx-passwd.c)")
    for user, pw in users.items():
        p = subprocess.run([str(TOOL), "-f", str(path), user],
                           input=(pw + "\n").encode(), capture_output=True,
                           timeout=60)
        assert p.returncode == 0, p.stderr


@pytest.fixture
def authd(make_ringmx, tmpdir_clean):
    """make(**cfg) -> daemon with a submission listener (d.port) and an
    smtp listener (d.smtp_port), both with AUTH, and auth_file loaded."""
    if not PLUGIN.exists():
        pytest.fail(f"{PLUGIN} not built (make {PLUGIN.relative_to(REPO)})")
    passwd = tmpdir_clean / "passwd"
    senders = tmpdir_clean / "senders"
    write_passwd(passwd, USERS)
    senders.write_text(SENDERS)

    def make(limits=None, workers=2, **cfg):
        d = make_ringmx(start=False, workers=workers, hold=True,
                        limits=limits or {}, **cfg)
        d.smtp_port = free_port()
        d.cfg["listeners"] = (
            {"address": f"{d.host}:{d.port}", "mode": "submission",
             "auth": True, "auth_plaintext": True},
            {"address": f"{d.host}:{d.smtp_port}", "mode": "smtp",
             "auth": True, "auth_plaintext": True},
        )
        d.cfg["plugins"] = (
            {"name": "auth_file", "path": str(PLUGIN),
             "passwd": str(passwd), "senders": str(senders)},
        )
        return d.start()

    return make


def smtp_conn(d, port, source=None):
    """A raw conversation with the listener on port, greeted and EHLOed."""
    c = SMTPConn(d.host, port, source)
    c.greeting = c.expect(220)
    c.ehlo()
    return c


def auth_plain(c, user, pw, code=235, enh=None):
    return c.ok("AUTH PLAIN " + b64(f"\0{user}\0{pw}"), code, enh)


def auth_login(c, user, pw, code=235, enh=None):
    c.ok("AUTH LOGIN", 334)
    c.ok(b64(user), 334)
    return c.ok(b64(pw), code, enh)


def relay_one(c, sender="alice@example.test", rcpt="x@remote.example"):
    c.ok(f"MAIL FROM:<{sender}>")
    c.ok(f"RCPT TO:<{rcpt}>", 250)
    c.ok("DATA", 354)
    c.send(dot_stuff(make_msg(sender=sender, to=rcpt)))
    return c.expect(250, "2.0.0")


def test_ehlo_advertises_auth(authd):
    d = authd()
    with smtp_conn(d, d.port) as c:
        r = c.ehlo()
    assert any(l[4:].upper().split()[:1] == ["AUTH"] and "PLAIN" in l
               and "LOGIN" in l for l in r.lines), r


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_smtplib_login_and_relay(authd, mech):
    d = authd()
    with smtplib.SMTP(d.host, d.port, "client.test", timeout=30) as s:
        s.ehlo()
        s.user, s.password = "alice", USERS["alice"]
        auth = s.auth_plain if mech == "PLAIN" else s.auth_login
        code, _ = s.auth(mech, auth, initial_response_ok=(mech == "PLAIN"))
        assert code == 235
        assert s.mail("alice@example.test")[0] == 250
        assert s.rcpt("x@remote.example")[0] == 250
        code, resp = s.data(make_msg(sender="alice@example.test",
                                     to="x@remote.example"))
        assert code == 250, resp
        s.quit()
    assert d.queued() == 1  # hold = true: it stays in the queue


def test_plain_without_initial_response(authd):
    d = authd()
    with smtp_conn(d, d.port) as c:
        c.ok("AUTH PLAIN", 334)
        c.ok(b64("\0bob@example.test\0" + USERS["bob@example.test"]), 235,
             "2.7.0")
        relay_one(c, sender="bob@example.test")


def test_relay_needs_auth_on_smtp_listener(authd):
    d = authd()
    with smtp_conn(d, d.smtp_port) as c:
        c.ok("MAIL FROM:<alice@example.test>")
        c.ok("RCPT TO:<x@remote.example>", 550, "5.7.1")
        c.ok("RSET")
        auth_login(c, "alice", USERS["alice"], 235, "2.7.0")
        relay_one(c)
    assert d.queued() == 1


def test_wrong_password(authd):
    d = authd(limits={"auth_failures_per_ip": 10})
    with smtp_conn(d, d.port) as c:
        auth_plain(c, "alice", "wrong", 535, "5.7.8")
        auth_login(c, "alice", USERS["alice"].upper(), 535, "5.7.8")
        # an unknown user gets the same answer
        auth_plain(c, "mallory", USERS["alice"], 535, "5.7.8")
        c.ok("MAIL FROM:<alice@example.test>", 530, "5.7.0")
        # the right one still works (3 failures < 10)
        auth_plain(c, "alice", USERS["alice"], 235, "2.7.0")


def test_mail_before_auth_on_submission(authd):
    d = authd()
    with smtp_conn(d, d.port) as c:
        c.ok("MAIL FROM:<alice@example.test>", 530, "5.7.0")


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_swaks_auth(authd, mech):
    d = authd()
    p = subprocess.run(
        ["swaks", "--server", d.host, "--port", str(d.port),
         "--auth", mech, "--auth-user", "alice",
         "--auth-password", USERS["alice"],
         "--from", "alice@example.test", "--to", "x@remote.example",
         "--helo", "client.test", "--timeout", "20"],
        capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "235 2.7.0" in p.stdout, p.stdout
    assert d.queued() == 1


def test_swaks_wrong_password(authd):
    d = authd()
    p = subprocess.run(
        ["swaks", "--server", d.host, "--port", str(d.port),
         "--auth", "PLAIN", "--auth-user", "alice",
         "--auth-password", "nope", "--from", "alice@example.test",
         "--to", "x@remote.example", "--timeout", "20"],
        capture_output=True, text=True, timeout=60)
    assert p.returncode != 0
    assert "535 5.7.8" in p.stdout, p.stdout


def closed_with_421(c, r):
    assert r.code == 421 and r.enh == "4.7.0", r
    assert c.read_to_eof() == b""


def test_failure_limit_one_session(authd):
    d = authd(limits={"auth_failures_per_ip": 3})
    src = "127.0.0.21"
    with smtp_conn(d, d.port, source=src) as c:
        for _ in range(2):
            auth_plain(c, "alice", "wrong", 535, "5.7.8")
        r = c.cmd("AUTH PLAIN " + b64("\0alice\0wrong"))
        if r.code == 421:  # the host may close on the failure that
            closed_with_421(c, r)  # reaches the limit already
        else:
            c.expect(535, "5.7.8", r)
            # the 4th attempt, even with the right password
            closed_with_421(c, c.cmd("AUTH PLAIN " + b64(
                "\0alice\0" + USERS["alice"])))
    # a new connection from that address is refused as well
    with d.connect(greet=False, source=src) as c:
        r = c.reply()
        if r.code == 220:
            c.ehlo()
            r = c.cmd("AUTH PLAIN " + b64("\0alice\0" + USERS["alice"]))
        closed_with_421(c, r)
    # other addresses are not affected
    with smtp_conn(d, d.port, source="127.0.0.22") as c:
        auth_plain(c, "alice", USERS["alice"], 235)


def test_failure_limit_across_workers(authd):
    """Failures counted per IP for the whole process: three sessions open
    at once (so they spread over both workers), one failure each."""
    d = authd(limits={"auth_failures_per_ip": 3}, workers=2)
    src = "127.0.0.23"
    with contextlib.ExitStack() as stack:
        conns = [stack.enter_context(smtp_conn(d, d.port, source=src))
                 for _ in range(3)]
        for c in conns[:2]:
            auth_plain(c, "alice", "wrong", 535, "5.7.8")
        r = conns[2].cmd("AUTH PLAIN " + b64("\0alice\0wrong"))
        if r.code == 421:  # closed on the failure reaching the limit
            closed_with_421(conns[2], r)
        else:
            conns[2].expect(535, "5.7.8", r)
        # the 4th attempt, in another session
        closed_with_421(conns[0], conns[0].cmd(
            "AUTH LOGIN " + b64("alice")))
    # New connections are refused on every worker, also on one that saw
    # fewer than 3 of the failures itself (workers from the log).
    failed = {e["conn"] for e in d.events("auth")
              if e.get("ip") == src and e.get("result") == "failed"}
    assert len(failed) == 3, d.events("auth")

    def blocked_on():
        return {e.get("worker") for e in d.events("connect")
                if e.get("ip") == src and e.get("conn") not in failed}

    for _ in range(40):
        with d.connect(greet=False, source=src) as c:
            r = c.reply()
            if r.code == 220:
                c.ehlo()
                r = c.cmd("AUTH PLAIN " + b64("\0alice\0" + USERS["alice"]))
            closed_with_421(c, r)
        if len(blocked_on()) == 2:
            break
    assert blocked_on() == {"0", "1"}, d.events("connect")


def test_sender_not_owned(authd):
    d = authd()
    with smtp_conn(d, d.port) as c:
        auth_plain(c, "alice", USERS["alice"], 235)
        r = c.ok("MAIL FROM:<bob@example.test>", 553, "5.7.1")
        assert "<bob@example.test>" in r.text and "<alice>" in r.text, r
        # an address of an @domain entry is fine
        c.ok("MAIL FROM:<anyone@team.example>")
        c.ok("RSET")
        # the From: field is checked at the end of data
        c.ok("MAIL FROM:<alice@example.test>")
        c.ok("RCPT TO:<x@remote.example>")
        c.ok("DATA", 354)
        c.send(dot_stuff(make_msg(sender="boss@bank.example",
                                  to="x@remote.example")))
        r = c.expect(553, "5.7.1")
        assert "<boss@bank.example>" in r.text, r
        # and a matching one is accepted
        relay_one(c)
    with smtp_conn(d, d.port) as c:
        # bob's login is an address: he owns exactly that one
        auth_login(c, "bob@example.test", USERS["bob@example.test"], 235)
        c.ok("MAIL FROM:<alice@example.test>", 553, "5.7.1")
        relay_one(c, sender="bob@example.test")
    assert d.queued() == 2


def test_failures_are_tarpitted(authd):
    """Each failure in a session is answered later than the last one
    (1 s, 2 s, ...): brute force gets slow before it gets refused."""
    import time
    d = authd(limits={"auth_failures_per_ip": 10})
    with smtp_conn(d, d.port, source="127.0.0.31") as c:
        t0 = time.monotonic()
        auth_plain(c, "alice", "wrong", 535, "5.7.8")
        t1 = time.monotonic()
        auth_plain(c, "alice", "wrong", 535, "5.7.8")
        t2 = time.monotonic()
        # meanwhile the right password still works, without delay
        auth_plain(c, "alice", USERS["alice"], 235)
        t3 = time.monotonic()
    assert t1 - t0 >= 0.9, t1 - t0
    assert t2 - t1 >= 1.5, t2 - t1
    assert t3 - t2 < 1.0, t3 - t2
