"""ESMTP extensions: EHLO keywords, PIPELINING, SIZE, 8BITMIME, SMTPUTF8,
DSN (RFC 1869, 2920, 1870, 6152, 6531, 3461)."""

import pytest

from conftest import (HOSTNAME, QID_RE, contains, dot_stuff, header_lines,
                      make_msg)


def ehlo_keywords(r):
    return {l[4:].split(" ", 1)[0].upper(): l[4:] for l in r.lines[1:]}


def test_ehlo_keywords(ringmx):
    with ringmx.connect() as c:
        r = c.ok("EHLO client.test")
    assert r.lines[0].startswith(f"250-{HOSTNAME}"), r
    kw = ehlo_keywords(r)
    for k in ("PIPELINING", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES",
              "CHUNKING", "DSN"):
        assert k in kw, f"{k} missing from {r}"
    assert kw.get("SIZE") == "SIZE 52428800", r


def test_size_keyword_follows_config(make_ringmx):
    d = make_ringmx(limits={"message_max": 100000})
    with d.connect() as c:
        assert ehlo_keywords(c.ehlo()).get("SIZE") == "SIZE 100000"


def test_pipelined_transaction_in_one_write(ringmx):
    msg = make_msg(subject="pipelined")
    with ringmx.connect() as c:
        c.send(b"EHLO client.test\r\nMAIL FROM:<sender@example.org>\r\n"
               b"RCPT TO:<alice@localhost>\r\nRCPT TO:<bob@localhost>\r\n"
               b"DATA\r\n" + dot_stuff(msg) + b"QUIT\r\n")
        codes = [r.code for r in c.replies(7)]
        assert codes == [250, 250, 250, 250, 354, 250, 221], codes
        assert c.read_to_eof() == b""
    for user in ("alice", "bob"):
        assert contains(ringmx.wait_mail(user)[0][1], msg)


def test_pipelined_replies_batched(ringmx):
    """Replies to a pipelined group come back in one segment (RFC 2920
    section 3.2: the server should not flush after each reply)."""
    with ringmx.session() as c:
        c.send(b"MAIL FROM:<sender@example.org>\r\nRCPT TO:<alice@localhost>"
               b"\r\nRCPT TO:<nobody@elsewhere.test>\r\n"
               b"RCPT TO:<bob@localhost>\r\nDATA\r\n")
        first = c.recv_once()
        assert first.count(b"\r\n") == 5, f"first segment: {first!r}"
        assert [r.code for r in c.replies(5)] == [250, 250, 550, 250, 354]
        c.send(dot_stuff(make_msg()))
        c.expect(250)


def test_pipelined_multiple_transactions(ringmx):
    """Two transactions and RSETs in one write; order of replies kept."""
    m1, m2 = make_msg(subject="one"), make_msg(subject="two")
    with ringmx.session() as c:
        c.send(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<alice@localhost>\r\n"
               b"DATA\r\n" + dot_stuff(m1) + b"RSET\r\n"
               b"MAIL FROM:<b@example.org>\r\nRCPT TO:<alice@localhost>\r\n"
               b"DATA\r\n" + dot_stuff(m2) + b"NOOP\r\n")
        rs = c.replies(9)
        codes = [r.code for r in rs]
        assert codes == [250, 250, 354, 250, 250, 250, 250, 354, 250], rs
        c.expect(250)  # NOOP
        assert QID_RE.search(rs[3].text) and QID_RE.search(rs[8].text)
    msgs = [m for _, m in ringmx.wait_mail("alice", 2)]
    assert sum(contains(m, m1) for m in msgs) == 1
    assert sum(contains(m, m2) for m in msgs) == 1


def test_size_declared_too_big(ringmx):
    with ringmx.session() as c:
        c.ok("MAIL FROM:<sender@example.org> SIZE=52428801", 552, "5.3.4")
        c.ok("MAIL FROM:<sender@example.org> SIZE=52428800")


def test_size_actual_too_big(make_ringmx):
    d = make_ringmx(limits={"message_max": 10000})
    big = make_msg(subject="big", body=("x" * 70 + "\r\n") * 200)
    with d.session() as c:
        c.ok("MAIL FROM:<sender@example.org> SIZE=1000")
        c.ok("RCPT TO:<bob@localhost>")
        c.ok("DATA", 354)
        c.send(dot_stuff(big))
        c.expect(552, "5.3.4")
        c.ok("NOOP")  # connection kept, the rest was consumed
        c.transaction()  # alice gets a small one
    d.wait_mail("alice")
    assert d.mailbox("bob") == []


