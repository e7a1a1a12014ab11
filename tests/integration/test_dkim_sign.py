"""The dkim_sign plugin in the real daemon, checked by an independent
verifier (dkimpy, Debian's python3-dkim).

Keys are made with `openssl genpkey` (RSA 2048 as PKCS#8, Ed25519); the
daemon loads the plugin with both keys for example.test and relays for
127.0.0.0/8, so mail sent from here goes through the SIGN hook. The
delivered Maildir copy, without the Return-Path:/Delivered-To: lines local
delivery puts on top after signing, must carry one rsa-sha256 and one
ed25519-sha256 signature that dkimpy verifies, each on its own, against
TXT records served by a dnsfunc (no DNS server). A changed body breaks
both. Also: every canonicalisation, a From: domain without a key is not
signed, and a missing key file stops the daemon with a message naming it.
"""

import base64
import concurrent.futures
import subprocess

import dkim
import pytest

from conftest import REPO, dot_stuff, lc_config, make_msg, wait_for

PLUGIN = REPO / "build/asan/plugins/dkim_sign.so"
DOMAIN = "example.test"


def openssl(*args):
    return subprocess.run(["openssl", *args], check=True,
                          capture_output=True).stdout


@pytest.fixture
def keys(tmp_path):
    """{"rsa": (pem path, TXT), "ed": (pem path, TXT)}"""
    rsa, ed = tmp_path / "rsa.pem", tmp_path / "ed.pem"
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt",
            "rsa_keygen_bits:2048", "-out", str(rsa))
    openssl("genpkey", "-algorithm", "ed25519", "-out", str(ed))
    rsa.chmod(0o600)
    ed.chmod(0o600)
    rsa_pub = openssl("pkey", "-in", str(rsa), "-pubout", "-outform", "DER")
    ed_pub = openssl("pkey", "-in", str(ed), "-pubout", "-outform", "DER")
    return {
        "rsa": (rsa, b"v=DKIM1; k=rsa; p=" + base64.b64encode(rsa_pub)),
        # RFC 8463: p= is the raw 32-octet public key
        "ed": (ed, b"v=DKIM1; k=ed25519; p="
               + base64.b64encode(ed_pub[-32:])),
    }


def dnsfunc_for(keys):
    records = {f"rsa1._domainkey.{DOMAIN}.".encode(): keys["rsa"][1],
               f"ed1._domainkey.{DOMAIN}.".encode(): keys["ed"][1]}

    def dnsfunc(name, timeout=5):
        if isinstance(name, str):
            name = name.encode()
        return records.get(name if name.endswith(b".") else name + b".")
    return dnsfunc


def start(make_ringmx, keys, daemon_cfg=None, **plugin_cfg):
    plugin = {"name": "dkim_sign", "path": str(PLUGIN),
              "key": [f"{DOMAIN}:rsa1:rsa-sha256:{keys['rsa'][0]}",
                      f"{DOMAIN}:ed1:ed25519-sha256:{keys['ed'][0]}"]}
    plugin.update(plugin_cfg)
    return make_ringmx(plugins=(plugin,), relay_networks=["127.0.0.0/8"],
                       **(daemon_cfg or {}))


def as_signed(raw):
    """A delivered message as signed: CRLF line ends, without the
    Return-Path:/Delivered-To: lines added at delivery."""
    raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    lines = raw.split(b"\r\n")
    while lines and (lines[0].startswith(b"Return-Path:")
                     or lines[0].startswith(b"Delivered-To:")):
        lines.pop(0)
    return b"\r\n".join(lines)


def delivered(d, user="alice", n=1):
    return as_signed(d.wait_mail(user, n)[n - 1][1])


def signatures(msg):
    head = msg.split(b"\r\n\r\n", 1)[0]
    unfolded = head.replace(b"\r\n\t", b" ").replace(b"\r\n ", b" ")
    return [l for l in unfolded.split(b"\r\n")
            if l.lower().startswith(b"dkim-signature:")]


def tags(sig):
    value = sig.split(b":", 1)[1]
    out = {}
    for t in value.split(b";"):
        if b"=" in t:
            k, v = t.split(b"=", 1)
            out[k.strip().decode()] = b"".join(v.split()).decode()
    return out


def verify_all(msg, keys):
    """dkimpy's verdict for each signature, and their a= tags."""
    d = dkim.DKIM(msg)
    sigs = signatures(msg)
    results = []
    for i in range(len(sigs)):
        try:
            results.append(d.verify(idx=i, dnsfunc=dnsfunc_for(keys)))
        except dkim.DKIMException:
            results.append(False)
    return results, [tags(s)["a"] for s in sigs]


