"""Limits: line length, recipients, hops, errors, timeouts."""

import pytest

from conftest import dot_stuff, make_msg


def test_command_line_at_limit(ringmx):
    with ringmx.session() as c:
        line = "NOOP " + "x" * (512 - len("NOOP ") - 2)  # 512 with CRLF
        c.ok(line, 250)
        c.ok(line + "x", 500, "5.5.2")
        c.ok("NOOP")


@pytest.mark.parametrize("size", [600, 100_000])
def test_command_line_too_long_session_continues(ringmx, size):
    with ringmx.session() as c:
        c.send(b"MAIL FROM:<" + b"a" * size + b"@example.org>\r\nNOOP\r\n")
        c.expect(500, "5.5.2")
        c.expect(250)
        c.transaction()


def test_long_line_tail_not_executed(ringmx):
    """What follows the first 512 bytes of a long line is discarded, not
    parsed as a command."""
    with ringmx.session() as c:
        c.send(b"NOOP " + b"y" * 600 + b"QUIT\r\nNOOP\r\n")
        c.expect(500, "5.5.2")
        c.expect(250)
        c.ok("NOOP")


def test_text_line_too_long(ringmx):
    ok_line = b"a" * 998   # 1000 with CRLF
    with ringmx.session() as c:
        c.transaction(msg=make_msg(body=ok_line + b"\r\n"))
        c.ok("MAIL FROM:<sender@example.org>")
        c.ok("RCPT TO:<bob@localhost>")
        c.ok("DATA", 354)
        c.send(dot_stuff(make_msg(body=ok_line + b"b\r\n")))
        c.expect(500, "5.5.2")
        c.ok("NOOP")
    ringmx.wait_mail("alice")
    ringmx.send(rcpts=["carol@localhost"])
    ringmx.wait_mail("carol")
    assert ringmx.mailbox("bob") == []


def test_too_many_recipients(make_ringmx):
    d = make_ringmx(limits={"rcpt_max": 5})
    users = [f"user{i}" for i in range(7)]
    with d.session() as c:
        c.ok("MAIL FROM:<sender@example.org>")
        for u in users[:5]:
            c.ok(f"RCPT TO:<{u}@localhost>", 250, "2.1.5")
        for u in users[5:]:
            c.ok(f"RCPT TO:<{u}@localhost>", 452, "4.5.3")
        c.ok("DATA", 354)
        c.send(dot_stuff(make_msg()))
        c.expect(250, "2.0.0")
    for u in users[:5]:
        d.wait_mail(u)
    d.send(rcpts=["marker@localhost"])
    d.wait_mail("marker")
    assert d.mailbox("user5") == [] and d.mailbox("user6") == []


def received_headers(n):
    return [f"Received: from hop{i}.example.org by relay{i}.example.org "
            f"with ESMTP id {i}; Mon, 1 Jan 2024 00:00:{i % 60:02d} +0000"
            for i in range(n)]


def test_hops_at_limit_accepted(ringmx):
    with ringmx.session() as c:
        c.transaction(msg=make_msg(headers=received_headers(100)))
    ringmx.wait_mail("alice")


def test_too_many_hops(ringmx):
    with ringmx.session() as c:
        c.ok("MAIL FROM:<sender@example.org>")
        c.ok("RCPT TO:<alice@localhost>")
        c.ok("DATA", 354)
        c.send(dot_stuff(make_msg(headers=received_headers(101))))
        c.expect(554, "5.4.6")
        c.ok("NOOP")
        c.ok("MAIL FROM:<sender@example.org>")


def test_too_many_hops_folded_lowercase(ringmx):
    hdrs = [f"received: from h{i}.example.org\r\n\tby r{i}.example.org; "
            "Mon, 1 Jan 2024 00:00:00 +0000" for i in range(101)]
    with ringmx.session() as c:
        c.ok("MAIL FROM:<sender@example.org>")
        c.ok("RCPT TO:<alice@localhost>")
        c.ok("DATA", 354)
        c.send(dot_stuff(make_msg(headers=hdrs)))
        c.expect(554, "5.4.6")


def test_errors_max(make_ringmx):
    d = make_ringmx(limits={"errors_max": 5})
    with d.session() as c:
        c.send(b"BOGUS\r\n" * 10)
        codes = []
        while not codes or codes[-1] != 421:
            codes.append(c.reply().code)
        assert codes[:-1] == [500] * (len(codes) - 1), codes
        assert 4 <= len(codes) - 1 <= 5, codes
        assert c.read_to_eof() == b""


def test_command_timeout(make_ringmx):
    d = make_ringmx(limits={"timeout_command": 1})
    with d.session() as c:
        c.sock.settimeout(15)
        c.expect(421)
        assert c.read_to_eof() == b""