def test_8bitmime_body(ringmx):
    body = "Grüße, café, 日本語\r\n".encode()
    msg = make_msg(body=body, headers=[
        "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit"])
    with ringmx.session() as c:
        c.transaction(msg=msg, mail_params=" BODY=8BITMIME")
    raw = ringmx.wait_mail("alice")[0][1]
    assert contains(raw, body)


def test_body_7bit_param(ringmx):
    with ringmx.session() as c:
        c.transaction(mail_params=" BODY=7BIT")
        c.ok("MAIL FROM:<sender@example.org> BODY=9BIT", 501, "5.5.4")


def test_smtputf8_delivery(ringmx):
    msg = make_msg(to="jösé@localhost", sender="sénder@example.org")
    with ringmx.session() as c:
        c.ok("MAIL FROM:<sénder@example.org> SMTPUTF8")
        c.ok("RCPT TO:<jösé@localhost>", 250, "2.1.5")
        c.ok("DATA", 354)
        c.send(dot_stuff(msg))
        c.expect(250, "2.0.0")
    raw = ringmx.wait_mail("jösé")[0][1]
    assert raw.startswith("Return-Path: <sénder@example.org>".encode()), raw
    h = header_lines(raw)
    assert h[1].startswith("Delivered-To:") and "jösé@localhost" in h[1], h


@pytest.mark.parametrize("cmds", [
    ["MAIL FROM:<sénder@example.org>"],
    ["MAIL FROM:<sender@example.org>", "RCPT TO:<jösé@localhost>"],
])
def test_utf8_address_without_smtputf8(ringmx, cmds):
    with ringmx.session() as c:
        for line in cmds[:-1]:
            c.ok(line)
        c.ok(cmds[-1], 553, "5.6.7")
        c.ok("NOOP")


def test_dsn_params_accepted(ringmx):
    with ringmx.session() as c:
        c.ok("MAIL FROM:<sender@example.org> RET=HDRS ENVID=QQ314159+2B1")
        c.ok("RCPT TO:<alice@localhost> NOTIFY=SUCCESS,FAILURE,DELAY "
             "ORCPT=rfc822;alice@localhost", 250, "2.1.5")
        c.ok("RCPT TO:<bob@localhost> NOTIFY=NEVER", 250, "2.1.5")
        c.ok("DATA", 354)
        c.send(dot_stuff(make_msg()))
        c.expect(250, "2.0.0")
        c.ok("MAIL FROM:<sender@example.org> RET=FULL")
    ringmx.wait_mail("alice")
    ringmx.wait_mail("bob")


@pytest.mark.parametrize("cmd,line", [
    ("MAIL", "MAIL FROM:<sender@example.org> RET=SOME"),
    ("MAIL", "MAIL FROM:<sender@example.org> RET="),
    ("MAIL", "MAIL FROM:<sender@example.org> ENVID=bad+zz"),
    ("MAIL", "MAIL FROM:<sender@example.org> ENVID=" + "x" * 101),
    ("RCPT", "RCPT TO:<alice@localhost> NOTIFY=NEVER,SUCCESS"),
    ("RCPT", "RCPT TO:<alice@localhost> NOTIFY=SOMETIMES"),
    ("RCPT", "RCPT TO:<alice@localhost> NOTIFY="),
    ("RCPT", "RCPT TO:<alice@localhost> ORCPT=no-semicolon"),
    ("RCPT", "RCPT TO:<alice@localhost> ORCPT=rfc822;bad+zzxtext"),
])
def test_dsn_bad_params(ringmx, cmd, line):
    with ringmx.session() as c:
        if cmd == "RCPT":
            c.ok("MAIL FROM:<sender@example.org>")
        c.ok(line, 501, "5.5.4")
        c.ok("NOOP")


def test_unknown_mail_param(ringmx):
    with ringmx.session() as c:
        r = c.cmd("MAIL FROM:<sender@example.org> FROBNICATE=1")
        assert r.code == 555 and r.enh == "5.5.4", r
