"""Outbound TLS policies and DANE (RFC 7672) end to end: the daemon
delivers by MX through real DNSSEC-signed zones (NSD on loopback,
dnsserver.py) to aiosmtpd peers on 127.0.0.161-183:25 that offer STARTTLS
with the certificates of tests/fixtures/dane/ (or do not offer it).

Every test asserts what the peer got (or that it got no MAIL at all) and
the reason in the log: the `tls=` of `delivered` (policy, dnssec,
tlsa=match(...)) or the enhanced code of `deferred`.

One DNS server for the module (zones below); each test has its own
domains, MX host names and peer addresses. Needs root (port 25)."""

import hashlib
import os
import pathlib
import ssl

import pytest

from conftest import REPO, make_msg, wait_for
from dnsserver import DNSServer, Zone
from peers import Peer, Recorder

FIX = REPO / "tests/fixtures/dane"


def sha256(path):
    return hashlib.sha256((FIX / path).read_bytes()).hexdigest()


EC_SPKI = sha256("ec.pub.der")    # key of leaf, leaf-it, selfsigned
RSA_SPKI = sha256("rsa.pub.der")  # key of expired (and the root)
ROOT_CERT = sha256("root.der")    # the test CA (DANE-TA 2 0 1)


def tlsa(host, rdata):
    return f"_25._tcp.{host}. TLSA {rdata}"


