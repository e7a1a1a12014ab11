"""The spf plugin in the real daemon, with its DNS served by
suite_dns.SuiteDNS on loopback as a stub zone (spf.test., insecure).

- pass and fail are recorded (reject_fail off): the delivered message
  carries an Authentication-Results field, written by the host from the
  plugin's ar.spf note, that python3-authres parses to spf=pass / fail
  with smtp.mailfrom; the null sender is checked as the HELO identity;
- reject_fail: RCPT gets 550 5.7.23 with the exp= explanation expanded;
- clients of relay_networks are not checked (skip_relay);
- a DNS server that never answers: the evaluation ends in temperror
  after timeout_ms (temperror = tempfail: RCPT gets 451 4.7.24), while
  another session with a fast domain is served meanwhile on the same
  (single) worker.
"""

import socket
import threading
import time

import authres
import pytest

from conftest import REPO, make_msg
from suite_dns import SuiteDNS

PLUGIN = REPO / "build/asan/plugins/spf.so"
ZONE = {
    "pass.spf.test": [{"TXT": "v=spf1 ip4:127.0.0.0/8 -all"}],
    "fail.spf.test": [{"TXT": "v=spf1 -all exp=exp.spf.test"}],
    "exp.spf.test": [{"TXT": "%{i} may not send mail for %{d}"}],
    "helo.spf.test": [{"TXT": "v=spf1 a -all"}, {"A": "127.0.0.1"}],
    "slow.spf.test": ["TIMEOUT"],
}


@pytest.fixture(scope="module")
def dns():
    srv = SuiteDNS(ZONE)
    yield srv
    srv.close()


def daemon(make_ringmx, dns, tmp_path, workers=2, relay=(), **plugin_cfg):
    conf = tmp_path / "unbound-spf.conf"
    conf.write_text('server:\n    domain-insecure: "spf.test."\n')
    assert PLUGIN.exists(), f"{PLUGIN} not built"
    plugin = dict(name="spf", path=str(PLUGIN), **plugin_cfg)
    return make_ringmx(
        plugins=(plugin,), workers=workers, relay_networks=list(relay),
        dns={"mode": "recursive", "unbound_conf": str(conf), "timeout": 10,
             "stub_zones": ({"zone": "spf.test.",
                             "address": f"127.0.0.1@{dns.port}"},)})


def spf_results(raw):
    """The spf resinfos of the (one) Authentication-Results field."""
    fields = [l for l in unfold(raw) if
              l.lower().startswith("authentication-results:")]
    assert len(fields) == 1, fields
    h = authres.AuthenticationResultsHeader.parse(fields[0])
    return [r for r in h.results if r.method == "spf"]


def unfold(raw):
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    text = head.decode("utf-8", "replace").replace("\r\n", "\n")
    return text.replace("\n ", " ").replace("\n\t", " ").split("\n")


def prop(result, ptype, name):
    for p in result.properties:
        if p.type == ptype and p.name == name:
            return p.value
    return None


def test_pass_and_fail_recorded(make_ringmx, dns, tmp_path):
    d = daemon(make_ringmx, dns, tmp_path)
    d.send(make_msg(subject="pass"), sender="alice@pass.spf.test")
    d.send(make_msg(subject="fail"), sender="bob@fail.spf.test")
    with d.session() as c:  # the null sender: the HELO identity
        c.ok("EHLO helo.spf.test")
        c.transaction(sender="", msg=make_msg(subject="helo"))
    msgs = [m for _, m in d.wait_mail("alice", 3)]
    by_subject = {}
    for m in msgs:
        for line in unfold(m):
            if line.lower().startswith("subject:"):
                by_subject[line.split(":", 1)[1].strip()] = m
    (r,) = spf_results(by_subject["pass"])
    assert r.result == "pass"
    assert prop(r, "smtp", "mailfrom") == "alice@pass.spf.test"
    (r,) = spf_results(by_subject["fail"])
    assert r.result == "fail"
    assert prop(r, "smtp", "mailfrom") == "bob@fail.spf.test"
    (r,) = spf_results(by_subject["helo"])
    assert r.result == "pass"
    assert prop(r, "smtp", "helo") == "helo.spf.test"


def test_reject_fail(make_ringmx, dns, tmp_path):
    d = daemon(make_ringmx, dns, tmp_path, reject_fail=True)
    with d.session() as c:
        c.ok("MAIL FROM:<bob@fail.spf.test>")
        r = c.cmd("RCPT TO:<alice@localhost>")
        assert r.code == 550, r
        assert r.enh == "5.7.23", r
        assert "127.0.0.1 may not send mail for fail.spf.test" in r.text
        # a sender that passes is accepted in the same session
        c.ok("RSET")
        c.ok("MAIL FROM:<alice@pass.spf.test>")
        c.ok("RCPT TO:<alice@localhost>")


def test_relay_clients_not_checked(make_ringmx, dns, tmp_path):
    d = daemon(make_ringmx, dns, tmp_path, reject_fail=True,
               relay=["127.0.0.0/8"])
    d.send(make_msg(subject="relay"), sender="bob@fail.spf.test")
    (_, m), = d.wait_mail("alice", 1)
    assert not any(l.lower().startswith("authentication-results:") and
                   "spf=" in l for l in unfold(m))


def test_timeout_while_others_served(make_ringmx, dns, tmp_path):
    d = daemon(make_ringmx, dns, tmp_path, workers=1, timeout_ms=3000,
               temperror="tempfail")
    slow = d.session()
    t0 = time.monotonic()
    slow.send(b"MAIL FROM:<carol@slow.spf.test>\r\n")
    # the slow session waits for DNS; another one is served meanwhile
    with d.session() as fast:
        fast.ok("MAIL FROM:<alice@pass.spf.test>")
        fast.ok("RCPT TO:<alice@localhost>")
        fast_done = time.monotonic() - t0
    assert fast_done < 2.5, fast_done
    r = slow.reply()
    waited = time.monotonic() - t0
    assert r.code == 250, r
    assert waited >= 2.5, waited
    r = slow.cmd("RCPT TO:<alice@localhost>")
    assert r.code == 451, r
    assert r.enh == "4.7.24", r
    slow.close()
