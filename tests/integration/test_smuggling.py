"""SMTP smuggling: a bare CR or LF (in DATA or in a command line) is
answered 550 5.5.2 and the connection is closed; nothing after it is ever
executed as a command (CVE-2023-51764 and friends)."""

import pytest

from conftest import contains, make_msg

SMUGGLED = (b"MAIL FROM:<evil@attacker.test>\r\nRCPT TO:<victim@localhost>\r\n"
            b"DATA\r\nSubject: smuggled\r\n\r\nsmuggled\r\n.\r\nQUIT\r\n")


def assert_nothing_smuggled(d):
    """A marker sent afterwards to alice and victim arrives alone."""
    marker = make_msg(subject="marker")
    d.send(marker, rcpts=["alice@localhost", "victim@localhost"])
    for user in ("alice", "victim"):
        msgs = d.wait_mail(user)
        assert len(msgs) == 1 and contains(msgs[0][1], marker), msgs
    assert not [e for e in d.events("queued") if "attacker" in str(e)]


@pytest.mark.parametrize("eol", [
    b"\n.\n", b"\n.\r\n", b"\r\n.\n", b"\r.\r\n", b"\r\n.\r", b"\r.\r",
    b"\n", b"\r"], ids=repr)
def test_bare_eol_in_data(ringmx, eol):
    with ringmx.session() as c:
        c.ok("MAIL FROM:<sender@example.org>")
        c.ok("RCPT TO:<alice@localhost>")
        c.ok("DATA", 354)
        c.send(make_msg(subject="carrier") + b"text" + eol + SMUGGLED)
        c.expect(550, "5.5.2")
        assert c.read_to_eof() == b"", "replies after the 550"
    assert_nothing_smuggled(ringmx)


def test_bare_lf_after_end_of_data(ringmx):
    """A correct end of data, then a command line ending in bare LF."""
    with ringmx.session() as c:
        c.ok("MAIL FROM:<sender@example.org>")
        c.ok("RCPT TO:<alice@localhost>")
        c.ok("DATA", 354)
        c.send(make_msg(subject="ok") + b".\r\nNOOP\n" + SMUGGLED)
        c.expect(250, "2.0.0")
        c.expect(550, "5.5.2")
        assert c.read_to_eof() == b""
    msgs = ringmx.wait_mail("alice")
    assert len(msgs) == 1
    ringmx.send(make_msg(subject="marker"), rcpts=["victim@localhost"])
    assert len(ringmx.wait_mail("victim")) == 1
    assert len(ringmx.mailbox("alice")) == 1


@pytest.mark.parametrize("line", [
    b"NOOP\n", b"NOOP\rRSET\r\n", b"MAIL FROM:<evil@attacker.test>\n",
    b"EHLO x\n", b"RSET\r\r\n"], ids=repr)
def test_bare_eol_in_command_line(ringmx, line):
    with ringmx.session() as c:
        c.send(line + SMUGGLED)
        c.expect(550, "5.5.2")
        assert c.read_to_eof() == b"", "replies after the 550"
    assert_nothing_smuggled(ringmx)


def test_bare_eol_in_command_split_writes(ringmx):
    """The bare LF arrives in its own segment."""
    with ringmx.session() as c:
        c.send(b"NOOP")
        c.send(b"\n")
        c.send(SMUGGLED)
        c.expect(550, "5.5.2")
        assert c.read_to_eof() == b""
    assert_nothing_smuggled(ringmx)


def test_end_of_data_split_across_writes(ringmx):
    """The legitimate CRLF.CRLF split into single bytes still works."""
    with ringmx.session() as c:
        c.ok("MAIL FROM:<sender@example.org>")
        c.ok("RCPT TO:<alice@localhost>")
        c.ok("DATA", 354)
        c.send(make_msg(body=b"last line"))
        for b in b"\r\n.\r\n":
            c.send(bytes([b]))
        c.expect(250, "2.0.0")
        c.ok("NOOP")
    assert contains(ringmx.wait_mail("alice")[0][1], b"\r\nlast line\r\n")
