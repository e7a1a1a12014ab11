"""Live reload (SIGHUP or `ringmxctl reload`): a new listener answers, a
removed one stops accepting, changed limits apply to new sessions, a new
certificate path is served on new connections, and settings that need a
restart are refused or reported."""

import signal
import socket
import ssl
import subprocess
import time

from conftest import (REPO, SMTPConn, free_port, lc_config, make_msg,
                      wait_for)

CTL = REPO / "build/ringmxctl"


def reload(d):
    n = len([e for e in d.events("reload")])
    d.send_signal(signal.SIGHUP)
    wait_for(lambda: len(d.events("reload")) > n, 20, "event=reload")
    return d.events("reload")[-1]


def rewrite(d, **changes):
    d.cfg.update(changes)
    d.config_path.write_text(lc_config(d.cfg))


def answers(host, port):
    try:
        with SMTPConn(host, port, timeout=3) as c:
            return c.reply().code == 220
    except (OSError, AssertionError, EOFError):
        return False


def test_listener_added_and_removed(make_ringmx):
    d = make_ringmx()
    p2 = free_port()
    rewrite(d, listeners=d.cfg["listeners"] +
            ({"address": f"127.0.0.1:{p2}", "mode": "smtp"},))
    ev = reload(d)
    assert ev["result"] == "ok", ev
    wait_for(lambda: answers("127.0.0.1", p2), 10, "new listener answers")
    assert answers(d.host, d.port)
    # remove the first: it stops accepting; the new one keeps working
    rewrite(d, listeners=({"address": f"127.0.0.1:{p2}", "mode": "smtp"},))
    assert reload(d)["result"] == "ok"
    wait_for(lambda: not answers(d.host, d.port), 10, "old listener closed")
    assert answers("127.0.0.1", p2)
    d.port = p2
    d.send(make_msg(subject="after reload"))
    d.wait_mail("alice")


def test_limits_apply_to_new_sessions(make_ringmx):
    d = make_ringmx()
    with SMTPConn(d.host, d.port) as c:
        c.expect(220)
        c.ehlo()
        c.ok("MAIL FROM:<a@example.org>", 250)
        for i in range(3):
            c.ok(f"RCPT TO:<u{i}@localhost>", 250)
    lim = dict(d.cfg["limits"])
    lim["rcpt_max"] = 2
    rewrite(d, limits=lim)
    assert reload(d)["result"] == "ok"
    time.sleep(0.3)
    with SMTPConn(d.host, d.port) as c:
        c.expect(220)
        c.ehlo()
        c.ok("MAIL FROM:<a@example.org>", 250)
        c.ok("RCPT TO:<u0@localhost>", 250)
        c.ok("RCPT TO:<u1@localhost>", 250)
        c.ok("RCPT TO:<u2@localhost>", 452, "4.5.3")


def make_cert(path, name):
    subprocess.run(
        ["openssl", "req", "-x509", "-nodes", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:P-256", "-keyout", f"{path}.key", "-out",
         f"{path}.pem", "-days", "2", "-subj", f"/CN={name}"],
        check=True, capture_output=True)
    return {"cert": f"{path}.pem", "key": f"{path}.key"}


def served_cn(d):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with SMTPConn(d.host, d.port) as c:
        c.expect(220)
        c.ehlo()
        c.ok("STARTTLS", 220)
        c.sock = ctx.wrap_socket(c.sock)
        der = c.sock.getpeercert(binary_form=True)
    return ssl.DER_cert_to_PEM_cert(der)


def test_new_certificate_path_served(make_ringmx, tmp_path):
    a = make_cert(tmp_path / "a", "a.example")
    b = make_cert(tmp_path / "b", "b.example")
    d = make_ringmx(start=False)
    d.cfg["listeners"] = ({"address": f"{d.host}:{d.port}",
                           "tls": {"certificates": (a,)}},)
    d.start()
    assert served_cn(d) == open(a["cert"]).read()
    rewrite(d, listeners=({"address": f"{d.host}:{d.port}",
                           "tls": {"certificates": (b,)}},))
    assert reload(d)["result"] == "ok"
    wait_for(lambda: served_cn(d) == open(b["cert"]).read(), 10,
             "the new certificate")
    for _ in range(4):  # every worker
        assert served_cn(d) == open(b["cert"]).read()


def test_restart_only_settings(make_ringmx):
    d = make_ringmx()
    rewrite(d, workers=3)
    ev = reload(d)
    assert ev["result"] == "failed" and "restart" in ev["reason"], ev
    rewrite(d, workers=2, dns={"mode": "resolvconf",
                               "unbound_conf": str(d.dns_conf),
                               "timeout": 7})
    ev = reload(d)
    assert ev["result"] == "ok", ev
    assert "dns" in ev.get("restart_needed", ""), ev
    p = subprocess.run([str(CTL), "-c", str(d.config_path), "reload"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert "at the next restart: dns" in p.stdout, p.stdout
    d.send(make_msg(subject="still works"))
    d.wait_mail("alice")


def test_changed_route_is_used(make_ringmx, tmp_path):
    """route_table: alice is first discarded, then (after the table path
    changes in the file and a reload) delivered to her Maildir."""
    plugin = REPO / "build/asan/plugins/route_table.so"
    t1, t2 = tmp_path / "routes1", tmp_path / "routes2"
    t1.write_text("alice@localhost discard\n")
    t2.write_text("alice@localhost maildir\n")
    d = make_ringmx(plugins=({"name": "route_table", "path": str(plugin),
                              "table": str(t1)},))
    d.send(make_msg(subject="discarded"))
    wait_for(lambda: d.queued() == 0, 20, "the discarded message removed")
    assert d.mailbox("alice") == []
    rewrite(d, plugins=({"name": "route_table", "path": str(plugin),
                         "table": str(t2)},))
    assert reload(d)["result"] == "ok"
    d.send(make_msg(subject="delivered"))
    raw = d.wait_mail("alice")[0][1]
    assert b"Subject: delivered" in raw