ZONES = {
    "test.": Zone("secure", [
        # 1. DANE-EE 3 1 1: a CA-issued leaf, an expired one, a self-signed
        "ee.test. MX 10 mx1.ee.test.",
        "mx1.ee.test. A 127.0.0.161",
        tlsa("mx1.ee.test", f"3 1 1 {EC_SPKI}"),
        "eeexp.test. MX 10 mx1.eeexp.test.",
        "mx1.eeexp.test. A 127.0.0.162",
        tlsa("mx1.eeexp.test", f"3 1 1 {RSA_SPKI}"),
        "eess.test. MX 10 mx1.eess.test.",
        "mx1.eess.test. A 127.0.0.163",
        tlsa("mx1.eess.test", f"3 1 1 {EC_SPKI}"),
        # 2. a TLSA record that does not match the peer's key
        "nomatch.test. MX 10 mx1.nomatch.test.",
        "mx1.nomatch.test. A 127.0.0.164",
        tlsa("mx1.nomatch.test", f"3 1 1 {RSA_SPKI}"),
        "nm2.test. MX 10 mx1.nomatch.test.",
        "nm2.test. MX 20 mx2.nm2.test.",
        "mx2.nm2.test. A 127.0.0.183",
        tlsa("mx2.nm2.test", f"3 1 1 {EC_SPKI}"),
        # 3. DANE-TA 2 0 1 of the root: right name, wrong name
        "ta.test. MX 10 mx1.ta.test.",
        "mx1.ta.test. A 127.0.0.165",
        tlsa("mx1.ta.test", f"2 0 1 {ROOT_CERT}"),
        "tawrong.test. MX 10 mx1.tawrong.test.",
        "mx1.tawrong.test. A 127.0.0.166",
        tlsa("mx1.tawrong.test", f"2 0 1 {ROOT_CERT}"),
        # 4. only PKIX-TA/PKIX-EE records: TLS required, not authenticated
        "pkix.test. MX 10 mx1.pkix.test.",
        "mx1.pkix.test. A 127.0.0.167",
        tlsa("mx1.pkix.test", f"1 1 1 {RSA_SPKI}"),
        tlsa("mx1.pkix.test", f"0 0 1 {ROOT_CERT}"),
        "pkixnotls.test. MX 10 mx1.pkixnotls.test.",
        "mx1.pkixnotls.test. A 127.0.0.168",
        tlsa("mx1.pkixnotls.test", f"1 1 1 {EC_SPKI}"),
        # 5. mx1.bog.test's TLSA lives in a bogus child zone
        "bog.test. MX 10 mx1.bog.test.",
        "bog.test. MX 20 mx2.bog.test.",
        "bog1.test. MX 10 mx1.bog.test.",
        "mx1.bog.test. A 127.0.0.169",
        "mx2.bog.test. A 127.0.0.170",
        tlsa("mx2.bog.test", f"3 1 1 {EC_SPKI}"),
        # 7. a secure MX pointing into the insecure zone
        "secins.test. MX 10 mx2.ins.test.",
        # 8. CNAME'd MX hosts
        "cn.test. MX 10 mx1.cn.test.",
        "mx1.cn.test. CNAME real.cn.test.",
        "real.cn.test. A 127.0.0.173",
        tlsa("real.cn.test", f"3 1 1 {EC_SPKI}"),
        tlsa("mx1.cn.test", f"3 1 1 {RSA_SPKI}"),  # must not be used
        "cn2.test. MX 10 mx1.cn2.test.",
        "mx1.cn2.test. CNAME real.cn2.test.",
        "real.cn2.test. A 127.0.0.174",
        tlsa("mx1.cn2.test", f"3 1 1 {EC_SPKI}"),
        "cn3.test. MX 10 mx1.cn3.test.",
        "mx1.cn3.test. CNAME real.cn3.test.",
        "real.cn3.test. A 127.0.0.182",
        tlsa("mx1.cn3.test", f"3 1 1 {EC_SPKI}"),
        # 9. usable TLSA, no STARTTLS
        "notls.test. MX 10 mx1.notls.test.",
        "mx1.notls.test. A 127.0.0.175",
        tlsa("mx1.notls.test", f"3 1 1 {EC_SPKI}"),
        # 10. policies by configuration
        "none.test. MX 10 mx1.none.test.",
        "mx1.none.test. A 127.0.0.177",
        tlsa("mx1.none.test", f"3 1 1 {EC_SPKI}"),
        "vfy.test. MX 10 mx1.vfy.test.",
        "mx1.vfy.test. A 127.0.0.178",
        "vfyss.test. MX 10 mx1.vfyss.test.",
        "mx1.vfyss.test. A 127.0.0.179",
        "vfyname.test. MX 10 mx1.vfyname.test.",
        "mx1.vfyname.test. A 127.0.0.181",
        # a connection made without DANE is not reused under DANE
        "mix.test. MX 10 mx1.mix.test.",
        "mx1.mix.test. A 127.0.0.180",
        tlsa("mx1.mix.test", f"3 1 1 {RSA_SPKI}"),
    ]),
    "_tcp.mx1.bog.test.": Zone("bogus", [
        tlsa("mx1.bog.test", f"3 1 1 {EC_SPKI}"),
    ]),
    # 8. the TLSA RRset at a CNAME target is INSECURE (unsigned child)
    "_tcp.real.cn3.test.": Zone("insecure", [
        tlsa("real.cn3.test", f"3 1 1 {RSA_SPKI}"),
    ]),
    # 6., 7., 10.: no DS in test.: everything here is INSECURE
    "ins.test.": Zone("insecure", [
        "ins.test. MX 10 mx1.ins.test.",
        "mx1.ins.test. A 127.0.0.171",
        tlsa("mx1.ins.test", f"3 1 1 {RSA_SPKI}"),
        "mx2.ins.test. A 127.0.0.172",
        tlsa("mx2.ins.test", f"3 1 1 {RSA_SPKI}"),
        "enc.ins.test. MX 10 mx3.ins.test.",
        "mx3.ins.test. A 127.0.0.176",
        "mix.ins.test. MX 10 mx1.mix.test.",
    ]),
}


