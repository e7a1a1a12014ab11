"""Outbound delivery to real peers on loopback (aiosmtpd): a smarthost
route, dot-stuffing on the wire, per-recipient results, 5xx bounces with
Remote-MTA and Diagnostic-Code, 4xx retried, LMTP per-recipient replies,
connection reuse, the per-destination concurrency limit seen at the peer,
and loopback refused unless outbound.allow_loopback."""

import pytest

from conftest import free_port, make_msg, wait_for
from peers import Peer, Recorder
from test_bounce import report

SO = __import__("conftest").REPO / "build/asan/plugins/route_table.so"


@pytest.fixture
def peer():
    started = []

    def make(handler=None, host="127.0.0.2", lmtp=False):
        h = handler or Recorder()
        p = Peer(h, host, free_port(), lmtp=lmtp)
        p.start()
        started.append(p)
        return p, h

    yield make
    for p in started:
        p.stop()


def relay(make_ringmx, tmp_path, routes, **kw):
    table = tmp_path / "routes"
    table.write_text("".join(f"{k} {v}\n" for k, v in routes.items()))
    cfg = dict(relay_networks=["127.0.0.0/8"],
               outbound={"allow_loopback": True},
               queue={"retry_initial": 1, "retry_max": 2},
               plugins=({"name": "route_table", "path": str(SO),
                         "table": str(table)},))
    cfg.update(kw)
    return make_ringmx(**cfg)


def send(d, sender, rcpts, body):
    with d.session() as c:
        c.ok(f"MAIL FROM:<{sender}>")
        for r in rcpts:
            c.cmd(f"RCPT TO:<{r}>")
        c.ok("DATA", 354)
        c.send(body.replace(b"\r\n.", b"\r\n..") + b".\r\n")
        return c.expect(250)


def test_smarthost_delivery_and_dot_stuffing(make_ringmx, tmp_path, peer):
    p, h = peer()
    d = relay(make_ringmx, tmp_path,
              {"remote.example": f"smtp:[127.0.0.2]:{p.port}"})
    body = make_msg(subject="out", body="line\r\n.leading dot\r\n..two\r\n")
    send(d, "alice@localhost", ["bob@remote.example", "carl@remote.example"],
         body)
    wait_for(lambda: h.messages, 15, "peer got the message")
    env = h.messages[0]
    assert env.mail_from == "alice@localhost"
    assert sorted(env.rcpt_tos) == ["bob@remote.example",
                                    "carl@remote.example"]
    content = env.original_content
    assert b"\r\n.leading dot\r\n..two\r\n" in content
    assert b"Received: from" in content
    wait_for(lambda: d.queued() == 0, 10, "removed after delivery")


def test_5xx_bounces_with_remote_details(make_ringmx, tmp_path, peer):
    h = Recorder(rcpt_reply=lambda a: "550 5.1.1 no such user here"
                 if a.startswith("nobody") else None)
    p, _ = peer(h)
    d = relay(make_ringmx, tmp_path,
              {"remote.example": f"smtp:[127.0.0.2]:{p.port}"})
    send(d, "alice@localhost", ["nobody@remote.example",
                                "bob@remote.example"],
         make_msg(subject="partly"))
    wait_for(lambda: h.messages, 15, "bob's copy delivered")
    raw = d.wait_mail("alice", timeout=15)[0][1]
    rep = report(raw)
    (r,) = rep["recipients"]
    assert r["Final-Recipient"].endswith("nobody@remote.example")
    assert r["Action"].lower() == "failed"
    assert r["Status"] == "5.1.1"
    assert "no such user here" in r["Diagnostic-Code"]
    assert "127.0.0.2" in r.get("Remote-MTA", "")
    wait_for(lambda: d.queued() == 0, 10, "original and report removed")


def test_4xx_then_success(make_ringmx, tmp_path, peer):
    tries = []

    def data_reply(env):
        tries.append(1)
        return "451 4.3.0 try again later" if len(tries) == 1 else None

    h = Recorder(data_reply=data_reply)
    p, _ = peer(h)
    d = relay(make_ringmx, tmp_path,
              {"remote.example": f"smtp:[127.0.0.2]:{p.port}"})
    send(d, "alice@localhost", ["bob@remote.example"], make_msg())
    wait_for(lambda: h.messages, 20, "delivered on the retry")
    assert len(tries) == 2
    assert d.events("deferred")
    wait_for(lambda: d.queued() == 0, 10, "removed")
    assert d.mailbox("alice") == []  # no bounce


