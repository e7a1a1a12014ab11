"""The dkim_verify plugin in the real daemon, against signatures made by
an independent implementation (dkimpy, Debian's python3-dkim).

The key records are TXT records in a zone served by NSD on loopback
(tests/integration/dnsserver.py; the daemon's resolver is pointed at it
with a stub and the zone's trust anchor). Messages are signed here with
dkimpy (rsa-sha256 with a 2048-bit key made by `openssl genpkey`, and
ed25519-sha256 with a key from python3-nacl) and sent with smtplib to a
daemon running plugins = [dkim_verify]. The delivered Maildir copy must
carry an Authentication-Results header (written by the host from the
plugin's ar.dkim_verify note) that python3-authres parses, with
dkim=pass for good signatures and dkim=fail for a tampered message; a
signature of an unknown selector is permerror. The delivered message,
with the lines local delivery adds on top removed, must still verify
with dkimpy's own dkim.verify.
"""

import base64
import pathlib
import subprocess

import authres
import dkim
import nacl.signing
import pytest

from conftest import HOSTNAME, REPO, lc_config, make_msg
from dnsserver import DNSServer, Zone

PLUGIN = REPO / "build/asan/plugins/dkim_verify.so"
DOMAIN = "dkim.test"
SIGNED = [b"from", b"to", b"subject", b"date", b"message-id"]


def openssl(*args):
    return subprocess.run(["openssl", *args], check=True,
                          capture_output=True).stdout


def txt_rr(name, text):
    """A zone-file TXT line, the text cut into 250-octet strings."""
    parts = [text[i:i + 250] for i in range(0, len(text), 250)] or [""]
    return f"{name} 300 IN TXT " + " ".join(f'"{p}"' for p in parts)


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("dkimkeys")
    rsa = d / "rsa.pem"
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt",
            "rsa_keygen_bits:2048", "-out", str(rsa))
    rsa_pub = openssl("pkey", "-in", str(rsa), "-pubout", "-outform", "DER")
    ed = nacl.signing.SigningKey.generate()
    return {
        "rsa": rsa.read_bytes(),
        "rsa_txt": "v=DKIM1; k=rsa; p=" + base64.b64encode(rsa_pub).decode(),
        "ed": base64.b64encode(bytes(ed)),
        "ed_txt": "v=DKIM1; k=ed25519; p="
                  + base64.b64encode(bytes(ed.verify_key)).decode(),
    }


@pytest.fixture(scope="module")
def dns(tmp_path_factory, keys):
    for tool in ("nsd", "ldns-keygen", "ldns-signzone"):
        if not any((pathlib.Path(p) / tool).exists()
                   for p in ("/usr/sbin", "/usr/bin")):
            pytest.fail(f"{tool} missing: tools/install-deps.sh --test")
    srv = DNSServer(tmp_path_factory.mktemp("dnsd"), {
        "test.": Zone("secure", [
            txt_rr(f"rsa1._domainkey.{DOMAIN}.", keys["rsa_txt"]),
            txt_rr(f"ed1._domainkey.{DOMAIN}.", keys["ed_txt"]),
            txt_rr(f"revoked._domainkey.{DOMAIN}.", "v=DKIM1; p="),
        ]),
    })
    srv.start()
    yield srv
    srv.stop()


def start(make_ringmx, dns, **plugin_cfg):
    plugin = {"name": "dkim_verify", "path": str(PLUGIN)}
    plugin.update(plugin_cfg)
    return make_ringmx(plugins=(plugin,),
                       dns={"mode": "recursive",
                            "trust_anchor": str(dns.trust_anchor),
                            "unbound_conf": str(dns.unbound_conf)})


