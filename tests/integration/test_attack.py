"""Attacks against the running daemon (issue "Hardening"): each test
checks the exact reply and that a normal client is served afterwards.

Already covered elsewhere, not repeated here:
- long command lines up to 100 kB, rcpt_max with a few extra RCPT,
  errors_max, the command timeout: test_limits.py;
- bare CR/LF end-of-data variants (\\n.\\n, \\r.\\r, \\r\\n.\\n,
  \\n.\\r\\n, \\r.\\r\\n, \\r\\n.\\r) with smuggled commands after them, and
  bare CR/LF in command lines: test_smuggling.py;
- STARTTLS command injection (commands pipelined after STARTTLS are
  discarded): test_tls_inbound.py;
- conn_per_ip / conn_max refusals (421 4.7.0): test_ip_limit.py;
- AUTH failure limit per IP across workers, tarpit: test_auth.py;
- BDAT over message_max across several chunks: test_bdat.py.
"""

import contextlib
import socket
import threading
import time

import pytest

from conftest import contains, dot_stuff, make_msg, wait_for
from test_auth import USERS, authd, b64, smtp_conn  # noqa: F401

SMUGGLED = (b"MAIL FROM:<evil@attacker.test>\r\nRCPT TO:<victim@localhost>\r\n"
            b"DATA\r\nSubject: smuggled\r\n\r\nsmuggled\r\n.\r\nQUIT\r\n")


def served(d, source="127.0.0.1", rcpt="alice@localhost"):
    """A normal client completes a full transaction; returns its qid."""
    with d.connect(source=source) as c:
        c.ehlo()
        qid = c.transaction(rcpts=(rcpt,))
        c.ok("QUIT", 221)
    return qid


def queued_ids(d):
    return {e.get("id") for e in d.events("queued")}


# ------------------------------------------------------------ long input

def test_one_mebibyte_command_line(ringmx):
    with ringmx.session() as c:
        c.send(b"NOOP " + b"x" * (1 << 20) + b"\r\nRSET\r\n")
        c.expect(500, "5.5.2")
        c.expect(250, "2.0.0")  # the tail was skipped, RSET ran
        c.transaction()
    served(ringmx)
    ringmx.wait_mail("alice", 2)


def test_ten_thousand_rcpt(make_ringmx):
    d = make_ringmx(limits={"cmds_max": 20000, "errors_max": 20})
    n = 10_000
    with d.session() as c:
        c.ok("MAIL FROM:<sender@example.org>")
        c.send(b"".join(b"RCPT TO:<u%d@localhost>\r\n" % i
                        for i in range(n)))
        codes = []
        try:
            for _ in range(n):
                codes.append(c.reply())
        except EOFError:
            pass
        ok = [r for r in codes if r.code == 250]
        assert len(ok) == 1000 and all(r.enh == "2.1.5" for r in ok)
        over = codes[1000:]
        assert over, codes[-3:]
        # 452 4.5.3 for every RCPT over rcpt_max; the session may end
        # with 421 once errors_max is reached
        assert all((r.code, r.enh) == (452, "4.5.3") for r in over[:-1])
        assert (over[-1].code, over[-1].enh) in ((452, "4.5.3"),
                                                 (421, "4.7.0")), over[-1]
    served(d)
    d.wait_mail("alice")


# ------------------------------------------------------------ smuggling

@pytest.mark.parametrize("eod,reply", [
    (b"\r\n\0.\r\n", (250, "2.0.0")), (b"\r\n.\0\r\n", (250, "2.0.0")),
    (b"\r\n\0.\0\r\n", (250, "2.0.0")), (b"\r\n\0\0.\r\n", (250, "2.0.0")),
    (b"\r\n.\r\0\n", (550, "5.5.2")), (b"\n\0.\0\n", (550, "5.5.2"))],
    ids=repr)
