"""Delivery by MX through the worker's libunbound resolver, with answers
served by libunbound's own local data (an unbound_conf file: no network):
MX preference with fallback to the next MX, implicit MX (A only), null MX
bounced with 556 5.1.10, NXDOMAIN bounced with 5.1.2, loopback MX hosts
refused unless outbound.allow_loopback. Peers listen on port 25 of
127.0.0.x addresses (the tests run as root, as CI does)."""

import pytest

from conftest import make_msg, wait_for
from peers import Peer, Recorder
from test_bounce import report

ZONE = """server:
    local-zone: "mx.example." static
    local-data: "pref.mx.example. 300 IN MX 10 mx1.mx.example."
    local-data: "pref.mx.example. 300 IN MX 20 mx2.mx.example."
    local-data: "mx1.mx.example. 300 IN A 127.0.0.31"
    local-data: "mx2.mx.example. 300 IN A 127.0.0.32"
    local-data: "plain.mx.example. 300 IN A 127.0.0.33"
    local-data: "null.mx.example. 300 IN MX 0 ."
    local-data: "relay.mx.example. 300 IN A 127.0.0.34"
    local-data: "relay.mx.example. 300 IN MX 10 mx1.mx.example."
"""


@pytest.fixture
def mxd(make_ringmx, tmp_path):
    conf = tmp_path / "unbound.conf"
    conf.write_text(ZONE)

    def make(**kw):
        cfg = dict(relay_networks=["127.0.0.0/8"],
                   outbound={"allow_loopback": True},
                   queue={"retry_initial": 1, "retry_max": 2},
                   dns={"mode": "resolvconf", "unbound_conf": str(conf)})
        cfg.update(kw)
        return make_ringmx(**cfg)
    return make


@pytest.fixture
def peers():
    started = []

    def start(host):
        h = Recorder()
        p = Peer(h, host, 25)
        p.start()
        started.append(p)
        return h
    yield start
    for p in started:
        p.stop()


def send(d, rcpt, subject="mx"):
    with d.session() as c:
        c.ok("MAIL FROM:<alice@localhost>")
        c.ok(f"RCPT TO:<{rcpt}>")
        c.ok("DATA", 354)
        c.send(make_msg(subject=subject) + b".\r\n")
        c.expect(250)


def test_mx_preference_and_fallback(mxd, peers):
    h1 = peers("127.0.0.31")
    d = mxd()
    send(d, "bob@pref.mx.example", "to mx1")
    wait_for(lambda: h1.messages, 15, "delivered to the preferred MX")
    # mx1 gone: the next message falls back to mx2
    d2 = mxd()
    h2 = peers("127.0.0.32")
    send(d2, "carl@pref.mx.example", "to mx2")
    wait_for(lambda: len(h1.messages) + len(h2.messages) == 2, 15,
             "second delivered")


def test_fallback_when_first_mx_refuses(mxd, peers):
    h2 = peers("127.0.0.32")  # nobody on 127.0.0.31:25
    d = mxd()
    send(d, "bob@pref.mx.example")
    wait_for(lambda: h2.messages, 15, "delivered to the second MX")
    assert any(e.get("host") == "mx1.mx.example"
               for e in d.events("connect_failed"))


def test_implicit_mx(mxd, peers):
    h = peers("127.0.0.33")
    d = mxd()
    send(d, "bob@plain.mx.example")
    wait_for(lambda: h.messages, 15, "delivered to the A record")


def test_null_mx_bounces(mxd):
    d = mxd()
    send(d, "bob@null.mx.example")
    raw = d.wait_mail("alice", timeout=15)[0][1]
    (r,) = report(raw)["recipients"]
    assert r["Status"] == "5.1.10"
    assert r["Action"].lower() == "failed"


def test_nxdomain_bounces(mxd):
    d = mxd()
    send(d, "bob@nonexistent.mx.example")
    raw = d.wait_mail("alice", timeout=15)[0][1]
    (r,) = report(raw)["recipients"]
    assert r["Status"] == "5.1.2"


def test_loopback_mx_refused_by_default(mxd, peers):
    h = peers("127.0.0.33")
    d = mxd(outbound={"allow_loopback": False})
    send(d, "bob@plain.mx.example")
    wait_for(lambda: d.events("deferred") or d.events("bounced"), 15,
             "not delivered")
    assert h.messages == []
    # all its addresses are loopback: "loops back to myself" (5.4.6)
    raw = d.wait_mail("alice", timeout=15)[0][1]
    (r,) = report(raw)["recipients"]
    assert r["Status"].startswith("5.4."), r


def test_smarthost_by_name_uses_its_address_not_its_mx(mxd, tmp_path):
    """smtp:[relay.mx.example]:PORT connects to relay.mx.example's A record
    (its MX record is ignored, as with Postfix's [host])."""
    from conftest import REPO, free_port
    port = free_port()
    h = Recorder()
    p = Peer(h, "127.0.0.34", port)
    p.start()
    try:
        table = tmp_path / "routes"
        table.write_text(f"far.example smtp:[relay.mx.example]:{port}\n")
        d = mxd(plugins=({"name": "route_table",
                          "path": str(REPO / "build/asan/plugins/"
                                      "route_table.so"),
                          "table": str(table)},))
        send(d, "bob@far.example")
        wait_for(lambda: h.messages, 15, "delivered via the smarthost")
    finally:
        p.stop()
