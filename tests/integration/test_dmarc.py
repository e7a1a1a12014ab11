"""The dmarc plugin in the real daemon, after spf and dkim_verify
(plugins = [spf, dkim_verify, dmarc]), with NSD on loopback
(dnsserver.py) serving the SPF, DKIM key and _dmarc records:

- aligned through SPF (MAIL FROM in the From domain, SPF pass) -> pass;
- aligned through DKIM (dkimpy-signed with d= the From domain, MAIL FROM
  elsewhere) -> pass;
- unaligned with p=reject -> 550 5.7.1 at the end of data;
- p=quarantine -> accepted and held: not delivered, still in the queue;
- sp= of the organisational domain for a subdomain From;
- pct=0 lowers reject to quarantine (held, not rejected);
and every delivered message's Authentication-Results field parses with
python3-authres and carries the dmarc result. Domains are under "test."
(not in the Public Suffix List: the organisational domain of
a.b.test is b.test).
"""

import base64
import pathlib
import subprocess
import time

import authres
import dkim
import pytest

from conftest import REPO, header_lines, make_msg, wait_for
from dnsserver import DNSServer, Zone

PLUGINS = {n: REPO / f"build/asan/plugins/{n}.so"
           for n in ("spf", "dkim_verify", "dmarc")}
HOSTNAME = "mx.test.example"


def _rsa_key(tmp):
    pem = tmp / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-traditional", "-out", str(pem),
                    "2048"], check=True, capture_output=True)
    der = subprocess.run(["openssl", "rsa", "-in", str(pem), "-pubout",
                          "-outform", "DER"], check=True,
                         capture_output=True).stdout
    b64 = base64.b64encode(der).decode()
    txt = "v=DKIM1; k=rsa; p=" + b64
    # zone file: strings of at most 255 octets
    parts = " ".join(f'"{txt[i:i + 200]}"' for i in range(0, len(txt), 200))
    return pem.read_bytes(), parts


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    for n, p in PLUGINS.items():
        if not p.exists():
            pytest.skip(f"{p} not built (plugin {n} not in this tree yet)")
    for tool in ("nsd", "ldns-keygen", "ldns-signzone"):
        if not any((pathlib.Path(d) / tool).exists()
                   for d in ("/usr/sbin", "/usr/bin")):
            pytest.fail(f"{tool} missing: tools/install-deps.sh --test")
    tmp = tmp_path_factory.mktemp("dmarc")
    key, keytxt = _rsa_key(tmp)
    spf = '"v=spf1 ip4:127.0.0.0/8 -all"'
    recs = [
        # p=reject, SPF for loopback, a DKIM key
        f"rej.test. TXT {spf}",
        '_dmarc.rej.test. TXT "v=DMARC1; p=reject"',
        f"sel._domainkey.rej.test. TXT {keytxt}",
        # p=quarantine
        f"quar.test. TXT {spf}",
        '_dmarc.quar.test. TXT "v=DMARC1; p=quarantine"',
        # p=none for the org domain, sp=reject for its subdomains
        '_dmarc.org.test. TXT "v=DMARC1; p=none; sp=reject"',
        # reject, but pct=0: lowered to quarantine
        '_dmarc.pct.test. TXT "v=DMARC1; p=reject; pct=0"',
        # an unrelated sender domain, SPF pass for loopback
        f"other.test. TXT {spf}",
    ]
    srv = DNSServer(tmp / "dnsd", {"test.": Zone("secure", recs)})
    srv.start()
    yield {"dns": srv, "key": key}
    srv.stop()


def daemon(make_ringmx, world):
    dns = world["dns"]
    plugins = tuple({"name": n, "path": str(p)} for n, p in PLUGINS.items())
    return make_ringmx(plugins=plugins,
                       dns={"mode": "recursive",
                            "trust_anchor": str(dns.trust_anchor),
                            "unbound_conf": str(dns.unbound_conf)})


def message(from_addr, subject, key=None, domain=None):
    msg = make_msg(subject=subject)
    # make_msg writes "From: <sender>": replace it
    msg = msg.replace(b"From: <sender@example.org>",
                      f"From: {from_addr}".encode(), 1)
    assert msg.count(b"\r\nFrom:") + msg.startswith(b"From:") == 1
    if key is not None:
        sig = dkim.sign(msg, b"sel", domain.encode(), key,
                        include_headers=[b"From", b"Subject", b"Date",
                                         b"Message-ID"])
        msg = sig + msg
    return msg