def test_nul_around_end_of_data(ringmx, eod, reply):
    """NUL next to the dot never makes an end of data: the NUL is message
    text, what follows is still DATA (ended by the real CRLF.CRLF inside
    SMUGGLED), so exactly one message is queued and no smuggled command
    runs; a bare CR/LF next to it is refused (550 5.5.2, close)."""
    with ringmx.session() as c:
        c.ok("MAIL FROM:<sender@example.org>")
        c.ok("RCPT TO:<alice@localhost>")
        c.ok("DATA", 354)
        c.send(make_msg(subject="carrier") + b"text" + eod + SMUGGLED)
        r = c.expect(*reply)
        if r.code == 250:
            c.expect(221, "2.0.0")  # the QUIT after the real end
        assert c.read_to_eof() == b""
    marker = make_msg(subject="marker")
    ringmx.send(marker, rcpts=["victim@localhost"])
    msgs = ringmx.wait_mail("victim")
    assert len(msgs) == 1 and contains(msgs[0][1], marker), msgs
    assert not [e for e in ringmx.events("queued") if "attacker" in str(e)]
    assert len(ringmx.events("queued")) == (2 if r.code == 250 else 1)
    if r.code == 250:
        carrier = ringmx.wait_mail("alice")
        assert len(carrier) == 1 and b"\0" in carrier[0][1]


# ------------------------------------------------------------ open relay

TRICKS = [
    # accepted: the domain is local, the local part is only a mailbox
    # name here (no %-hack, no bang path): delivered locally
    ("user%remote.example@localhost", 250, "2.1.5"),
    ("remote.example!user@localhost", 250, "2.1.5"),
    ('"user@remote.example"@localhost', 250, "2.1.5"),
    # a source route is dropped (RFC 5321 4.1.1.3): user@remote.example
    ("@localhost:user@remote.example", 550, "5.7.1"),
    ("user@remote.example@localhost", 501, "5.1.3"),
    ("user@[127.0.0.1]", 550, "5.7.1"),
    ("user@[IPv6:::1]", 550, "5.7.1"),
]


@pytest.mark.parametrize("rcpt,code,enh", TRICKS, ids=[t[0] for t in TRICKS])
def test_open_relay_tricks(make_ringmx, rcpt, code, enh):
    # relay_networks is empty: 127.0.0.1 may not relay; loopback
    # delivery would be allowed, so a relayed copy would be attempted
    d = make_ringmx(outbound={"allow_loopback": True})
    with d.session() as c:
        c.ok("MAIL FROM:<sender@example.org>")
        c.ok(f"RCPT TO:<{rcpt}>", code, enh)
        if code == 250:
            c.ok("DATA", 354)
            c.send(dot_stuff(make_msg()))
            c.expect(250, "2.0.0")
        else:
            c.ok("RSET")
    if code == 250:
        # delivered into a local maildir, nothing left for a remote
        # destination (a relayed copy would stay queued: DNS is refused)
        wait_for(lambda: d.queued() == 0, 10, "local delivery")
        boxes = [p for p in d.maildir_root.iterdir() if p.is_dir()]
        assert len(boxes) == 1 and any((boxes[0] / "new").iterdir())
    assert not [l for l in d.log().splitlines()
                if "event=outbound" in l or "event=deferred" in l]
    served(d)
    d.wait_mail("alice")
    # the delivery is in the Maildir before its queue entry is removed
    wait_for(lambda: d.queued() == 0, 10, "the queue drained")


# ------------------------------------------------------------ NUL bytes

@pytest.mark.parametrize("line", [b"NOOP\0", b"\0", b"\0HELO x",
                                  b"MAIL FROM:<a\0b@example.org>",
                                  b"RCPT TO:<alice@localhost>\0"], ids=repr)
def test_nul_in_command(ringmx, line):
    with ringmx.session() as c:
        c.ok(line, 500, "5.5.2")
        c.transaction()
    ringmx.wait_mail("alice")


