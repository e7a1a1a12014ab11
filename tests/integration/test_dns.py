"""MX resolution end to end: build/asan/ringmx-dnscheck (the daemon's DNS
code driven as a worker drives it) against real DNSSEC-signed zones served
by NSD on loopback (dnsserver.py).

Covers preference order, the equal-preference shuffle, implicit MX, null
MX, NXDOMAIN, secure/insecure/bogus answers, our own names and addresses,
loopback filtering, IP-literal exchanges, CNAMEs, libunbound's cache (one
MX query for 100 lookups) and SERVFAIL/timeouts (tempfail, never "no MX").

The tool is $RINGMX_DNSCHECK (default build/asan/ringmx-dnscheck).
"""

import os
import pathlib
import re
import socket
import subprocess
import time

import pytest

from dnsserver import DNSServer, Zone

REPO = pathlib.Path(__file__).resolve().parents[2]
SELF = "relay.ringmx.test"
SAN_RE = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|"
                    r"SUMMARY: \w+Sanitizer")
LINE_RE = re.compile(r"^domain=(\S+) status=(\S+) mx_secure=(yes|no) "
                     r"hosts=(\S*)(?: error=\"(.*)\")?$")

SECURE = [
    "mx.test. MX 10 mx1.mx.test.",
    "mx.test. MX 20 mx2.mx.test.",
    "mx.test. MX 30 mx3.mx.test.",
    "mx1.mx.test. A 192.0.2.11",
    "mx2.mx.test. A 192.0.2.12",
    "mx2.mx.test. AAAA 2001:db8::12",
    "mx3.mx.test. AAAA 2001:db8::13",
    "shuffle.test. MX 10 a.shuffle.test.",
    "shuffle.test. MX 10 b.shuffle.test.",
    "shuffle.test. MX 20 c.shuffle.test.",
    "a.shuffle.test. A 192.0.2.21",
    "b.shuffle.test. A 192.0.2.22",
    "c.shuffle.test. A 192.0.2.23",
    "nomx.test. A 192.0.2.30",
    "nomx.test. AAAA 2001:db8::30",
    "nullmx.test. MX 0 .",
    "nullmx.test. A 192.0.2.31",
    "self.test. MX 10 mx1.self.test.",
    f"self.test. MX 20 {SELF}.",
    "self.test. MX 30 mx3.self.test.",
    "mx1.self.test. A 192.0.2.41",
    "mx3.self.test. A 192.0.2.43",
    f"{SELF}. A 192.0.2.40",
    f"selfloop.test. MX 10 {SELF}.",
    "selfloop.test. MX 20 mx2.selfloop.test.",
    "mx2.selfloop.test. A 192.0.2.44",
    "ownaddr.test. MX 10 mx1.ownaddr.test.",
    "ownaddr.test. MX 20 mx2.ownaddr.test.",
    "mx1.ownaddr.test. A 192.0.2.99",
    "mx2.ownaddr.test. A 192.0.2.98",
    "lo.test. MX 10 mx1.lo.test.",
    "mx1.lo.test. A 127.0.0.5",
    "mx1.lo.test. AAAA ::1",
    "lomix.test. MX 10 mx1.lo.test.",
    "lomix.test. MX 20 mx1.mx.test.",
    "mixed.test. MX 10 mx1.insecure.test.",
    "bogushost.test. MX 10 mx1.bogus.test.",
    "bogusmix.test. MX 10 mx1.bogus.test.",
    "bogusmix.test. MX 20 mx1.mx.test.",
    "cache.test. MX 10 mx1.mx.test.",
    "cache2.test. MX 10 mx1.mx.test.",
    "iplit.test. MX 10 192.0.2.1.",
    "sf.test. MX 10 mx1.mx.test.",
    "sfhost.test. MX 10 mx1.sf.test.",
    "cnamemx.test. MX 10 alias.cnamemx.test.",
    "alias.cnamemx.test. CNAME mx1.mx.test.",
    "nohost.test. MX 10 missing.nohost.test.",
]


def dnscheck_bin():
    p = pathlib.Path(os.environ.get("RINGMX_DNSCHECK",
                                    "build/asan/ringmx-dnscheck"))
    return p if p.is_absolute() else REPO / p


@pytest.fixture(scope="module")
def dns(tmp_path_factory):
    for tool in ("nsd", "ldns-keygen", "ldns-signzone"):
        if not any((pathlib.Path(d) / tool).exists()
                   for d in ("/usr/sbin", "/usr/bin")):
            pytest.fail(f"{tool} missing: tools/install-deps.sh --test")
    if not dnscheck_bin().exists():
        pytest.fail(f"{dnscheck_bin()} not built")
    srv = DNSServer(tmp_path_factory.mktemp("dns"), {
        "test.": Zone("secure", SECURE),
        "insecure.test.": Zone("insecure", [
            "insecure.test. MX 10 mx1.insecure.test.",
            "mx1.insecure.test. A 192.0.2.51"]),
        "bogus.test.": Zone("bogus", [
            "bogus.test. MX 10 mx1.bogus.test.",
            "mx1.bogus.test. A 192.0.2.61"]),
        # the zone an IP-literal exchange "192.0.2.1." falls in
        "1.": Zone("insecure", ["192.0.2.1. A 192.0.2.77"]),
    })
    srv.servfail.add("sf.test")
    srv.start()
    yield srv
    srv.stop()