TEST_BODY = (b"Hello  there, \t\r\n\r\n"
             + b"".join(b"line %d of a longer body \r\n" % i
                        for i in range(6000))  # > 64 KiB: chunked reads
             + b"\r\n\r\n")


def send_signed(d, subject="DKIM  test\r\n\tfolded subject", body=TEST_BODY,
                **kw):
    msg = make_msg(subject=subject, body=body,
                   sender=kw.get("sender", f"someone@{DOMAIN}"),
                   to="alice@localhost",
                   headers=["MIME-Version: 1.0",
                            "Content-Type: text/plain; charset=us-ascii"])
    d.send(msg, rcpts=("alice@localhost",),
           sender=kw.get("sender", f"someone@{DOMAIN}"))
    return msg


@pytest.mark.parametrize("canon", ["relaxed/relaxed", "simple/simple",
                                   "relaxed/simple", "simple/relaxed"])
def test_dkimpy_verifies_both_algorithms(make_ringmx, keys, canon):
    d = start(make_ringmx, keys, canonicalization=canon)
    # a small body is hashed on the worker, a large one on the pool
    send_signed(d, body=b"Short  body. \r\n\r\n")
    send_signed(d)
    mails = d.wait_mail("alice", 2)
    assert len(mails) == 2
    for _, raw in mails:
        check_delivered(as_signed(raw), keys, canon)


def check_delivered(msg, keys, canon):
    results, algs = verify_all(msg, keys)
    assert sorted(algs) == ["ed25519-sha256", "rsa-sha256"], msg[:2000]
    assert results == [True, True], (algs, msg[:3000])
    for s in signatures(msg):
        t = tags(s)
        assert t["d"] == DOMAIN and t["c"] == canon
        assert t["h"].startswith("from:from:")  # From oversigned
    # folded at 78 columns
    head = msg.split(b"\r\n\r\n", 1)[0]
    in_sig = False
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"dkim-signature:"):
            in_sig = True
        elif not line.startswith((b"\t", b" ")):
            in_sig = False
        if in_sig:
            assert len(line.expandtabs(8)) <= 78, line
    assert dkim.verify(msg, dnsfunc=dnsfunc_for(keys))

    # a changed body breaks both signatures
    head, body = msg.split(b"\r\n\r\n", 1)
    bad = head + b"\r\n\r\n" + body.replace(b"body", b"bodY", 1)
    assert bad != msg
    assert verify_all(bad, keys)[0] == [False, False]


def test_concurrent_and_abandoned_sessions(make_ringmx, keys):
    """RSA signatures offloaded for many sessions at once, and sessions
    that vanish right after the final dot (their pending signature is
    cancelled, or completes if the message was already taken): every
    delivered message verifies, the daemon stays clean under ASan."""
    d = start(make_ringmx, keys, daemon_cfg={"log_level": "debug"})
    for i in range(5):
        c = d.connect()
        c.ehlo()
        c.ok(f"MAIL FROM:<someone@{DOMAIN}>")
        c.ok("RCPT TO:<alice@localhost>")
        c.ok("DATA", 354)
        c.send(dot_stuff(make_msg(subject=f"abandoned {i}",
                                  sender=f"someone@{DOMAIN}")))
        c.close()
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        list(ex.map(lambda i: send_signed(d, subject=f"concurrent {i}"),
                    range(16)))
    mails = wait_for(
        lambda: (m := d.mailbox("alice")) and sum(
            b"Subject: concurrent" in raw for _, raw in m) == 16 and m,
        what="the 16 concurrent messages delivered")
    for _, raw in mails:
        msg = as_signed(raw)
        assert verify_all(msg, keys)[0] == [True, True], msg[:2000]


def test_other_domain_not_signed(make_ringmx, keys):
    d = start(make_ringmx, keys)
    send_signed(d, sender="someone@example.org")
    msg = delivered(d)
    assert signatures(msg) == []
    assert b"Hello  there" in msg


def test_missing_key_file_names_it(make_ringmx, keys, tmp_path):
    missing = tmp_path / "nonexistent.pem"
    plugin = {"name": "dkim_sign", "path": str(PLUGIN),
              "key": [f"{DOMAIN}:rsa1:rsa-sha256:{keys['rsa'][0]}",
                      f"{DOMAIN}:s1:ed25519-sha256:{missing}"]}
    d = make_ringmx(start=False, plugins=(plugin,),
                    relay_networks=["127.0.0.0/8"])
    d.config_path.write_text(lc_config(d.cfg))
    # run directly (as test_plugins.py does): the daemon must refuse to
    # start rather than send unsigned mail
    p = subprocess.run([str(d.binary), "-c", str(d.config_path)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode != 0, p.stderr
    assert "dkim_sign" in p.stderr and str(missing) in p.stderr, p.stderr