def test_nul_in_data_is_text(ringmx):
    """NUL in DATA is kept as message text (smtp_data.c refuses only bare
    CR/LF); the message is queued and delivered as sent."""
    with ringmx.session() as c:
        c.ok("MAIL FROM:<sender@example.org>")
        c.ok("RCPT TO:<nul@localhost>")
        c.ok("DATA", 354)
        c.send(b"Subject: n\0ul\r\n\r\nbo\0dy\0\r\n\0\r\n.\r\n")
        c.expect(250, "2.0.0")
        c.transaction()
    got = ringmx.wait_mail("nul")
    assert b"Subject: n\0ul\r\n\r\nbo\0dy\0\r\n\0\r\n" in got[0][1]
    ringmx.wait_mail("alice")


# ------------------------------------------------------------ sizes

def test_oversized_size_param(make_ringmx):
    d = make_ringmx(limits={"message_max": 10000})
    with d.session() as c:
        for v in ("10001", "999999999999", "18446744073709551615"):
            c.ok(f"MAIL FROM:<sender@example.org> SIZE={v}", 552, "5.3.4")
        # more than the 20 digits of RFC 1870's size-value: syntax
        c.ok("MAIL FROM:<sender@example.org> SIZE=" + "9" * 30, 501, "5.5.4")
        c.ok("MAIL FROM:<sender@example.org> SIZE=10000")
        c.ok("RSET")
        c.transaction()
    d.wait_mail("alice")


def test_bdat_single_chunk_over_message_max(make_ringmx):
    d = make_ringmx(limits={"message_max": 10000})
    with d.session() as c:
        c.ok("MAIL FROM:<sender@example.org>")
        c.ok("RCPT TO:<bob@localhost>")
        chunk = b"x" * 30000
        # the chunk is read and thrown away: its bytes never run as
        # commands (a QUIT inside it does nothing)
        c.send(b"BDAT %d LAST\r\n" % (len(chunk) + 6) + chunk + b"QUIT\r\n")
        c.expect(552, "5.3.4")
        c.ok("NOOP")
        c.transaction()
    d.wait_mail("alice")
    assert d.mailbox("bob") == []


# ------------------------------------------------------------ slowloris

SLOW = {"min_data_rate": 256, "data_rate_window": 2}


def dribble(c, data, every, limit):
    """Send data one byte per `every` seconds until the server closes;
    returns (seconds until closed, what it sent)."""
    t0 = time.monotonic()
    c.sock.settimeout(every)
    got = b""
    for b in data:
        assert time.monotonic() - t0 < limit, f"not dropped; got {got!r}"
        try:
            c.sock.sendall(bytes([b]))
        except (BrokenPipeError, ConnectionResetError):
            break
        try:
            chunk = c.sock.recv(4096)
            if not chunk:
                break
            got += chunk
        except socket.timeout:
            pass
    return time.monotonic() - t0, c.buf + got


def assert_dropped(elapsed, got, limit):
    assert got.startswith(b"421 4.4.2 "), got
    assert elapsed < limit, elapsed


def test_slowloris_command_line(make_ringmx):
    d = make_ringmx(limits=SLOW)
    with d.session() as c:
        elapsed, got = dribble(c, b"MAIL FROM:<" + b"a" * 200, 0.5, 12)
        assert_dropped(elapsed, got, 8)  # 2 s free + one 2 s window
    assert [e for e in d.events("slow_client")
            if e["reason"] == "min_data_rate"]
    served(d, source="127.0.0.2")
    d.wait_mail("alice")


def test_slowloris_data(make_ringmx):
    d = make_ringmx(limits=SLOW)
    with d.session() as c:
        c.ok("MAIL FROM:<sender@example.org>")
        c.ok("RCPT TO:<bob@localhost>")
        c.ok("DATA", 354)
        # whole lines, slowly: every line resets the per-read timeout
        elapsed, got = dribble(c, b"x\r\n" * 100, 0.3, 12)
        assert_dropped(elapsed, got, 8)
    served(d)
    d.wait_mail("alice")
    assert d.mailbox("bob") == []


def test_command_deadline(make_ringmx):
    """Fast enough for the rate, but the line never ends."""
    d = make_ringmx(limits={"min_data_rate": 0, "command_deadline": 3})
    with d.session() as c:
        elapsed, got = dribble(c, b"NOOP " + b"x" * 200, 0.2, 12)
        assert_dropped(elapsed, got, 7)
    assert [e for e in d.events("slow_client")
            if e["reason"] == "command_deadline"]
    served(d)
    d.wait_mail("alice")