def run(dns, *args, stubs=True, anchor=True, timeout=60):
    argv = [str(dnscheck_bin())]
    if stubs:
        argv += dns.stub_args()
    if anchor:
        argv += ["--trust-anchor", str(dns.trust_anchor)]
    argv += list(args)
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    assert not SAN_RE.search(p.stderr), p.stderr
    return p


def check(dns, *args, rc=None, **kw):
    """Run the tool; {domain: (status, mx_secure, hosts, error)} in
    argument order (a list when a domain repeats)."""
    p = run(dns, *args, **kw)
    if rc is not None:
        assert p.returncode == rc, (p.returncode, p.stdout, p.stderr)
    out = []
    for line in p.stdout.splitlines():
        m = LINE_RE.match(line)
        assert m, line
        hosts = []
        for h in filter(None, m.group(4).split(";")):
            name, pref, sec, addrs = h.split("/")
            hosts.append((name, int(pref), sec == "yes",
                          addrs.split(",") if addrs else []))
        out.append((m.group(1), m.group(2), m.group(3) == "yes", hosts,
                    m.group(5)))
    return out


def one(dns, domain, *args, **kw):
    [(d, status, sec, hosts, err)] = check(dns, *args, domain, **kw)
    assert d == domain.lower().rstrip(".")
    return status, sec, hosts, err


def test_preference_order_and_secure(dns):
    status, sec, hosts, err = one(dns, "mx.test", rc=0)
    assert status == "ok" and sec and err is None
    assert hosts == [
        ("mx1.mx.test", 10, True, ["192.0.2.11"]),
        ("mx2.mx.test", 20, True, ["2001:db8::12", "192.0.2.12"]),
        ("mx3.mx.test", 30, True, ["2001:db8::13"]),
    ]


def test_equal_preference_shuffle(dns):
    res = check(dns, *(["shuffle.test"] * 40), rc=0)
    assert len(res) == 40
    orders = set()
    for _, status, _, hosts, _ in res:
        assert status == "ok"
        names = [h[0] for h in hosts]
        assert names[2] == "c.shuffle.test"
        assert [h[1] for h in hosts] == [10, 10, 20]
        orders.add(tuple(names[:2]))
    assert orders == {("a.shuffle.test", "b.shuffle.test"),
                      ("b.shuffle.test", "a.shuffle.test")}


def test_implicit_mx(dns):
    status, sec, hosts, _ = one(dns, "NoMX.test.", rc=0)
    assert status == "ok" and sec
    assert hosts == [("nomx.test", 0, True, ["2001:db8::30", "192.0.2.30"])]


def test_null_mx(dns):
    status, sec, hosts, err = one(dns, "nullmx.test", rc=0)
    assert status == "nullmx" and sec and hosts == []
    assert "null MX" in err


def test_nxdomain(dns):
    status, sec, hosts, err = one(dns, "nonexistent.test", rc=0)
    assert status == "nxdomain" and sec and hosts == []
    assert "does not exist" in err


def test_insecure_and_mixed(dns):
    res = {r[0]: r for r in check(dns, "insecure.test", "mixed.test", rc=0)}
    _, status, sec, hosts, _ = res["insecure.test"]
    assert status == "ok" and not sec
    assert hosts == [("mx1.insecure.test", 10, False, ["192.0.2.51"])]
    _, status, sec, hosts, _ = res["mixed.test"]
    assert status == "ok" and sec  # the MX is signed, its host is not
    assert hosts == [("mx1.insecure.test", 10, False, ["192.0.2.51"])]


def test_bogus_is_tempfail(dns):
    res = {r[0]: r for r in check(dns, "bogus.test", "bogushost.test",
                                  rc=1)}
    for d in ("bogus.test", "bogushost.test"):
        _, status, _, hosts, err = res[d]
        assert status == "tempfail" and hosts == []
        assert err.startswith("dnssec bogus"), err


def test_bogus_host_skipped_for_a_good_one(dns):
    status, sec, hosts, _ = one(dns, "bogusmix.test", rc=0)
    assert status == "ok" and sec
    assert hosts == [("mx1.mx.test", 20, True, ["192.0.2.11"])]


def test_self_in_mx_list(dns):
    status, _, hosts, _ = one(dns, "self.test", "--self", SELF.upper() + ".",
                              rc=0)
    assert status == "ok"
    assert hosts == [("mx1.self.test", 10, True, ["192.0.2.41"])]
    # without --self it is just another host
    status, _, hosts, _ = one(dns, "self.test", rc=0)
    assert [h[0] for h in hosts] == ["mx1.self.test", SELF, "mx3.self.test"]