def send(d, sender, msg):
    """(code, text) of the reply to the end of data."""
    with d.smtplib() as s:
        s.ehlo()
        assert s.mail(sender)[0] == 250
        assert s.rcpt("alice@localhost")[0] == 250
        try:
            code, text = s.data(msg)
        except Exception as e:  # smtplib raises for 5xx after DATA
            code, text = e.smtp_code, e.smtp_error
    return code, text.decode() if isinstance(text, bytes) else text


def delivered(d, subject):
    for _, raw in d.mailbox("alice"):
        if f"Subject: {subject}".encode() in raw:
            return raw
    return None


def ar_of(raw):
    fields = [h for h in header_lines(raw)
              if h.lower().startswith("authentication-results:")]
    assert len(fields) == 1, fields
    return authres.AuthenticationResultsHeader.parse(fields[0])


def dmarc_result(ar):
    rs = [r for r in ar.results if r.method == "dmarc"]
    assert len(rs) == 1, str(ar)
    return rs[0]


def header_from(result):
    """The header.from property of a resinfo."""
    vals = [p.value for p in result.properties
            if p.type == "header" and p.name == "from"]
    assert len(vals) == 1, str(result)
    return vals[0]


def test_aligned_spf_pass(make_ringmx, world):
    d = daemon(make_ringmx, world)
    code, text = send(d, "bounce@rej.test",
                      message("Alice <alice@rej.test>", "spf-aligned"))
    assert code == 250, text
    raw = wait_for(lambda: delivered(d, "spf-aligned"), 20, "delivery")
    ar = ar_of(raw)
    assert ar.authserv_id == HOSTNAME
    r = dmarc_result(ar)
    assert r.result == "pass"
    assert header_from(r) == "rej.test"
    assert any(x.method == "spf" and x.result == "pass" for x in ar.results)


def test_aligned_dkim_pass(make_ringmx, world):
    d = daemon(make_ringmx, world)
    msg = message("alice@rej.test", "dkim-aligned", world["key"], "rej.test")
    code, text = send(d, "someone@nowhere.test", msg)
    assert code == 250, text
    raw = wait_for(lambda: delivered(d, "dkim-aligned"), 20, "delivery")
    ar = ar_of(raw)
    assert dmarc_result(ar).result == "pass"
    assert any(x.method == "dkim" and x.result == "pass" for x in ar.results)


def test_unaligned_reject(make_ringmx, world):
    d = daemon(make_ringmx, world)
    code, text = send(d, "bounce@other.test",
                      message("alice@rej.test", "unaligned"))
    assert code == 550, text
    assert text.startswith("5.7.1 DMARC policy of rej.test rejects"), text
    time.sleep(1)
    assert delivered(d, "unaligned") is None
    assert "dmarc=fail from=rej.test" in d.log()


def assert_held(d, subject):
    """Accepted with disposition hold: kept in the queue, not delivered."""
    wait_for(lambda: "dmarc=held" in d.log()
             or "error=route_notes" in d.log(), 20, "the ROUTE hook")
    if "error=route_notes" in d.log():
        pytest.xfail("the host's ROUTE hook cannot read notes yet "
                     "(core/scheduler.c route_ops has no note_get)")
    time.sleep(2)
    assert delivered(d, subject) is None
    assert d.queued() == 1


def test_quarantine_held(make_ringmx, world):
    d = daemon(make_ringmx, world)
    code, text = send(d, "bounce@other.test",
                      message("alice@quar.test", "quarantined"))
    assert code == 250, text
    assert "disposition=hold" in d.log()
    assert_held(d, "quarantined")


def test_subdomain_sp(make_ringmx, world):
    d = daemon(make_ringmx, world)
    code, text = send(d, "bounce@other.test",
                      message("alice@news.org.test", "subdomain"))
    assert code == 550, text
    assert "DMARC policy of news.org.test" in text
    # the org domain itself has p=none: delivered with dmarc=fail
    code, text = send(d, "bounce@other.test",
                      message("alice@org.test", "orgdomain"))
    assert code == 250, text
    raw = wait_for(lambda: delivered(d, "orgdomain"), 20, "delivery")
    r = dmarc_result(ar_of(raw))
    assert r.result == "fail"
    assert header_from(r) == "org.test"


def test_pct_zero_lowered(make_ringmx, world):
    d = daemon(make_ringmx, world)
    code, text = send(d, "bounce@other.test",
                      message("alice@pct.test", "pct-zero"))
    assert code == 250, text  # not rejected: quarantine instead
    assert "applied=quarantine disposition=hold" in d.log()
    assert_held(d, "pct-zero")