def test_slow_but_steady_client_served(make_ringmx):
    """Above the rate (a 1000-byte line per 0.5 s), a long DATA goes on
    past several windows."""
    d = make_ringmx(limits=SLOW)
    with d.session() as c:
        c.ok("MAIL FROM:<sender@example.org>")
        c.ok("RCPT TO:<alice@localhost>")
        c.ok("DATA", 354)
        c.send(b"Subject: slow\r\n\r\n")
        for _ in range(14):
            c.send(b"y" * 998 + b"\r\n")
            time.sleep(0.5)
        c.send(b".\r\n")
        c.expect(250, "2.0.0")
    d.wait_mail("alice")


# ------------------------------------------------------------ flood

def timed_transaction(d, source):
    t0 = time.monotonic()
    with d.connect(source=source, timeout=5) as c:
        greet = time.monotonic() - t0
        c.ehlo()
        c.transaction()
    return greet


def test_connection_flood(make_ringmx):
    d = make_ringmx(limits={"conn_per_ip": 50})
    stop = threading.Event()
    count = [0]
    errors = []

    def flood():
        while not stop.is_set() and count[0] < 10_000:
            try:
                s = socket.create_connection((d.host, d.port), 5,
                                             source_address=("127.0.0.1", 0))
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             b"\1\0\0\0\0\0\0\0")  # RST: no TIME_WAIT
                s.close()
            except OSError as e:
                errors.append(e)
            count[0] += 1

    with contextlib.ExitStack() as stack:
        # hold the per-IP maximum open from 127.0.0.1, idle
        held = [stack.enter_context(d.connect(source="127.0.0.1"))
                for _ in range(50)]
        threads = [threading.Thread(target=flood) for _ in range(4)]
        t_end = time.monotonic() + 40
        for t in threads:
            t.start()
        try:
            worst = 0.0
            while count[0] < 10_000 and time.monotonic() < t_end:
                worst = max(worst, timed_transaction(d, "127.0.0.2"))
                time.sleep(0.2)
        finally:
            stop.set()
            for t in threads:
                t.join()
        assert count[0] >= 10_000 or time.monotonic() >= t_end
        assert len(errors) < count[0] // 10, (count[0], errors[:3])
        # the daemon saw the flood (accepted, greeted or refused)
        assert d.log().count("ip=127.0.0.1 ") > 1000
        assert worst < 1.0, worst
        assert timed_transaction(d, "127.0.0.2") < 1.0
        held[0].ok("NOOP")
    assert d.running


# ------------------------------------------------------------ AUTH

def test_auth_brute_force_other_ip_served(authd):
    """test_auth.py checks the per-IP failure limit (421 4.7.0) and AUTH
    from another address; here another client's whole transaction."""
    d = authd(limits={"auth_failures_per_ip": 3})
    src = "127.0.0.31"
    with smtp_conn(d, d.smtp_port, source=src) as c:
        r = None
        for _ in range(6):
            r = c.cmd("AUTH PLAIN " + b64("\0alice\0wrong"))
            if r.code == 421:
                break
            c.expect(535, "5.7.8", r)
        c.expect(421, "4.7.0", r)
    with d.connect(greet=False, source=src) as c:
        r = c.reply()
        if r.code == 220:
            c.ehlo()
            r = c.cmd("AUTH PLAIN " + b64("\0alice\0" + USERS["alice"]))
        assert (r.code, r.enh) == (421, "4.7.0"), r
    t0 = time.monotonic()
    with smtp_conn(d, d.smtp_port, source="127.0.0.32") as c:
        assert time.monotonic() - t0 < 1.0
        c.ok("MAIL FROM:<sender@example.org>")
        c.ok("RCPT TO:<alice@localhost>")
        c.ok("DATA", 354)
        c.send(dot_stuff(make_msg()))
        c.expect(250, "2.0.0")