@pytest.fixture(scope="module")
def dns(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("peers listen on port 25: run as root")
    for tool in ("nsd", "ldns-keygen", "ldns-signzone"):
        if not any((pathlib.Path(d) / tool).exists()
                   for d in ("/usr/sbin", "/usr/bin")):
            pytest.fail(f"{tool} missing: tools/install-deps.sh --test")
    srv = DNSServer(tmp_path_factory.mktemp("danedns"), ZONES)
    srv.start()
    yield srv
    srv.stop()


class MailRecorder(Recorder):
    """Recorder that also notes every MAIL command (and whether it came
    over TLS), so a test can say the peer never saw a transaction."""

    def __init__(self):
        super().__init__()
        self.mails = []

    async def handle_MAIL(self, server, session, envelope, address,
                          mail_options):
        with self.lock:
            self.mails.append((address, session.ssl is not None))
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"


def tls_ctx(tmp_path, certs, key):
    """A server context presenting certs (fixture names, leaf first)."""
    chain = tmp_path / ("chain-" + "-".join(certs) + ".pem")
    chain.write_text("".join((FIX / f"{c}.pem").read_text() for c in certs))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(chain), str(FIX / key))
    return ctx


@pytest.fixture
def peer(tmp_path):
    """peer(addr, certs=("leaf",), key="ec.key") -> MailRecorder on
    addr:25; certs=None: no STARTTLS."""
    started = []

    def start(addr, certs=("leaf",), key="ec.key"):
        h = MailRecorder()
        ctx = tls_ctx(tmp_path, certs, key) if certs else None
        p = Peer(h, addr, 25, tls_context=ctx)
        p.start()
        started.append(p)
        # Controller.start() probed the port with one connection (its
        # connection_made may run after start() returned)
        wait_for(lambda: h.sessions >= 1 and h.active == 0, 5,
                 "probe seen and closed")
        with h.lock:
            h.sessions = 0
        return h
    yield start
    for p in started:
        p.stop()


def daemon(make_ringmx, dns, outbound=None, **kw):
    ob = {"allow_loopback": True}
    ob.update(outbound or {})
    cfg = dict(relay_networks=["127.0.0.0/8"], outbound=ob,
               queue={"retry_initial": 2, "retry_max": 2},
               dns={"mode": "recursive", "timeout": 10,
                    "trust_anchor": str(dns.trust_anchor),
                    "unbound_conf": str(dns.unbound_conf)})
    cfg.update(kw)
    return make_ringmx(**cfg)


def send(d, rcpt, subject="dane"):
    with d.session() as c:
        c.ok("MAIL FROM:<alice@localhost>")
        c.ok(f"RCPT TO:<{rcpt}>")
        c.ok("DATA", 354)
        c.send(make_msg(subject=subject, to=rcpt) + b".\r\n")
        c.expect(250)


def delivered(d, rcpt, timeout=20):
    """The `delivered` event of rcpt (waits for it)."""
    def find():
        for e in d.events("delivered"):
            if e.get("rcpt") == f"<{rcpt}>":
                return e
        bad = [e for e in d.events("deferred") + d.events("bounced")
               if e.get("rcpt") == f"<{rcpt}>"]
        assert not bad, f"{rcpt} not delivered: {bad}"
        return None
    return wait_for(find, timeout, f"{rcpt} delivered")


def deferred(d, rcpt, timeout=20):
    """The first `deferred` event of rcpt (waits for it); never delivered."""
    def find():
        assert not [e for e in d.events("delivered")
                    if e.get("rcpt") == f"<{rcpt}>"], f"{rcpt} delivered"
        for e in d.events("deferred"):
            if e.get("rcpt") == f"<{rcpt}>":
                return e
        return None
    return wait_for(find, timeout, f"{rcpt} deferred")


def over_tls(h, n=1):
    wait_for(lambda: len(h.messages) >= n, 10, "message at the peer")
    return h.tls


# ----------------------------------------------------------------- cases

