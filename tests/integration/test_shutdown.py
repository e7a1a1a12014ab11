"""SIGTERM/SIGINT: stop accepting, let transactions in flight finish within
shutdown_grace, exit 0; a second signal exits at once."""

import signal
import time

import pytest

from conftest import SMTPConn, contains, dot_stuff, make_msg, wait_for


def not_accepting(d):
    """True unless a new connection gets a 220 greeting."""
    try:
        c = SMTPConn(d.host, d.port, timeout=2)
    except OSError:
        return True
    with c:
        try:
            return c.reply().code != 220
        except (EOFError, OSError, AssertionError):
            return True


def open_data(d, msg):
    """A session in the middle of DATA: half the message sent."""
    c = d.session()
    c.ok("MAIL FROM:<sender@example.org>")
    c.ok("RCPT TO:<alice@localhost>")
    c.ok("DATA", 354)
    data = dot_stuff(msg)
    c.send(data[:len(data) // 2])
    return c, data[len(data) // 2:]


def finish_session(c):
    """After the transaction: QUIT may get 221 or 421, or find it closed."""
    try:
        assert c.cmd("QUIT").code in (221, 421)
    except (EOFError, ConnectionError):
        pass


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_transaction_in_flight_finishes(ringmx, sig):
    msg = make_msg(subject="in flight", body=b"y" * 300 + b"\r\n")
    c, rest = open_data(ringmx, msg)
    with c:
        ringmx.send_signal(sig)
        wait_for(lambda: not_accepting(ringmx), 15,
                 "new connections refused after the signal")
        assert ringmx.running, "exited with a transaction in flight"
        c.send(rest)
        c.expect(250, "2.0.0")
        finish_session(c)
    assert ringmx.wait(20) == 0
    if not ringmx.mailbox("alice"):
        ringmx.start()
    assert contains(ringmx.wait_mail("alice")[0][1], msg)


def test_idle_sessions_closed_on_sigterm(make_ringmx):
    d = make_ringmx(limits={"shutdown_grace": 60})
    with d.session() as c:
        t0 = time.monotonic()
        d.send_signal(signal.SIGTERM)
        r = c.reply()
        assert r.code == 421, r
        assert c.read_to_eof() == b""
    assert d.wait(20) == 0
    assert time.monotonic() - t0 < 15, "waited for the grace period"


def test_sigterm_without_clients(ringmx):
    t0 = time.monotonic()
    assert ringmx.stop() == 0
    assert time.monotonic() - t0 < 10


def test_grace_period_expires(make_ringmx):
    d = make_ringmx(limits={"shutdown_grace": 2})
    c, rest = open_data(d, make_msg(subject="stalled"))
    with c:
        t0 = time.monotonic()
        d.send_signal(signal.SIGTERM)
        assert d.wait(20) == 0
        assert time.monotonic() - t0 >= 1.5, "did not wait for the grace"
        try:
            data = c.read_to_eof()
            assert b"250" not in data, data
        except ConnectionError:
            pass
    d.start()  # the partial message was not queued
    d.send(rcpts=["marker@localhost"])
    d.wait_mail("marker")
    assert d.mailbox("alice") == []


def test_second_signal_exits_at_once(make_ringmx):
    d = make_ringmx(limits={"shutdown_grace": 60})
    c, _ = open_data(d, make_msg(subject="stalled"))
    with c:
        d.send_signal(signal.SIGTERM)
        wait_for(lambda: not_accepting(d), 15, "first signal handled")
        assert d.running
        t0 = time.monotonic()
        d.send_signal(signal.SIGTERM)
        d.wait(10)
        assert time.monotonic() - t0 < 5


def test_restart_same_port(ringmx):
    """The listener can be bound again right after a stop even with
    connections in TIME_WAIT (SO_REUSEADDR)."""
    for _ in range(3):
        ringmx.send()
    assert ringmx.stop() == 0
    ringmx.start()
    ringmx.send()
    assert len(ringmx.wait_mail("alice", 4)) == 4
