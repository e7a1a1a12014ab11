"""CHUNKING / BDAT (RFC 3030)."""

from conftest import QID_RE, contains, make_msg


def bdat(chunk, last=False):
    return b"BDAT %d%s\r\n" % (len(chunk), b" LAST" if last else b"") + chunk


def start(c, rcpt="alice@localhost"):
    c.ok("MAIL FROM:<sender@example.org>")
    c.ok(f"RCPT TO:<{rcpt}>")


def test_bdat_chunks(ringmx):
    msg = make_msg(body=b"line one\r\n.\r\n..two dots stay\r\nend\r\n")
    parts = [msg[:10], msg[10:77], msg[77:]]
    with ringmx.session() as c:
        start(c)
        for p in parts[:-1]:
            c.send(bdat(p))
            c.expect(250)
        c.send(bdat(parts[-1], last=True))
        r = c.expect(250, "2.0.0")
        qid = QID_RE.search(r.text).group(1)
        c.ok("NOOP")
    raw = ringmx.wait_mail("alice")[0][1]
    assert contains(raw, msg)  # no dot handling in BDAT
    assert qid in raw.decode(errors="replace")


def test_bdat_pipelined_one_write(ringmx):
    msg = make_msg(subject="chunks in one write")
    with ringmx.session() as c:
        c.send(b"MAIL FROM:<sender@example.org>\r\nRCPT TO:<alice@localhost>"
               b"\r\n" + bdat(msg[:50]) + bdat(msg[50:]) + bdat(b"", True)
               + b"QUIT\r\n")
        assert [r.code for r in c.replies(6)] == [250] * 5 + [221]
    assert contains(ringmx.wait_mail("alice")[0][1], msg)


def test_bdat_zero_last(ringmx):
    msg = make_msg(subject="zero last")
    with ringmx.session() as c:
        start(c)
        c.send(bdat(msg))
        c.expect(250)
        c.send(b"BDAT 0 LAST\r\n")
        c.expect(250, "2.0.0")
    assert contains(ringmx.wait_mail("alice")[0][1], msg)


def test_bdat_crlf_split_across_chunks(ringmx):
    msg = make_msg(body=b"first\r\nsecond\r\n")
    i = msg.index(b"first\r\n") + len(b"first\r")
    with ringmx.session() as c:
        start(c)
        c.send(bdat(msg[:i]))     # ends with CR
        c.expect(250)
        c.send(bdat(msg[i:], last=True))  # starts with LF
        c.expect(250, "2.0.0")
    assert contains(ringmx.wait_mail("alice")[0][1], b"first\r\nsecond\r\n")


def test_bdat_bare_lf(ringmx):
    with ringmx.session() as c:
        start(c)
        c.send(bdat(make_msg(body=b"a\nb\r\n"), last=True) + b"NOOP\r\n")
        c.expect(550, "5.5.2")
        assert c.read_to_eof() == b""


def test_bdat_cr_pending_after_last(ringmx):
    with ringmx.session() as c:
        start(c)
        c.send(bdat(make_msg(body=b"end\r"), last=True) + b"\nNOOP\r\n")
        c.expect(550, "5.5.2")
        assert c.read_to_eof() == b""


def test_data_after_bdat(ringmx):
    with ringmx.session() as c:
        start(c)
        c.send(bdat(b"Subject: x\r\n"))
        c.expect(250)
        c.ok("DATA", 503, "5.5.1")
        c.send(bdat(b"\r\nbody\r\n", last=True))
        c.expect(250, "2.0.0")
    ringmx.wait_mail("alice")


def test_bdat_without_mail_consumes_chunk(ringmx):
    """The chunk of a refused BDAT is still read as data: a QUIT inside it
    is not executed."""
    with ringmx.session() as c:
        c.send(bdat(b"QUIT\r\n"))
        c.expect(503, "5.5.1")
        c.ok("NOOP")
        c.send(bdat(b"QUIT\r\nRSET\r\n", last=True))
        c.expect(503, "5.5.1")
        c.ok("NOOP")
        c.transaction()


def test_bdat_without_rcpt_consumes_chunk(ringmx):
    with ringmx.session() as c:
        c.ok("MAIL FROM:<sender@example.org>")
        c.send(bdat(b"QUIT\r\nRSET\r\n", last=True))
        r = c.reply()  # the code itself: test_data_before_rcpt
        assert r.code in (503, 554) and r.enh == "5.5.1", r
        c.ok("NOOP")


def test_bdat_too_big(make_ringmx):
    d = make_ringmx(limits={"message_max": 10000})
    with d.session() as c:
        start(c, "bob@localhost")
        chunk = (b"x" * 70 + b"\r\n") * 100
        c.send(bdat(make_msg()) + bdat(chunk) + bdat(chunk) + bdat(b"", True))
        rs = c.replies(4)
        # refused at the chunk that overflows or once at LAST; never queued
        assert any(r.code == 552 and r.enh == "5.3.4" for r in rs), rs
        assert not any(QID_RE.search(r.text) for r in rs), rs
        c.ok("NOOP")
        c.transaction()
    d.wait_mail("alice")
    assert d.mailbox("bob") == []

