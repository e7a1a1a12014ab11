"""The sandboxed release build on the paths test_privileges.py does not
take: outbound delivery by MX through DNSSEC-validated lookups
(libunbound), STARTTLS to the peer authenticated by DANE (TLSA through the
resolver, wolfSSL client), DKIM signing with RSA on the offload threads,
and the inbound sender-authentication plugins (spf, dkim_verify, dmarc)
doing their DNS through the host resolver — all under the seccomp filter,
after the drop to the ringmx account.

A system call missing from the allow-list fails with EPERM and is logged
(`event=seccomp_denied`): the test asserts the mail went all the way
through and that no denial was logged. Needs root (the drop; the peer on
port 25) and the release build (build/ringmx, build/plugins)."""

import base64
import hashlib
import os
import pathlib
import re
import shutil
import ssl
import subprocess
import tempfile

import pytest

from conftest import REPO, Daemon, make_msg, wait_for
from dnsserver import DNSServer, Zone
from peers import Peer, Recorder

REL = REPO / "build/ringmx"
PLUGINS = {n: REPO / f"build/plugins/{n}.so"
           for n in ("spf", "dkim_verify", "dmarc", "dkim_sign")}
FIX = REPO / "tests/fixtures/dane"
PEER_ADDR = "127.0.0.191"

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(not REL.exists(), reason="build/ringmx"),
]


def rsa_key(d, name):
    """(PEM path, DKIM TXT record strings) of a new RSA-2048 key."""
    pem = d / f"{name}.pem"
    subprocess.run(["openssl", "genrsa", "-traditional", "-out", str(pem),
                    "2048"], check=True, capture_output=True)
    der = subprocess.run(["openssl", "rsa", "-in", str(pem), "-pubout",
                          "-outform", "DER"], check=True,
                         capture_output=True).stdout
    txt = "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()
    parts = " ".join(f'"{txt[i:i + 200]}"' for i in range(0, len(txt), 200))
    return pem, parts


@pytest.fixture(scope="module")
def world():
    for n, p in PLUGINS.items():
        if not p.exists():
            pytest.skip(f"{p} not built")
    for tool in ("nsd", "ldns-keygen", "ldns-signzone"):
        if not any((pathlib.Path(d) / tool).exists()
                   for d in ("/usr/sbin", "/usr/bin")):
            pytest.fail(f"{tool} missing: tools/install-deps.sh --test")
    from test_privileges import ensure_user
    pw = ensure_user("ringmx")
    # under /var/tmp, traversable by the account the daemon becomes (the
    # resolver reads the trust anchor and its configuration after the drop)
    root = pathlib.Path(tempfile.mkdtemp(prefix="ringmx-sbx-",
                                         dir="/var/tmp"))
    root.chmod(0o755)
    keys = root / "keys"
    keys.mkdir()
    in_pem, in_txt = rsa_key(keys, "in")
    out_pem, out_txt = rsa_key(keys, "out")
    out_pem.chmod(0o600)  # root-only: the plugin reads it before the drop
    spki = hashlib.sha256((FIX / "ec.pub.der").read_bytes()).hexdigest()
    recs = [
        # the sender's domain: SPF for loopback, a DKIM key, p=reject
        'sbx.test. TXT "v=spf1 ip4:127.0.0.0/8 -all"',
        '_dmarc.sbx.test. TXT "v=DMARC1; p=reject"',
        f"in._domainkey.sbx.test. TXT {in_txt}",
        f"out._domainkey.sbx.test. TXT {out_txt}",
        # the destination: a secure MX with a DANE-EE record for the peer
        "dest.test. MX 10 mx1.dest.test.",
        f"mx1.dest.test. A {PEER_ADDR}",
        f"_25._tcp.mx1.dest.test. TLSA 3 1 1 {spki}",
    ]
    srv = DNSServer(root / "dns", {"test.": Zone("secure", recs)})
    srv.start()
    for p in (root / "dns").rglob("*"):
        p.chmod(p.stat().st_mode | 0o444 | (0o111 if p.is_dir() else 0))
    yield {"root": root, "dns": srv, "pw": pw, "in_key": in_pem,
           "out_key": out_pem, "out_txt": out_txt}
    srv.stop()
    if not os.environ.get("RINGMX_KEEP_TMP"):
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def peer(world):
    chain = world["root"] / "chain.pem"
    chain.write_text((FIX / "leaf.pem").read_text()
                     + (FIX / "int.pem").read_text())
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(chain), str(FIX / "ec.key"))
    h = Recorder()
    p = Peer(h, PEER_ADDR, 25, tls_context=ctx)
    p.start()
    wait_for(lambda: h.sessions >= 1 and h.active == 0, 5, "probe closed")
    with h.lock:
        h.sessions = 0
    yield h
    p.stop()