@pytest.mark.parametrize("domain,addr,certs,key", [
    ("ee.test", "127.0.0.161", ("leaf", "int"), "ec.key"),
    ("eeexp.test", "127.0.0.162", ("expired",), "rsa.key"),
    ("eess.test", "127.0.0.163", ("selfsigned",), "ec.key"),
], ids=["ca-leaf", "expired", "self-signed"])
def test_dane_ee_match_delivered(make_ringmx, dns, peer, domain, addr,
                                 certs, key):
    """1. DANE-EE 3 1 1 matching the peer's key: delivered over TLS, names
    and dates ignored."""
    h = peer(addr, certs, key)
    d = daemon(make_ringmx, dns)
    send(d, f"bob@{domain}")
    e = delivered(d, f"bob@{domain}")
    assert over_tls(h) == [True]
    assert "policy=dane" in e["tls"] and "dnssec=secure" in e["tls"], e
    assert "tlsa=match(3 1 1 depth 0)" in e["tls"], e
    assert "version=TLS" in e["tls"] and "tls=none" not in e["tls"], e


def test_dane_ee_mismatch_deferred(make_ringmx, dns, peer):
    """2. A TLSA 3 1 1 that does not match: 4.7.5, no plaintext, no
    MAIL at the peer."""
    h = peer("127.0.0.164")
    d = daemon(make_ringmx, dns)
    send(d, "bob@nomatch.test")
    e = deferred(d, "bob@nomatch.test")
    assert "4.7.5" in e["reason"], e
    assert "matches no TLSA" in e["reason"], e
    assert "policy=dane" in e.get("tls", ""), e
    assert [r for r in d.events("tls_refused")
            if r.get("host") == "mx1.nomatch.test"]
    assert h.sessions >= 1  # it was tried ...
    assert h.mails == [] and h.messages == []  # ... but got nothing
    # the retry (2 s later) refuses again: no plaintext fallback
    wait_for(lambda: len([x for x in d.events("deferred")
                          if x.get("rcpt") == "<bob@nomatch.test>"]) >= 2,
             15, "a second deferral")
    assert h.sessions >= 2 and h.mails == [] and h.messages == []
    assert not d.events("bounced") and not d.events("delivered")
    # with a second MX host that matches, the mail goes there
    h2 = peer("127.0.0.183")
    send(d, "carol@nm2.test")
    e = delivered(d, "carol@nm2.test")
    assert e["relay"] == "mx2.nm2.test", e
    assert "tlsa=match(3 1 1 depth 0)" in e["tls"], e
    assert over_tls(h2) == [True]
    assert h.mails == [] and h.messages == []


def test_dane_ta(make_ringmx, dns, peer):
    """3. DANE-TA 2 0 1 of the root, full chain sent: the leaf named for
    the MX host is delivered to; a leaf with another name is deferred."""
    good = peer("127.0.0.165", ("leaf-it", "int", "root"))
    bad = peer("127.0.0.166", ("leaf", "int", "root"))
    d = daemon(make_ringmx, dns)
    send(d, "bob@ta.test")
    send(d, "bob@tawrong.test")
    e = delivered(d, "bob@ta.test")
    assert over_tls(good) == [True]
    assert "policy=dane" in e["tls"], e
    assert "tlsa=match(2 0 1 depth 2)" in e["tls"], e
    e = deferred(d, "bob@tawrong.test")
    assert "4.7.5" in e["reason"] and "matches no TLSA" in e["reason"], e
    assert bad.mails == [] and bad.messages == []


def test_unusable_tlsa_means_encrypt(make_ringmx, dns, peer):
    """4. Only PKIX-TA/PKIX-EE records: TLS without authentication (any
    certificate); a peer without STARTTLS is deferred."""
    h = peer("127.0.0.167", ("selfsigned",))
    plain = peer("127.0.0.168", None)
    d = daemon(make_ringmx, dns)
    send(d, "bob@pkix.test")
    send(d, "bob@pkixnotls.test")
    e = delivered(d, "bob@pkix.test")
    assert over_tls(h) == [True]
    assert "policy=encrypt" in e["tls"] and "dnssec=secure" in e["tls"], e
    assert "only unusable TLSA" in e["tls"], e
    e = deferred(d, "bob@pkixnotls.test")
    assert "4.7.4" in e["reason"] and "STARTTLS" in e["reason"], e
    assert plain.mails == [] and plain.messages == []