def test_self_most_preferred_loops(dns):
    status, _, hosts, err = one(dns, "selfloop.test", "--self", SELF, rc=0)
    assert status == "loop" and hosts == []
    assert err == "mail for selfloop.test loops back to myself"


def test_own_address(dns):
    status, _, _, err = one(dns, "ownaddr.test", "--own", "192.0.2.99",
                            rc=0)
    assert status == "loop" and "loops back to myself" in err
    status, _, hosts, _ = one(dns, "ownaddr.test", "--own", "192.0.2.98",
                              rc=0)
    assert status == "ok"
    assert hosts == [("mx1.ownaddr.test", 10, True, ["192.0.2.99"])]


def test_loopback_refused_unless_allowed(dns):
    status, _, hosts, err = one(dns, "lo.test", rc=0)
    assert status == "loop" and hosts == []
    status, _, hosts, _ = one(dns, "lo.test", "--allow-loopback", rc=0)
    assert status == "ok"
    assert hosts == [("mx1.lo.test", 10, True, ["::1", "127.0.0.5"])]
    # a loopback host next to a real one: the real one only
    status, _, hosts, _ = one(dns, "lomix.test", rc=0)
    assert status == "ok"
    assert hosts == [("mx1.mx.test", 20, True, ["192.0.2.11"])]


def test_ip_literal_exchange_is_a_name(dns):
    status, _, hosts, _ = one(dns, "iplit.test", rc=0)
    assert status == "ok"
    # resolved as the name "192.0.2.1." (zone 1.), never used as such
    assert hosts == [("192.0.2.1", 10, False, ["192.0.2.77"])]
    assert dns.count("192.0.2.1", "A") >= 1


def test_cname_exchange(dns):
    status, _, hosts, _ = one(dns, "cnamemx.test", rc=0)
    assert status == "ok"
    assert hosts == [("alias.cnamemx.test", 10, True, ["192.0.2.11"])]


def test_no_host_address(dns):
    status, _, hosts, err = one(dns, "nohost.test", rc=0)
    assert status == "nohost" and hosts == []


def test_cache_one_mx_query_for_100_lookups(dns):
    before = dns.count("cache.test", "MX")
    assert before == 0
    res = check(dns, *(["cache.test"] * 100), rc=0)
    assert len(res) == 100 and all(r[1] == "ok" for r in res)
    assert dns.count("cache.test", "MX") <= 1
    # one after the other (answers from the cache, not merged in flight)
    res = check(dns, "--sequential", *(["cache2.test"] * 100), rc=0)
    assert all(r[1] == "ok" for r in res)
    assert dns.count("cache2.test", "MX") <= 1


def test_servfail_is_tempfail(dns):
    t0 = time.monotonic()
    res = {r[0]: r for r in check(dns, "sf.test", "sfhost.test",
                                  "--timeout", "20000", rc=1)}
    for d in ("sf.test", "sfhost.test"):
        _, status, _, hosts, err = res[d]
        assert status == "tempfail" and hosts == [], res[d]
    assert "SERVFAIL" in res["sf.test"][4]
    assert res["sfhost.test"][4] == "address lookup for mx1.sf.test failed"
    assert res["sfhost.test"][2]  # the MX itself was fine and secure
    assert time.monotonic() - t0 < 30


def closed_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dead_server_is_tempfail_never_no_mx(dns):
    port = closed_port()
    p = run(dns, "--stub", f"down.example=127.0.0.1@{port}",
            "--timeout", "3000", "x.down.example", stubs=False)
    assert p.returncode == 1, p.stdout
    [line] = p.stdout.splitlines()
    m = LINE_RE.match(line)
    assert m and m.group(2) == "tempfail" and m.group(4) == "", line


def test_unbound_conf_fragment(dns):
    status, sec, hosts, _ = one(dns, "mx.test", "--unbound-conf",
                                str(dns.unbound_conf), stubs=False, rc=0)
    assert status == "ok" and sec and len(hosts) == 3


@pytest.mark.skipif(not os.path.exists("/etc/resolv.conf"),
                    reason="no /etc/resolv.conf")
def test_without_trust_anchor_nothing_is_secure(dns):
    # resolvconf mode has no default anchor; the stubs still apply
    status, sec, hosts, _ = one(dns, "mx.test", "--resolvconf",
                                anchor=False, rc=0)
    assert status == "ok" and not sec
    assert not any(h[2] for h in hosts)


def test_usage_errors(dns):
    assert run(dns, stubs=False, anchor=False).returncode == 2
    assert run(dns, "--stub", "nozone", "x.test").returncode == 2
    assert run(dns, "--timeout", "0", "x.test").returncode == 2
    assert run(dns, "--own", "not-an-ip", "x.test").returncode == 2
    p = run(dns, "--trust-anchor", "/nonexistent.ds", "x.test",
            anchor=False)
    assert p.returncode == 2 and "/nonexistent.ds" in p.stderr
    # not a domain name: a permanent answer, no lookup
    status, _, _, err = one(dns, "a..b", rc=0)
    assert status == "nxdomain"