def test_outbound_dane_dkim_and_auth_plugins_under_seccomp(world, peer):
    import dkim

    dns = world["dns"]
    d = Daemon(world["root"] / "d", binary=REL, user="ringmx")
    try:
        d.cfg["relay_networks"] = ["127.0.0.0/8"]
        d.cfg["outbound"] = {"allow_loopback": True}
        d.cfg["queue"] = {"retry_initial": 2, "retry_max": 2}
        d.cfg["dns"] = {"mode": "recursive", "timeout": 10,
                        "trust_anchor": str(dns.trust_anchor),
                        "unbound_conf": str(dns.unbound_conf)}
        d.cfg["plugins"] = (
            # the client relays (127.0.0.0/8), which spf and dmarc skip
            # by default: evaluate anyway, so that their lookups run
            {"name": "spf", "path": str(PLUGINS["spf"]),
             "skip_relay": False},
            {"name": "dkim_verify", "path": str(PLUGINS["dkim_verify"])},
            {"name": "dmarc", "path": str(PLUGINS["dmarc"]),
             "skip_relay": False},
            # RSA signing runs on the offload threads
            {"name": "dkim_sign", "path": str(PLUGINS["dkim_sign"]),
             "key": [f"sbx.test:out:rsa-sha256:{world['out_key']}"]},
        )
        d.start()
        wait_for(lambda: "event=ready" in d.log(), 20, "event=ready")
        assert "seccomp=on" in d.log(), d.log()[-3000:]
        st = open(f"/proc/{d.pid}/status").read()
        assert re.search(r"^Seccomp:\s+2$", st, re.M), st
        assert re.search(rf"^Uid:\s+{world['pw'].pw_uid}\s", st, re.M), st

        msg = make_msg(subject="sandboxed paths", to="bob@dest.test")
        msg = msg.replace(b"From: <sender@example.org>",
                          b"From: <alice@sbx.test>", 1)
        msg = dkim.sign(msg, b"in", b"sbx.test",
                        world["in_key"].read_bytes(),
                        include_headers=[b"From", b"Subject", b"Date",
                                         b"Message-ID"]) + msg
        with d.smtplib() as s:
            s.ehlo()
            assert s.mail("alice@sbx.test")[0] == 250
            assert s.rcpt("bob@dest.test")[0] == 250
            code, text = s.data(msg)
            assert code == 250, text

        def done():
            bad = d.events("deferred") + d.events("bounced")
            assert not bad, (bad, d.log()[-3000:])
            return d.events("delivered") or None
        e, = wait_for(done, 30, "delivered to the MX")
        assert "policy=dane" in e["tls"] and "dnssec=secure" in e["tls"], e
        assert "tlsa=match(3 1 1" in e["tls"], e
        wait_for(lambda: peer.messages, 10, "message at the peer")
        assert peer.tls == [True]
        env = peer.messages[0]
        assert env.rcpt_tos == ["bob@dest.test"]
        raw = env.original_content
        # the inbound verdicts, from DNS answers fetched in the sandbox
        ar = re.search(rb"Authentication-Results:(.*?)\r?\n(?![ \t])", raw,
                       re.S).group(1)
        for verdict in (rb"spf=pass", rb"dkim=pass", rb"dmarc=pass"):
            assert verdict in ar, ar
        # our RSA signature (made on an offload thread) verifies
        assert raw.count(b"DKIM-Signature:") == 2, raw[:2000]
        out_txt = "".join(re.findall(r'"([^"]*)"', world["out_txt"]))

        def dnsfunc(name, timeout=5):
            name = name.decode() if isinstance(name, bytes) else name
            if name.rstrip(".") == "out._domainkey.sbx.test":
                return out_txt.encode()
            return None
        first = raw.index(b"DKIM-Signature:")
        assert b"s=out" in raw[first:raw.index(b"DKIM-Signature:",
                                               first + 1)], raw[:2000]
        assert dkim.verify(raw, dnsfunc=dnsfunc), raw[:2000]

        assert d.stop() == 0, d.log()[-3000:]
        # denials are logged by the main thread within 100 ms; after the
        # stop every one of them is in the log
        denied = re.findall(r".*seccomp_denied.*", d.log())
        assert not denied, denied
    finally:
        if d.running:
            d.kill()