def test_bogus_tlsa_skips_host(make_ringmx, dns, peer):
    """5. A bogus TLSA RRset: that MX host is skipped (never tried), the
    next one (secure, matching) gets the mail; with no other host the
    mail is deferred."""
    skipped = peer("127.0.0.169")
    second = peer("127.0.0.170")
    d = daemon(make_ringmx, dns)
    send(d, "bob@bog.test")
    e = delivered(d, "bob@bog.test")
    assert over_tls(second) == [True]
    assert "tlsa=match(3 1 1 depth 0)" in e["tls"], e
    assert e["relay"] == "mx2.bog.test", e
    send(d, "carol@bog1.test")
    e = deferred(d, "carol@bog1.test")
    assert "4.7.5" in e["reason"] and "bogus" in e["reason"], e
    assert "mx1.bog.test" in e["reason"], e
    assert skipped.sessions == 0 and skipped.mails == []
    assert not [x for x in d.events("tls") + d.events("tls_refused")
                if x.get("host") == "mx1.bog.test"]
    assert dns.count("_25._tcp.mx1.bog.test", "TLSA") >= 1


def test_insecure_zone_opportunistic(make_ringmx, dns, peer):
    """6. MX in an insecure zone: no TLSA lookup at all, opportunistic
    TLS (policy=may)."""
    h = peer("127.0.0.171")
    d = daemon(make_ringmx, dns)
    send(d, "bob@ins.test")
    e = delivered(d, "bob@ins.test")
    assert over_tls(h) == [True]
    assert "policy=may" in e["tls"] and "dnssec=insecure" in e["tls"], e
    assert "tlsa=" not in e["tls"], e
    assert dns.count("_25._tcp.mx1.ins.test", "TLSA") == 0


def test_secure_mx_insecure_host(make_ringmx, dns, peer):
    """7. A secure MX RRset naming a host in an insecure zone: no DANE,
    no TLSA query, opportunistic."""
    h = peer("127.0.0.172")
    d = daemon(make_ringmx, dns)
    send(d, "bob@secins.test")
    e = delivered(d, "bob@secins.test")
    assert over_tls(h) == [True]
    assert "policy=may" in e["tls"], e
    assert "address records not DNSSEC-secure" in e["tls"], e
    assert dns.count("_25._tcp.mx2.ins.test", "TLSA") == 0


def test_cname_mx_host(make_ringmx, dns, peer):
    """8. The MX host is a CNAME: the TLSA records at the target are used
    (those at the MX name would not match); when only the MX name has
    TLSA records, they are used (RFC 7672 2.2.2), also when the answer at
    the target is insecure rather than a secure denial."""
    h1 = peer("127.0.0.173")
    h2 = peer("127.0.0.174")
    h3 = peer("127.0.0.182")
    d = daemon(make_ringmx, dns)
    send(d, "bob@cn.test")
    send(d, "bob@cn2.test")
    send(d, "bob@cn3.test")
    e = delivered(d, "bob@cn.test")
    assert over_tls(h1) == [True]
    assert "policy=dane" in e["tls"], e
    assert "tlsa=match(3 1 1 depth 0)" in e["tls"], e
    assert dns.count("_25._tcp.real.cn.test", "TLSA") >= 1
    e = delivered(d, "bob@cn2.test")
    assert over_tls(h2) == [True]
    assert "tlsa=match(3 1 1 depth 0)" in e["tls"], e
    # (the denial at real.cn2.test may come from unbound's aggressive
    # NSEC cache, so only the query at the MX name is sure to be seen)
    assert dns.count("_25._tcp.mx1.cn2.test", "TLSA") >= 1
    e = delivered(d, "bob@cn3.test")
    assert over_tls(h3) == [True]
    assert "policy=dane" in e["tls"], e
    assert "tlsa=match(3 1 1 depth 0)" in e["tls"], e
    assert dns.count("_25._tcp.real.cn3.test", "TLSA") >= 1
    assert dns.count("_25._tcp.mx1.cn3.test", "TLSA") >= 1


