"""Inbound TLS (RFC 3207 STARTTLS, RFC 8314 implicit TLS) with real
clients: Python ssl/smtplib, swaks --tls/--tlsc, openssl s_client; the
STARTTLS injection (CVE-2011-0411) and a second STARTTLS; submission
requiring TLS before AUTH and MAIL; SNI choosing the certificate; a
client stalling in the handshake; garbage instead of a ClientHello.

Certificates are made per test session with openssl (ECDSA P-256)."""

import re
import smtplib
import socket
import ssl
import subprocess
import time

import pytest

from conftest import (HOSTNAME, SMTPConn, free_port, header_lines,
                      lc_config, make_msg)


def make_cert(d, name, algo="ec"):
    key, crt = d / f"{name}.key", d / f"{name}.pem"
    args = (["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
            if algo == "ec" else ["-newkey", "rsa:2048"])
    subprocess.run(
        ["openssl", "req", "-x509", "-nodes", *args, "-keyout", str(key),
         "-out", str(crt), "-days", "2", "-subj", f"/CN={name}",
         "-addext", f"subjectAltName=DNS:{name}"],
        check=True, capture_output=True)
    return {"cert": str(crt), "key": str(key)}


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("certs")
    return {"mx": make_cert(d, HOSTNAME), "other": make_cert(d, "other.example"),
            "rsa": make_cert(d, "rsa.example", "rsa")}


def client_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def der_of(pem_path):
    return ssl.PEM_cert_to_DER_cert(open(pem_path).read())


@pytest.fixture
def tlsd(make_ringmx, certs):
    """make(**cfg): smtp listener with STARTTLS (d.port), submission with
    STARTTLS (d.sub_port), submissions with implicit TLS (d.tls_port)."""

    def make(tls=None, **cfg):
        d = make_ringmx(start=False, **cfg)
        t = tls or {"certificates": (certs["mx"], certs["other"]),
                    "handshake_timeout": 3}
        d.sub_port, d.tls_port = free_port(), free_port()
        d.cfg["listeners"] = (
            {"address": f"{d.host}:{d.port}", "mode": "smtp", "tls": t},
            {"address": f"{d.host}:{d.sub_port}", "mode": "submission",
             "tls": t},
            {"address": f"{d.host}:{d.tls_port}", "mode": "submissions",
             "tls": t},
        )
        return d.start()

    return make


def starttls(c, server_hostname=None):
    c.ok("STARTTLS", 220, "2.0.0")
    assert c.buf == b""
    c.sock = client_ctx().wrap_socket(c.sock,
                                      server_hostname=server_hostname)
    return c


def test_ehlo_offers_starttls_then_not(tlsd):
    d = tlsd()
    with SMTPConn(d.host, d.port) as c:
        c.expect(220)
        assert any("STARTTLS" in l for l in c.ehlo().lines)
        starttls(c)
        r = c.ehlo()
        assert not any("STARTTLS" in l for l in r.lines), r
        assert c.sock.version() in ("TLSv1.2", "TLSv1.3")


def test_smtplib_starttls_delivers_with_tls_in_received(tlsd):
    d = tlsd()
    with smtplib.SMTP(d.host, d.port, timeout=20) as s:
        s.ehlo("client.test")
        s.starttls(context=client_ctx())
        s.ehlo("client.test")
        s.sendmail("sender@example.org", ["alice@localhost"], make_msg())
    raw = d.wait_mail("alice")[0][1]
    rec = [h for h in header_lines(raw) if h.startswith("Received:")][0]
    assert "with ESMTPS" in rec, rec
    assert re.search(r"using TLSv1.3 with cipher TLS_\w+\)", rec), rec


def test_injection_after_starttls_is_not_executed(tlsd):
    """CVE-2011-0411: commands pipelined with STARTTLS are dropped."""
    d = tlsd()
    with SMTPConn(d.host, d.port) as c:
        c.expect(220)
        c.ehlo()
        c.send(b"STARTTLS\r\nRSET\r\nMAIL FROM:<evil@example.org>\r\n")
        c.expect(220, "2.0.0")
        assert c.buf == b"", c.buf
        c.sock = client_ctx().wrap_socket(c.sock)
        # the session forgot everything, and nothing injected ran: the
        # first reply over TLS is the one to our EHLO
        r = c.ehlo()
        assert r.lines[0].startswith(f"250-{HOSTNAME}"), r
        c.ok("MAIL FROM:<sender@example.org>", 250)
    assert "evil@example.org" not in d.log()


def test_state_reset_requires_ehlo_again(tlsd):
    d = tlsd()
    with SMTPConn(d.host, d.port) as c:
        c.expect(220)
        c.ehlo()
        starttls(c)
        c.ok("MAIL FROM:<sender@example.org>", 503, "5.5.1")


def test_second_starttls_refused(tlsd):
    d = tlsd()
    with SMTPConn(d.host, d.port) as c:
        c.expect(220)
        c.ehlo()
        starttls(c)
        c.ehlo()
        c.ok("STARTTLS", 503, "5.5.1")
        c.ok("NOOP", 250)


def test_starttls_syntax_and_transaction(tlsd):
    d = tlsd()
    with SMTPConn(d.host, d.port) as c:
        c.expect(220)
        c.ehlo()
        c.ok("STARTTLS now", 501, "5.5.4")
        c.ok("MAIL FROM:<a@example.org>", 250)
        c.ok("STARTTLS", 503, "5.5.1")


def test_no_tls_listener_refuses_starttls(ringmx):
    with SMTPConn(ringmx.host, ringmx.port) as c:
        c.expect(220)
        r = c.ehlo()
        assert not any("STARTTLS" in l for l in r.lines)
        c.ok("STARTTLS", 502, "5.5.1")


def test_submission_requires_tls_first(tlsd):
    d = tlsd()
    with SMTPConn(d.host, d.sub_port) as c:
        c.expect(220)
        c.ehlo()
        c.ok("MAIL FROM:<a@example.org>", 530, "5.7.0")
        c.ok("AUTH PLAIN AGFsaWNlAHB3", 530, "5.7.0")
        starttls(c)
        c.ehlo()
        # over TLS the submission rules apply: AUTH first
        r = c.cmd("MAIL FROM:<a@example.org>")
        assert "STARTTLS" not in r.text, r


def test_sni_picks_certificate(tlsd, certs):
    d = tlsd()
    for name, want in ((HOSTNAME, "mx"), ("other.example", "other"),
                       ("unknown.example", "mx"), (None, "mx")):
        with SMTPConn(d.host, d.port) as c:
            c.expect(220)
            c.ehlo()
            starttls(c, server_hostname=name)
            assert c.sock.getpeercert(binary_form=True) == \
                der_of(certs[want]["cert"]), name
    assert 'sni="other.example"' in d.log()


def test_implicit_tls_submissions(tlsd):
    d = tlsd()
    raw = socket.create_connection((d.host, d.tls_port), 20)
    s = client_ctx().wrap_socket(raw, server_hostname=HOSTNAME)
    c = SMTPConn.__new__(SMTPConn)
    c.sock, c.buf, c.greeting = s, b"", None
    with c:
        c.expect(220)
        r = c.ehlo()
        assert not any("STARTTLS" in l for l in r.lines), r
        c.ok("STARTTLS", 503, "5.5.1")


def test_implicit_tls_with_smtplib_ssl(tlsd):
    d = tlsd()
    with smtplib.SMTP_SSL(d.host, d.tls_port, context=client_ctx(),
                          timeout=20) as s:
        code, _ = s.ehlo("client.test")
        assert code == 250
        code, _ = s.noop()
        assert code == 250


def test_swaks_tls_and_tlsc(tlsd):
    d = tlsd()
    # submissions wants AUTH before MAIL: stop after EHLO there
    for port, flag, last in ((d.port, "--tls", "RCPT"),
                             (d.tls_port, "--tlsc", "EHLO")):
        p = subprocess.run(
            ["swaks", "--server", d.host, "--port", str(port), flag,
             "--from", "sender@example.org", "--to", "alice@localhost",
             "--quit-after", last, "--timeout", "20"],
            capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stdout + p.stderr
        assert "TLS started" in p.stdout, p.stdout


def test_openssl_s_client_starttls(tlsd):
    d = tlsd()
    p = subprocess.run(
        ["openssl", "s_client", "-starttls", "smtp", "-connect",
         f"{d.host}:{d.port}", "-servername", "other.example", "-quiet",
         "-verify_quiet"],
        input="EHLO client.test\r\nQUIT\r\n", capture_output=True,
        text=True, timeout=30)
    assert f"250-{HOSTNAME}" in p.stdout, p.stdout + p.stderr
    assert "221 2.0.0" in p.stdout, p.stdout


def test_stalled_handshake_times_out_others_served(tlsd):
    d = tlsd(workers=1)
    stalled = SMTPConn(d.host, d.port)
    stalled.expect(220)
    stalled.ehlo()
    stalled.ok("STARTTLS", 220)
    stalled.send(b"\x16\x03\x01\x00\xff\x01")  # a ClientHello that stops
    t0 = time.monotonic()
    # the worker keeps serving others meanwhile
    with smtplib.SMTP(d.host, d.port, timeout=10) as s:
        s.starttls(context=client_ctx())
        s.ehlo("client.test")
        assert s.noop()[0] == 250
    assert time.monotonic() - t0 < 2.5
    assert stalled.read_to_eof(timeout=10) == b""
    assert time.monotonic() - t0 < 8
    assert "handshake timed out" in d.log()
    stalled.close()


def test_garbage_handshake_closes_only_that_connection(tlsd):
    d = tlsd()
    with SMTPConn(d.host, d.port) as c:
        c.expect(220)
        c.ehlo()
        c.ok("STARTTLS", 220)
        c.send(b"EHLO plaintext-after-starttls\r\n")
        data = c.read_to_eof(timeout=10)
        assert b"250" not in data
    with smtplib.SMTP(d.host, d.port, timeout=10) as s:
        assert s.noop()[0] == 250


def test_rsa_certificate_works(tlsd, certs):
    d = tlsd(tls={"certificates": (certs["rsa"],)})
    with smtplib.SMTP(d.host, d.port, timeout=20) as s:
        s.starttls(context=client_ctx())
        assert s.ehlo("client.test")[0] == 250


def test_bad_certificate_config_fails_clearly(make_ringmx, tmp_path, certs):
    d = make_ringmx(start=False)
    d.cfg["listeners"] = ({"address": f"{d.host}:{d.port}", "mode": "smtp",
                           "tls": {"certificates": (
                               {"cert": certs["mx"]["cert"],
                                "key": certs["other"]["key"]},)}},)
    d.config_path.write_text(lc_config(d.cfg))
    p = subprocess.run([str(d.binary), "-c", str(d.config_path)],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert "does not work" in p.stderr and "key" in p.stderr, p.stderr


def test_submissions_without_tls_is_a_config_error(make_ringmx):
    d = make_ringmx(start=False)
    d.cfg["listeners"] = ({"address": f"{d.host}:{d.port}",
                           "mode": "submissions"},)
    d.config_path.write_text(lc_config(d.cfg))
    p = subprocess.run([str(d.binary), "-c", str(d.config_path)],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert "needs a tls group" in p.stderr, p.stderr


def served_cert(d, name=None):
    with SMTPConn(d.host, d.port) as c:
        c.expect(220)
        c.ehlo()
        starttls(c, server_hostname=name)
        return c.sock.getpeercert(binary_form=True)


def test_sighup_reloads_certificates(tlsd, certs, tmp_path):
    import shutil
    import signal
    live = {"cert": str(tmp_path / "live.pem"),
            "key": str(tmp_path / "live.key")}
    shutil.copy(certs["mx"]["cert"], live["cert"])
    shutil.copy(certs["mx"]["key"], live["key"])
    d = tlsd(tls={"certificates": (live,)})
    assert served_cert(d) == der_of(certs["mx"]["cert"])
    # a renewed certificate at the same paths
    shutil.copy(certs["other"]["cert"], live["cert"])
    shutil.copy(certs["other"]["key"], live["key"])
    d.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 20
    while len([e for e in d.events("tls_reload")
               if e.get("result") == "ok"]) < 2:
        assert time.monotonic() < deadline, d.log()[-2000:]
        time.sleep(0.05)
    for _ in range(4):  # both workers
        assert served_cert(d) == der_of(certs["other"]["cert"])
    # a broken file: the old certificate stays in use
    open(live["cert"], "w").write("not a certificate\n")
    d.send_signal(signal.SIGHUP)
    # the main thread checks the files first: nothing is swapped
    while not [e for e in d.events("reload") if e.get("result") == "failed"]:
        assert time.monotonic() < deadline + 20, d.log()[-2000:]
        time.sleep(0.05)
    assert "ASN no PEM Header" in d.events("reload")[-1]["reason"]
    for _ in range(4):
        assert served_cert(d) == der_of(certs["other"]["cert"])
