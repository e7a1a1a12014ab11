"""The daemon with a real authoritative DNS server (NSD, signed zones on
loopback, dnsserver.py): a secure MX is delivered to, a BOGUS answer
defers (never delivered, never bounced), and 1,000 messages to one
domain cost at most one MX query per worker (libunbound's cache), counted at
the server."""

import pathlib

import pytest

from conftest import make_msg, wait_for
from dnsserver import DNSServer, Zone
from peers import Peer, Recorder


@pytest.fixture(scope="module")
def dns(tmp_path_factory):
    for tool in ("nsd", "ldns-keygen", "ldns-signzone"):
        if not any((pathlib.Path(d) / tool).exists()
                   for d in ("/usr/sbin", "/usr/bin")):
            pytest.fail(f"{tool} missing: tools/install-deps.sh --test")
    srv = DNSServer(tmp_path_factory.mktemp("dnsd"), {
        "test.": Zone("secure", [
            "good.test. MX 10 mx1.good.test.",
            "mx1.good.test. A 127.0.0.51",
            "many.test. MX 10 mx1.many.test.",
            "mx1.many.test. A 127.0.0.52",
        ]),
        "bogus.test.": Zone("bogus", [
            "bogus.test. MX 10 mx1.bogus.test.",
            "mx1.bogus.test. A 127.0.0.53",
        ]),
    })
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def peer():
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


def daemon(make_ringmx, dns, **kw):
    cfg = dict(relay_networks=["127.0.0.0/8"],
               outbound={"allow_loopback": True},
               queue={"retry_initial": 2, "retry_max": 2},
               dns={"mode": "recursive",
                    "trust_anchor": str(dns.trust_anchor),
                    "unbound_conf": str(dns.unbound_conf)})
    cfg.update(kw)
    return make_ringmx(**cfg)


def send(d, rcpt, subject="dnssec"):
    with d.session() as c:
        c.ok("MAIL FROM:<alice@localhost>")
        c.ok(f"RCPT TO:<{rcpt}>")
        c.ok("DATA", 354)
        c.send(make_msg(subject=subject) + b".\r\n")
        c.expect(250)


def test_secure_mx_delivered(make_ringmx, dns, peer):
    h = peer("127.0.0.51")
    d = daemon(make_ringmx, dns)
    send(d, "bob@good.test")
    wait_for(lambda: h.messages, 20, "delivered to the secure MX")


def test_bogus_answer_defers(make_ringmx, dns, peer):
    h = peer("127.0.0.53")
    d = daemon(make_ringmx, dns)
    send(d, "bob@bogus.test")
    wait_for(lambda: any("bogus" in e.get("reason", "").lower()
                         for e in d.events("deferred")), 30,
             "deferred because the answer is bogus")
    assert h.messages == []
    assert not d.events("bounced")
    assert d.mailbox("alice") == []
    assert d.queued() == 1


def test_mx_answer_cached_per_worker(make_ringmx, dns, peer):
    """1,000 messages to one domain: at most one MX query per worker
    (the answer's TTL is longer than the test)."""
    h = peer("127.0.0.52")
    d = daemon(make_ringmx, dns, workers=2)
    before = dns.count("many.test", "MX")
    with d.session() as c:  # one session, 1,000 transactions
        for i in range(1000):
            c.ok("MAIL FROM:<alice@localhost>")
            c.ok(f"RCPT TO:<u{i}@many.test>")
            c.ok("DATA", 354)
            c.send(make_msg(subject=f"m{i}") + b".\r\n")
            c.expect(250)
    wait_for(lambda: len(h.messages) == 1000, 60, "all 1,000 delivered")
    queries = dns.count("many.test", "MX") - before
    assert 1 <= queries <= 2, queries  # at most one per worker