def signed(keys, alg, subject="DKIM verify test", selector=None,
           canon=(b"relaxed", b"relaxed")):
    msg = make_msg(subject=subject, sender=f"alice@{DOMAIN}",
                   body=b"Hello  there. \t\r\n\r\nSecond  paragraph.\r\n")
    if alg == "rsa":
        sel, key, a = b"rsa1", keys["rsa"], b"rsa-sha256"
    else:
        sel, key, a = b"ed1", keys["ed"], b"ed25519-sha256"
    sig = dkim.sign(msg, selector or sel, DOMAIN.encode(), key,
                    signature_algorithm=a, canonicalize=canon,
                    include_headers=SIGNED)
    return sig + msg


def deliver(d, msg, n):
    d.send(msg, rcpts=("alice@localhost",), sender=f"alice@{DOMAIN}")
    raw = d.wait_mail("alice", n)[n - 1][1]
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def ar_headers(raw):
    """The Authentication-Results fields of a message, parsed."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode()
    fields, cur = [], None
    for line in head.split("\r\n"):
        if line[:1] in (" ", "\t") and cur is not None:
            cur += "\r\n" + line
            continue
        if cur is not None:
            fields.append(cur)
        cur = line
    if cur is not None:
        fields.append(cur)
    return [authres.AuthenticationResultsHeader.parse(f) for f in fields
            if f.lower().startswith("authentication-results:")]


def dkim_results(raw):
    ars = ar_headers(raw)
    assert len(ars) == 1, raw[:3000]
    assert ars[0].authserv_id == HOSTNAME
    return [r for r in ars[0].results if r.method == "dkim"]


def prop(result, ptype, name):
    for p in result.properties:
        if p.type == ptype and p.name == name:
            return p.value
    return None


def as_received(raw):
    """The delivered message without what local delivery put on top."""
    lines = raw.split(b"\r\n")
    while lines and (lines[0].startswith(b"Return-Path:")
                     or lines[0].startswith(b"Delivered-To:")):
        lines.pop(0)
    return b"\r\n".join(lines)


def dnsfunc_for(keys):
    recs = {f"rsa1._domainkey.{DOMAIN}.": keys["rsa_txt"].encode(),
            f"ed1._domainkey.{DOMAIN}.": keys["ed_txt"].encode()}

    def dnsfunc(name, timeout=5):
        name = name.decode() if isinstance(name, bytes) else name
        return recs.get(name if name.endswith(".") else name + ".")
    return dnsfunc


def test_rsa_and_ed25519_pass(make_ringmx, dns, keys):
    d = start(make_ringmx, dns)
    for i, alg in enumerate(("rsa", "ed"), start=1):
        raw = deliver(d, signed(keys, alg), i)
        res = dkim_results(raw)
        assert len(res) == 1, res
        assert res[0].result == "pass", str(res[0])
        assert prop(res[0], "header", "d") == DOMAIN
        assert prop(res[0], "header", "s") == ("rsa1" if alg == "rsa"
                                               else "ed1")
        assert prop(res[0], "header", "a") == (
            "rsa-sha256" if alg == "rsa" else "ed25519-sha256")
        assert len(prop(res[0], "header", "b")) == 8
    # the queries went to the zone's server
    assert dns.count(f"rsa1._domainkey.{DOMAIN}", "TXT") >= 1
    assert dns.count(f"ed1._domainkey.{DOMAIN}", "TXT") >= 1


def test_simple_canonicalisation_and_two_signatures(make_ringmx, dns, keys):
    d = start(make_ringmx, dns)
    msg = signed(keys, "ed", canon=(b"simple", b"simple"))
    msg = dkim.sign(msg, b"rsa1", DOMAIN.encode(), keys["rsa"],
                    canonicalize=(b"simple", b"relaxed"),
                    include_headers=SIGNED) + msg
    res = dkim_results(deliver(d, msg, 1))
    assert [r.result for r in res] == ["pass", "pass"], [str(r) for r in res]


def test_tampered_fails(make_ringmx, dns, keys):
    d = start(make_ringmx, dns)
    msg = signed(keys, "rsa").replace(b"Second  paragraph",
                                      b"Second  Paragraph")
    res = dkim_results(deliver(d, msg, 1))
    assert res[0].result == "fail", str(res[0])
    assert "body hash" in (res[0].reason or ""), str(res[0])
    msg = signed(keys, "ed").replace(b"DKIM verify test",
                                     b"DKIM verify TEST")
    res = dkim_results(deliver(d, msg, 2))
    assert res[0].result == "fail", str(res[0])
    assert "did not verify" in (res[0].reason or ""), str(res[0])


def test_missing_and_revoked_keys(make_ringmx, dns, keys):
    d = start(make_ringmx, dns)
    res = dkim_results(deliver(d, signed(keys, "ed", selector=b"nokey"), 1))
    assert res[0].result == "permerror", str(res[0])
    res = dkim_results(deliver(d, signed(keys, "ed", selector=b"revoked"),
                               2))
    assert res[0].result == "fail", str(res[0])
    assert "revoked" in (res[0].reason or "")


def test_unsigned_is_none(make_ringmx, dns):
    d = start(make_ringmx, dns)
    raw = deliver(d, make_msg(sender=f"alice@{DOMAIN}"), 1)
    res = dkim_results(raw)
    assert [r.result for r in res] == ["none"]


def test_delivered_message_still_verifies_with_dkimpy(make_ringmx, dns,
                                                      keys):
    d = start(make_ringmx, dns)
    for i, alg in enumerate(("rsa", "ed"), start=1):
        raw = as_received(deliver(d, signed(keys, alg), i))
        assert dkim.verify(raw, dnsfunc=dnsfunc_for(keys)), raw[:3000]


def test_reject_fail(make_ringmx, dns, keys):
    d = start(make_ringmx, dns, reject_fail=True)
    msg = signed(keys, "ed").replace(b"Second  paragraph",
                                     b"Second  Paragraph")
    with d.smtplib() as s:
        s.ehlo()
        assert s.mail(f"alice@{DOMAIN}")[0] == 250
        assert s.rcpt("alice@localhost")[0] == 250
        code, resp = s.data(msg)
        assert code == 550, resp
        assert b"5.7.20" in resp
    # a good one still goes through
    res = dkim_results(deliver(d, signed(keys, "ed"), 1))
    assert res[0].result == "pass"


def test_bad_config_names_key(make_ringmx):
    d = make_ringmx(start=False, plugins=(
        {"name": "dkim_verify", "path": str(PLUGIN), "max_signaturez": 3},))
    d.config_path.write_text(lc_config(d.cfg))
    p = subprocess.run([str(d.binary), "-c", str(d.config_path)],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1
    assert "dkim_verify" in p.stderr and "max_signaturez" in p.stderr, \
        p.stderr


def test_large_body_hashed_off_the_loop(make_ringmx, dns, keys):
    """Bodies of 256 KiB and more are hashed on the offload pool (logged at
    debug): a 1 MB
    message verifies, a tampered one fails on its body hash."""
    line = b"A line of a large message body, repeated many times. 0123\r\n"
    body = line * (1024 * 1024 // len(line))
    msg = make_msg(subject="large", sender=f"alice@{DOMAIN}", body=body)
    sig = dkim.sign(msg, b"ed1", DOMAIN.encode(), keys["ed"],
                    signature_algorithm=b"ed25519-sha256",
                    include_headers=SIGNED)
    d = make_ringmx(plugins=({"name": "dkim_verify", "path": str(PLUGIN)},),
                    dns={"mode": "recursive",
                         "trust_anchor": str(dns.trust_anchor),
                         "unbound_conf": str(dns.unbound_conf)},
                    log_level="debug")
    res = dkim_results(deliver(d, sig + msg, 1))
    assert res[0].result == "pass", str(res[0])
    assert "dkim=body_offload" in d.log()
    bad = (sig + msg).replace(b"0123\r\n", b"0124\r\n", 1)
    res = dkim_results(deliver(d, bad, 2))
    assert res[0].result == "fail", str(res[0])
    assert "body hash" in (res[0].reason or ""), str(res[0])