def test_lmtp_per_recipient_results(make_ringmx, tmp_path, peer):
    h = Recorder(rcpt_reply=lambda a: "550 5.1.1 unknown mailbox"
                 if a.startswith("gone") else None, lmtp=True)
    p, _ = peer(h, lmtp=True)
    d = relay(make_ringmx, tmp_path,
              {"mbox.example": f"lmtp:[127.0.0.2]:{p.port}"})
    send(d, "alice@localhost", ["u1@mbox.example", "gone@mbox.example",
                                "u2@mbox.example"], make_msg())
    wait_for(lambda: h.messages, 15, "LMTP delivery")
    assert sorted(h.messages[0].rcpt_tos) == ["u1@mbox.example",
                                              "u2@mbox.example"]
    raw = d.wait_mail("alice", timeout=15)[0][1]
    (r,) = report(raw)["recipients"]
    assert r["Final-Recipient"].endswith("gone@mbox.example")


def test_connection_reuse_and_concurrency_limit(make_ringmx, tmp_path, peer):
    h = Recorder(delay=0.3)
    p, _ = peer(h)
    d = relay(make_ringmx, tmp_path,
              {"remote.example": f"smtp:[127.0.0.2]:{p.port}"},
              workers=2,
              outbound={"allow_loopback": True, "dest_connections": 2})
    for i in range(12):
        send(d, "alice@localhost", [f"r{i}@remote.example"],
             make_msg(subject=f"m{i}"))
    wait_for(lambda: len(h.messages) == 12, 30, "all 12 delivered")
    assert h.max_active <= 2, h.max_active
    assert h.sessions < 12, h.sessions  # connections were reused


def test_loopback_refused_by_default(make_ringmx, tmp_path, peer):
    p, h = peer()
    d = relay(make_ringmx, tmp_path,
              {"remote.example": f"smtp:[127.0.0.2]:{p.port}"},
              outbound={"allow_loopback": False})
    send(d, "alice@localhost", ["bob@remote.example"], make_msg())
    wait_for(lambda: any("loopback" in e.get("reason", "")
                         for e in d.events("deferred")), 15,
             "refused to connect to loopback")
    assert h.messages == []
    assert d.queued() == 1


def test_destination_rate_limit(make_ringmx, tmp_path, peer):
    """outbound.dest_rate = 3: at most 3 messages per minute start to the
    destination, whatever the number of workers; the rest wait queued."""
    import time
    p, h = peer()
    d = relay(make_ringmx, tmp_path,
              {"remote.example": f"smtp:[127.0.0.2]:{p.port}"},
              workers=2,
              outbound={"allow_loopback": True, "dest_rate": 3})
    for i in range(6):
        send(d, "alice@localhost", [f"r{i}@remote.example"],
             make_msg(subject=f"rate {i}"))
    wait_for(lambda: len(h.messages) >= 3, 15, "the first 3 delivered")
    time.sleep(3)
    assert len(h.messages) == 3, len(h.messages)
    assert d.queued() == 3


def test_restart_in_the_middle_of_the_schedule(make_ringmx, tmp_path, peer):
    """A message deferred by a 4xx stays queued across a restart and is
    delivered by the next attempt after it."""
    tries = []
    h = Recorder(data_reply=lambda env: (tries.append(1) or
                 "451 4.3.0 not now") if len(tries) < 1 else None)
    p, _ = peer(h)
    d = relay(make_ringmx, tmp_path,
              {"remote.example": f"smtp:[127.0.0.2]:{p.port}"},
              queue={"retry_initial": 3, "retry_max": 3})
    send(d, "alice@localhost", ["bob@remote.example"], make_msg())
    wait_for(lambda: d.events("deferred"), 15, "first attempt deferred")
    assert d.stop() == 0
    assert d.queued() == 1
    d.start()
    wait_for(lambda: h.messages, 20, "delivered after the restart")
    wait_for(lambda: d.queued() == 0, 10, "removed")


def test_success_notice_relayed(make_ringmx, tmp_path, peer):
    """NOTIFY=SUCCESS to a next hop without DSN: a 'relayed' notice."""
    p, h = peer()
    d = relay(make_ringmx, tmp_path,
              {"remote.example": f"smtp:[127.0.0.2]:{p.port}"})
    with d.session() as c:
        c.ok("MAIL FROM:<alice@localhost>")
        c.ok("RCPT TO:<bob@remote.example> NOTIFY=SUCCESS")
        c.ok("DATA", 354)
        c.send(make_msg(subject="tell me") + b".\r\n")
        c.expect(250)
    wait_for(lambda: h.messages, 15, "delivered")
    raw = d.wait_mail("alice", timeout=15)[0][1]
    (r,) = report(raw)["recipients"]
    assert r["Action"].lower() == "relayed", r
    assert r["Status"].startswith("2."), r