def test_dane_peer_without_starttls(make_ringmx, dns, peer):
    """9. Usable TLSA records and a peer that does not offer STARTTLS:
    4.7.4, nothing delivered."""
    h = peer("127.0.0.175", None)
    d = daemon(make_ringmx, dns)
    send(d, "bob@notls.test")
    e = deferred(d, "bob@notls.test")
    assert "4.7.4" in e["reason"] and "STARTTLS" in e["reason"], e
    assert "policy=dane" in e.get("tls", ""), e
    assert h.sessions >= 1 and h.mails == [] and h.messages == []


POLICIES = {"tls_policies": ({"domain": "enc.ins.test", "policy": "encrypt"},
                             {"domain": "none.test", "policy": "none"},
                             {"domain": "vfy.test", "policy": "verify"},
                             {"domain": "vfyss.test", "policy": "verify"},
                             {"domain": "vfyname.test", "policy": "verify"}),
            "ca_file": str(FIX / "root.pem")}


def test_policy_encrypt_without_starttls(make_ringmx, dns, peer):
    """10a. "encrypt" for a domain in an insecure zone, a peer without
    STARTTLS: deferred."""
    h = peer("127.0.0.176", None)
    d = daemon(make_ringmx, dns, outbound=POLICIES)
    send(d, "bob@enc.ins.test")
    e = deferred(d, "bob@enc.ins.test")
    assert "4.7.4" in e["reason"] and "policy encrypt" in e["reason"], e
    assert h.mails == [] and h.messages == []


def test_policy_none_plaintext(make_ringmx, dns, peer):
    """10b. "none": plaintext although the peer offers STARTTLS (and the
    host has TLSA records: not even looked up)."""
    h = peer("127.0.0.177")
    d = daemon(make_ringmx, dns, outbound=POLICIES)
    send(d, "bob@none.test")
    e = delivered(d, "bob@none.test")
    assert over_tls(h) == [False]
    assert "policy=none" in e["tls"] and "tls=none" in e["tls"], e
    assert dns.count("_25._tcp.mx1.none.test", "TLSA") == 0


def test_policy_verify(make_ringmx, dns, peer):
    """10c/d. "verify" against ca_file: a leaf that chains to it and names
    the MX host is delivered to; a self-signed leaf is deferred, and so
    is a leaf of the right CA with another name."""
    good = peer("127.0.0.178", ("leaf-it", "int"))
    bad = peer("127.0.0.179", ("selfsigned",))
    badname = peer("127.0.0.181", ("leaf", "int"))
    d = daemon(make_ringmx, dns, outbound=POLICIES)
    send(d, "bob@vfy.test")
    send(d, "bob@vfyss.test")
    send(d, "bob@vfyname.test")
    e = delivered(d, "bob@vfy.test")
    assert over_tls(good) == [True]
    assert "policy=verify" in e["tls"], e
    e = deferred(d, "bob@vfyss.test")
    assert "4.7.5" in e["reason"] and "handshake" in e["reason"], e
    assert bad.mails == [] and bad.messages == []
    e = deferred(d, "bob@vfyname.test")
    assert "4.7.5" in e["reason"] and "handshake" in e["reason"], e
    assert badname.mails == [] and badname.messages == []


def test_no_reuse_across_tls_demands(make_ringmx, dns, peer):
    """A connection made for a domain whose MX RRset is insecure (policy
    may) to a host that has TLSA records is not reused for a domain whose
    secure MX RRset names the same host (policy dane: the TLSA record does
    not match the peer, so that mail must wait)."""
    h = peer("127.0.0.180")
    d = daemon(make_ringmx, dns, workers=1)
    send(d, "bob@mix.ins.test")
    e = delivered(d, "bob@mix.ins.test")
    assert "policy=may" in e["tls"], e
    assert over_tls(h) == [True]
    send(d, "carol@mix.test")  # the first connection is still idle
    e = deferred(d, "carol@mix.test")
    assert "4.7.5" in e["reason"] and "matches no TLSA" in e["reason"], e
    assert "policy=dane" in e["tls"], e
    assert len(h.messages) == 1
