"""Bounces (RFC 3464 reports) for mail that cannot be delivered: queue
lifetime expiry, the delay notice, NOTIFY=NEVER, and no report for the
null sender. Reports are parsed strictly (check_dsn.py)."""

import time

from check_dsn import parse_report
from conftest import body_of, make_msg, wait_for


def relay_daemon(make_ringmx, **queue):
    # remote recipients stay queued until outbound delivery exists, so
    # they expire after queue.lifetime
    q = {"retry_initial": 1, "retry_max": 1, "lifetime": 3,
         "delay_warning": 0}
    q.update(queue)
    return make_ringmx(relay_networks=["127.0.0.0/8"], queue=q)


def report(raw):
    """Parse a delivered report, without the lines local delivery adds."""
    lines = raw.split(b"\r\n")
    while lines and lines[0].split(b":")[0] in (b"Return-Path",
                                                 b"Delivered-To"):
        lines.pop(0)
    return parse_report(b"\r\n".join(lines))


def send(d, sender, rcpts, msg, rcpt_params=""):
    with d.session() as c:
        c.ok(f"MAIL FROM:<{sender}>")
        for r in rcpts:
            c.ok(f"RCPT TO:<{r}>{rcpt_params}")
        c.ok("DATA", 354)
        c.send(msg.replace(b"\r\n.", b"\r\n..") + b".\r\n")
        c.expect(250)


def test_lifetime_expiry_bounces(make_ringmx):
    d = relay_daemon(make_ringmx)
    msg = make_msg(subject="will expire")
    send(d, "alice@localhost", ["bob@remote.example", "carl@remote.example"],
         msg, " ORCPT=rfc822;bob@remote.example")
    raw = d.wait_mail("alice", timeout=20)[0][1]
    # the report went to the sender, from <>
    assert raw.startswith(b"Return-Path: <>\r\n")
    rep = report(raw)
    recips = {r["Final-Recipient"].split(";")[1].strip(): r
              for r in rep["recipients"]}
    assert set(recips) == {"bob@remote.example", "carl@remote.example"}
    for r in recips.values():
        assert r["Action"].lower() == "failed"
        assert r["Status"].startswith("5.4.7"), r
    assert "Reporting-MTA" in rep["per_message"]
    assert "Arrival-Date" in rep["per_message"]
    assert rep["headers"]["Auto-Submitted"] == "auto-replied"
    assert b"will expire" in rep["original"]
    wait_for(lambda: d.queued() == 0, 10, "original and report removed")


def test_notify_never_and_null_sender_get_no_report(make_ringmx):
    d = relay_daemon(make_ringmx)
    send(d, "alice@localhost", ["bob@remote.example"],
         make_msg(subject="never"), " NOTIFY=NEVER")
    send(d, "", ["bob@remote.example"], make_msg(subject="null"))
    wait_for(lambda: len(d.events("expired")) >= 2, 20, "both expired")
    wait_for(lambda: d.queued() == 0, 10, "queue empty")
    assert d.mailbox("alice") == []
    assert d.events("double_bounce")


def test_delay_notice_once(make_ringmx):
    d = relay_daemon(make_ringmx, lifetime=3600, delay_warning=1)
    send(d, "alice@localhost", ["bob@remote.example"],
         make_msg(subject="slow"), " NOTIFY=DELAY,FAILURE")
    raw = d.wait_mail("alice", timeout=20)[0][1]
    rep = report(raw)
    assert [r["Action"].lower() for r in rep["recipients"]] == ["delayed"]
    assert "Will-Retry-Until" in rep["recipients"][0]
    time.sleep(4)  # more attempts happen: still one notice
    assert len(d.mailbox("alice")) == 1
    assert d.queued() == 1