def test_421_throttles_the_destination(make_ringmx, tmp_path, peer):
    """After a 421 (or 4.7.x) the destination gets one connection at a
    time from the worker for a while; the refused message is retried."""
    said = []

    def rcpt_reply(addr):
        if not said:
            said.append(1)
            return "421 4.7.0 slow down"
        return None

    h = Recorder(rcpt_reply=rcpt_reply, delay=0.2)
    p, _ = peer(h)
    d = relay(make_ringmx, tmp_path,
              {"remote.example": f"smtp:[127.0.0.2]:{p.port}"},
              workers=1,
              outbound={"allow_loopback": True, "dest_connections": 5})
    send(d, "alice@localhost", ["first@remote.example"], make_msg())
    wait_for(lambda: d.events("throttled"), 15, "throttled after 421")
    wait_for(lambda: h.active == 0, 10, "peer idle")
    h.max_active = 0
    for i in range(8):
        send(d, "alice@localhost", [f"r{i}@remote.example"],
             make_msg(subject=f"t{i}"))
    wait_for(lambda: len(h.messages) >= 9, 30, "all delivered")
    assert h.max_active <= 1, h.max_active


def test_opportunistic_starttls(make_ringmx, tmp_path):
    """A peer that offers STARTTLS gets the message over TLS (no
    certificate check: opportunistic, RFC 3207 "may")."""
    import ssl
    import subprocess
    from conftest import free_port
    key, crt = tmp_path / "k.pem", tmp_path / "c.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(key), "-out", str(crt), "-days", "2",
                    "-subj", "/CN=peer.test"], check=True,
                   capture_output=True)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(crt), str(key))
    h = Recorder()
    p = Peer(h, "127.0.0.2", free_port(), tls_context=ctx)
    p.start()
    try:
        d = relay(make_ringmx, tmp_path,
                  {"remote.example": f"smtp:[127.0.0.2]:{p.port}"})
        send(d, "alice@localhost", ["bob@remote.example"],
             make_msg(subject="over tls"))
        wait_for(lambda: h.messages, 15, "delivered")
        assert h.tls == [True]
        assert d.events("tls")
    finally:
        p.stop()


def test_postfix_smtp_sink_peer(make_ringmx, tmp_path):
    """Postfix's smtp-sink as the next hop receives every message."""
    import shutil
    import subprocess
    import time
    from conftest import free_port
    sink = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    port = free_port()
    out = open(tmp_path / "sink.out", "wb")
    proc = subprocess.Popen([sink, "-c", "-u", "postfix",
                             f"127.0.0.2:{port}", "100"], stdout=out,
                            stderr=subprocess.STDOUT)
    try:
        time.sleep(0.3)
        d = relay(make_ringmx, tmp_path,
                  {"remote.example": f"smtp:[127.0.0.2]:{port}"})
        for i in range(5):
            send(d, "alice@localhost", [f"r{i}@remote.example"],
                 make_msg(subject=f"sink {i}"))

        def count():
            data = (tmp_path / "sink.out").read_bytes().decode(errors="replace")
            got = [int(x) for x in __import__("re").findall(r"mesg=(\d+)",
                                                            data)]
            return max(got) if got else 0
        wait_for(lambda: count() >= 5, 20, "smtp-sink got 5 messages")
        wait_for(lambda: d.queued() == 0, 10, "all removed")
    finally:
        proc.terminate()
        proc.wait()
        out.close()


def test_lmtp_over_unix_socket(make_ringmx, tmp_path):
    from peers import UnixPeer
    sock = tmp_path / "lmtp.sock"
    h = Recorder(lmtp=True)
    p = UnixPeer(h, sock)
    p.start()
    try:
        d = relay(make_ringmx, tmp_path,
                  {"mbox.example": f"lmtp:unix:{sock}"})
        send(d, "alice@localhost", ["u1@mbox.example", "u2@mbox.example"],
             make_msg(subject="unix lmtp"))
        wait_for(lambda: h.messages, 15, "delivered over the Unix socket")
        assert sorted(h.messages[0].rcpt_tos) == ["u1@mbox.example",
                                                  "u2@mbox.example"]
        wait_for(lambda: d.queued() == 0, 10, "removed")
    finally:
        p.stop()
