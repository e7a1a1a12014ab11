"""Local delivery into Maildir, queue ids, hold, log events."""

import email.utils
import subprocess

from conftest import (QID_RE, body_of, contains, header_lines, lf, make_msg,
                      message_id, wait_for)


def check_delivered(raw, sender, rcpt, qid):
    h = header_lines(raw)
    assert h[0] == f"Return-Path: <{sender}>", h[:3]
    assert h[1].lower() in (f"delivered-to: {rcpt}".lower(),
                            f"delivered-to: <{rcpt}>".lower()), h[:3]
    assert h[2].startswith("Received:"), h[:3]
    assert qid in h[2], f"queue id {qid} not in {h[2]!r}"


def test_swaks_delivery(ringmx):
    msgid = email.utils.make_msgid(domain="swaks.test")
    p = subprocess.run(
        ["swaks", "--server", ringmx.host, "--port", str(ringmx.port),
         "--from", "sender@example.org", "--to", "alice@localhost",
         "--helo", "client.test", "--header", f"Message-Id: {msgid}",
         "--body", "Hello from swaks.", "--timeout", "20"],
        capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    qid = QID_RE.search(p.stdout).group(1)
    raw = ringmx.wait_mail("alice")[0][1]
    check_delivered(raw, "sender@example.org", "alice@localhost", qid)
    assert message_id(raw) == msgid
    assert b"Hello from swaks." in raw


def test_smtplib_delivery_two_recipients(ringmx):
    msg = make_msg(subject="two rcpts", body="Body text.\r\n")
    qid = ringmx.send(msg, rcpts=["alice@localhost", "Bob@Example.Test"])
    a = ringmx.wait_mail("alice")
    b = ringmx.wait_mail("bob")  # mailbox names are lower-cased
    assert len(a) == 1 and len(b) == 1
    check_delivered(a[0][1], "sender@example.org", "alice@localhost", qid)
    check_delivered(b[0][1], "sender@example.org", "Bob@Example.Test", qid)
    for _, raw in a + b:
        assert lf(body_of(raw)) == b"Body text.\n"
        assert contains(raw, msg)


def test_received_header(ringmx):
    qid = ringmx.send()
    rec = header_lines(ringmx.wait_mail("alice")[0][1])[2]
    assert "mx.test.example" in rec and "client.test" in rec, rec
    assert "127.0.0.1" in rec and qid in rec, rec


def test_queue_ids_unique(ringmx):
    ids = set()
    with ringmx.session() as c:
        for _ in range(20):
            ids.add(c.transaction())
    assert len(ids) == 20
    msgs = ringmx.wait_mail("alice", 20)
    assert len(msgs) == 20 and len({p.name for p, _ in msgs}) == 20


def test_dot_unstuffing(ringmx):
    body = b".leading dot\r\n..two dots\r\n.\tdot tab\r\nend\r\n"
    with ringmx.session() as c:
        c.transaction(msg=make_msg(body=body))
    assert lf(body_of(ringmx.wait_mail("alice")[0][1])) == lf(body)


def test_maildir_layout(ringmx):
    ringmx.send()
    path, _ = ringmx.wait_mail("alice")[0]
    assert path.parent.name == "new"
    box = path.parent.parent
    assert {p.name for p in box.iterdir()} >= {"tmp", "new", "cur"}
    assert list((box / "tmp").iterdir()) == [], "temp file left behind"
    assert ":" not in path.name and not path.name.startswith(".")


def test_log_events(ringmx):
    qid = ringmx.send(rcpts=["alice@localhost", "bob@localhost"])
    ringmx.wait_mail("alice")
    ringmx.wait_mail("bob")
    assert ringmx.events("ready"), "no event=ready"
    assert [e for e in ringmx.events("queued") if e.get("id") == qid]
    done = wait_for(lambda: {e.get("rcpt", "").strip("<>")
                             for e in ringmx.events("delivered")
                             if e.get("id") == qid} >= {"alice@localhost",
                                                        "bob@localhost"},
                    10, "event=delivered for both recipients")
    assert done
    for line in ringmx.log().splitlines():
        if "event=" in line:
            assert line.startswith("ts=") and " level=" in line, line


def test_reject_logged(ringmx):
    with ringmx.session() as c:
        c.ok("MAIL FROM:<sender@example.org>")
        c.ok("RCPT TO:<x@elsewhere.test>", 550)
    wait_for(lambda: ringmx.events("reject"), 5, "event=reject")


def test_hold_then_release(make_ringmx):
    d = make_ringmx(hold=True)
    msg = make_msg(subject="held")
    qid = d.send(msg)
    assert d.queued() == 1
    assert d.stop() == 0
    assert d.mailbox("alice") == [], "delivered despite hold = true"
    assert not d.events("delivered")
    assert d.queued() == 1
    d.cfg["hold"] = False
    d.start()
    raw = d.wait_mail("alice")[0][1]
    assert contains(raw, msg) and qid in raw.decode(errors="replace")
    wait_for(lambda: d.queued() == 0, 10, "queue empty after delivery")


def test_pid_file(ringmx):
    pidfile = ringmx.state_dir / "ringmx.pid"
    assert int(pidfile.read_text().strip()) == ringmx.pid


def test_failed_delivery_stays_queued_and_is_retried(make_ringmx):
    """A mailbox that cannot be written (here: a file where bob's Maildir
    directory should be) defers the message; it stays in the queue, and
    the retry after queue.retry_initial delivers it once the problem is
    gone."""
    d = make_ringmx(start=False, queue={"retry_initial": 1, "retry_max": 2})
    d.maildir_root.mkdir(parents=True)
    (d.maildir_root / "bob").write_text("not a directory\n")
    d.start()
    msg = make_msg(subject="retry me")
    d.send(msg, rcpts=("bob@localhost",))
    wait_for(lambda: d.events("deferred"), 10, "deferred logged")
    assert d.queued() == 1
    (d.maildir_root / "bob").unlink()
    raw = d.wait_mail("bob", timeout=15)[0][1]
    assert contains(raw, msg)
    wait_for(lambda: d.queued() == 0, 10, "queue empty after the retry")
    assert len(d.mailbox("bob")) == 1


def test_restart_with_fewer_workers_adopts_shards(make_ringmx):
    """Mail queued by 3 workers (3 shards) is all delivered after a
    restart with 1 worker: no shard is orphaned."""
    d = make_ringmx(workers=3, hold=True)
    sent = [d.send(make_msg(subject=f"m{i}")) for i in range(30)]
    assert d.stop() == 0
    shards = [p.name for p in d.queue_files()]
    assert len(shards) == 3, shards
    assert d.queued() == 30
    d.cfg.update(workers=1, hold=False)
    d.start()
    wait_for(lambda: len(d.mailbox("alice")) == 30, 20, "30 delivered")
    wait_for(lambda: d.queued() == 0, 10, "every shard drained")
    adopted = {e.get("shard") for e in d.events("shard_adopted")}
    assert adopted == {"1", "2"}, adopted
    assert len(set(sent)) == 30
