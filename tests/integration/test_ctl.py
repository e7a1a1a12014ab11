"""The control socket (core/control.c) and its client ringmxctl
(tools/ringmxctl.c), against a running daemon: every command through the
client (human output and --json) and as raw JSON lines, the effect of
each queue operation on the queue and on delivery, listener pause,
domain suspension, reload (good and bad file), peer credentials,
malformed requests and a client that does not read its answers.

A queue of known content: relay_networks lets the tests queue mail for
remote domains, and the test DNS refuses every name, so such mail is
deferred after its first attempt and stays queued."""

import json
import os
import re
import select
import socket
import stat
import subprocess
import time

from conftest import REPO, lc_config, make_msg, wait_for

CTL = REPO / "build/ringmxctl"
SO = REPO / "build/asan/plugins"


# ------------------------------------------------------------------ helpers

def ctl_daemon(make_ringmx, **cfg):
    """A daemon whose control socket is in its own temp dir."""
    cfg.setdefault("relay_networks", ["127.0.0.0/8"])
    d = make_ringmx(start=False, **cfg)
    d.sock = str(d.root / "ctl.sock")
    d.cfg["control_socket"] = d.sock
    d.start()
    # wait_ready may return as soon as the SMTP port accepts, which can
    # be before the control socket is bound
    wait_for(lambda: "event=ready" in d.log(), 20, "event=ready")
    return d


def ctl(d, *args, rc=0, json_out=False, user=None, timeout=30):
    """Run ringmxctl; assert its exit code; return (stdout, stderr), or the
    parsed answer with json_out."""
    cmd = [str(CTL), "--socket", d.sock] + (["--json"] if json_out else [])
    cmd += [str(a) for a in args]
    if user:
        cmd = ["setpriv", "--reuid=" + user, "--regid=nogroup",
               "--clear-groups"] + cmd
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert p.returncode == rc, (args, p.returncode, p.stdout, p.stderr)
    if json_out:
        return json.loads(p.stdout)
    return p.stdout, p.stderr


class Raw:
    """A raw control connection: JSON lines in, JSON lines out."""

    def __init__(self, d, timeout=10):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        for i in range(50):
            try:
                self.s.connect(d.sock)
                break
            except BlockingIOError:     # the listen backlog is full
                if i == 49:
                    raise
                time.sleep(0.02)
        self.buf = b""

    def close(self):
        self.s.close()

    def send(self, obj):
        if isinstance(obj, (dict, list)):
            obj = json.dumps(obj)
        if isinstance(obj, str):
            obj = obj.encode()
        if not obj.endswith(b"\n"):
            obj += b"\n"
        self.s.sendall(obj)

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.s.recv(1 << 20)
            if not chunk:
                raise EOFError(f"closed; unparsed {self.buf[:200]!r}")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def eof(self):
        """True if the server closed (after whatever was buffered)."""
        try:
            while True:
                chunk = self.s.recv(1 << 20)
                if not chunk:
                    return True
                self.buf += chunk
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def call(self, cmd, **args):
        req = {"v": 1, "cmd": cmd}
        if args:
            req["args"] = args
        self.send(req)
        return self.line()


def call(d, cmd, **args):
    """One request on a fresh connection; the whole answer."""
    r = Raw(d)
    try:
        return r.call(cmd, **args)
    finally:
        r.close()


def result(d, cmd, **args):
    a = call(d, cmd, **args)
    assert a["v"] == 1 and a["ok"] is True, a
    return a["result"]


def error(d, cmd, code, **args):
    a = call(d, cmd, **args)
    assert a["v"] == 1 and a["ok"] is False, a
    assert a["error"]["code"] == code, a
    assert a["error"]["message"], a
    return a["error"]["message"]


def messages(d, **filters):
    return result(d, "queue.list", **filters)["messages"]


def ids(d, **filters):
    return {m["id"] for m in messages(d, **filters)}


def show(d, qid):
    return result(d, "queue.show", id=qid)


def queue_op(d, op, *qids, rc=0, tries=50):
    """ringmxctl queue OP IDS..., again while the scheduler says the
    message is being delivered right now (a race with a retry)."""
    for _ in range(tries):
        p = subprocess.run([str(CTL), "--socket", d.sock, "queue", op,
                            *qids], capture_output=True, text=True,
                           timeout=30)
        if "being delivered" not in p.stdout:
            break
        time.sleep(0.1)
    assert p.returncode == rc, (op, qids, p.returncode, p.stdout, p.stderr)
    return p.stdout


def wait_attempted(d, qids, n=1):
    """Until every message has had at least n attempts."""
    def done():
        ms = {m["id"]: m for m in messages(d)}
        return all(q in ms and ms[q]["attempts"] >= n for q in qids)
    wait_for(done, 20, f"{n} attempt(s) of {qids}")


METRIC_RE = re.compile(
    r'[a-zA-Z_:][a-zA-Z0-9_:]*'
    r'(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
    r'(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*\})?'
    r' [-+]?([0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?|NaN|[-+]Inf)')


def parse_metrics(text):
    """{(name, labels): value}; asserts every line is well-formed."""
    out = {}
    assert text.endswith("\n")
    for line in text.splitlines():
        if line.startswith("#"):
            assert re.fullmatch(r"# (HELP|TYPE) \w+ .+", line), line
            continue
        assert METRIC_RE.fullmatch(line), f"bad metrics line {line!r}"
        name_labels, value = line.rsplit(" ", 1)
        out[name_labels] = float(value)
    return out


# ------------------------------------------------------------------- reads

def test_status_stats_metrics_plugins(make_ringmx):
    d = ctl_daemon(make_ringmx, relay_networks=["127.0.0.1/32"],
                   plugins=({"name": "example",
                             "path": str(SO / "example.so"),
                             "reject_domain": ["spam.example"]},))
    st = os.stat(d.sock)
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
    assert any(e.get("path") == d.sock for e in d.events("control_listening"))

    # status
    a = ctl(d, "status", json_out=True)
    assert a["v"] == 1 and a["ok"] is True
    s = a["result"]
    assert s["pid"] == d.pid and s["hostname"] == "mx.test.example"
    assert s["workers"] == 2 and isinstance(s["version"], str)
    assert isinstance(s["uptime_s"], int) and s["uptime_s"] >= 0
    assert s["listeners"] == [{"address": f"127.0.0.1:{d.port}",
                               "mode": "smtp", "tls": False,
                               "paused": False}]
    assert s["queue"] == {"active": 0, "deferred": 0, "held": 0,
                          "total": 0}
    out, _ = ctl(d, "status")
    assert re.search(r"^hostname\s+mx\.test\.example$", out, re.M), out
    assert re.search(rf"^pid\s+{d.pid}$", out, re.M), out
    assert re.search(r"^queue\s+0 \(active 0, deferred 0, held 0\)$", out,
                     re.M), out
    assert re.search(rf"^127\.0\.0\.1:{d.port}\s+smtp\s+no\s+accepting$",
                     out, re.M), out

    # stats: the counters move
    before = result(d, "stats")
    assert len(before["workers"]) == 2
    for k, v in before["total"].items():
        assert v == sum(w[k] for w in before["workers"]), k
    d.send()                                        # from 127.0.0.1
    with d.connect(source="127.0.0.2") as c:        # not a relay client
        c.ehlo()
        c.ok("MAIL FROM:<someone@remote.example>")
        r = c.cmd("RCPT TO:<victim@elsewhere.example>")
        assert r.code // 100 == 5, r
        # an open connection shows in status
        wait_for(lambda: result(d, "status")["connections"] >= 1,
                 5, "connection counted")
    b = before["total"]

    def moved():
        t = result(d, "stats")["total"]
        return (t["connections_accepted"] >= b["connections_accepted"] + 2
                and t["messages_queued"] == b["messages_queued"] + 1
                and t["rejected_rcpt"] == b["rejected_rcpt"] + 1
                and t["delivered"] == b["delivered"] + 1 and t)
    t = wait_for(moved, 10, "counters moved")
    out, _ = ctl(d, "stats")
    assert out.splitlines()[0].split() == ["COUNTER", "TOTAL", "W0", "W1"]
    row = [l.split() for l in out.splitlines() if l.startswith(
        "messages_queued ")][0]
    assert int(row[1]) == t["messages_queued"] == int(row[2]) + int(row[3])

    # metrics: Prometheus text, same numbers
    text = result(d, "metrics")["text"]
    m = parse_metrics(text)
    assert sum(v for k, v in m.items() if k.startswith(
        "ringmx_messages_queued_total{")) == t["messages_queued"]
    assert m['ringmx_rejected_rcpt_total{worker="0"}'] + \
        m['ringmx_rejected_rcpt_total{worker="1"}'] == t["rejected_rcpt"]
    for state in ("active", "deferred", "held"):
        assert f'ringmx_queue_messages{{state="{state}"}}' in m
    assert "# TYPE ringmx_messages_queued_total counter" in text
    out, _ = ctl(d, "metrics")
    parse_metrics(out)
    assert "ringmx_uptime_seconds " in out

    # plugins
    ps = result(d, "plugins")
    assert [p["name"] for p in ps] == ["example"]
    p = ps[0]
    assert p["path"] == str(SO / "example.so")
    assert re.fullmatch(r"\d+\.\d+", p["abi"]) and p["version"]
    assert p["hooks"] and all(isinstance(h, str) for h in p["hooks"])
    out, _ = ctl(d, "plugins")
    lines = out.splitlines()
    assert lines[0].split() == ["PLUGIN", "VERSION", "ABI", "HOOKS"]
    assert lines[1].split()[:3] == ["example", p["version"], p["abi"]]
    assert lines[1].split()[3] == ",".join(p["hooks"])


def known_queue(d):
    """Three remote messages, all deferred, the third held:
    q1 a@s1.example -> x@d1.example
    q2 b@s2.example -> y@d2.example, z@d1.example
    q3 a@s1.example -> w@d3.example (held)"""
    q1 = d.send(make_msg(subject="known-1", body="one\r\n"),
                rcpts=("x@d1.example",), sender="a@s1.example")
    q2 = d.send(make_msg(subject="known-2", body="two\r\nlines\r\n"),
                rcpts=("y@d2.example", "z@d1.example"),
                sender="b@s2.example")
    q3 = d.send(make_msg(subject="known-3"), rcpts=("w@d3.example",),
                sender="a@s1.example")
    wait_attempted(d, [q1, q2, q3])
    a = call(d, "queue.hold", ids=[q3])
    assert a["ok"] and a["result"] == {"matched": 1, "done": 1,
                                       "failed": []}, a
    return q1, q2, q3


def test_queue_list_summary_show(make_ringmx):
    d = ctl_daemon(make_ringmx)
    q1, q2, q3 = known_queue(d)

    # list: every filter
    assert ids(d) == {q1, q2, q3}
    assert ids(d, sender="a@s1.example") == {q1, q3}
    assert ids(d, sender="b@s2.example") == {q2}
    assert ids(d, sender="nobody@s1.example") == set()
    assert ids(d, rcpt="z@d1.example") == {q2}
    assert ids(d, rcpt="x@d1.example") == {q1}
    assert ids(d, domain="d1.example") == {q1, q2}
    assert ids(d, domain="d3.example") == {q3}
    assert ids(d, state="deferred") == {q1, q2}
    assert ids(d, state="held") == {q3}
    assert ids(d, state="active") == set()
    assert ids(d, domain="d1.example", sender="a@s1.example") == {q1}
    assert ids(d, older_than=3600) == set()
    time.sleep(2.1)     # received is in whole seconds
    assert ids(d, older_than=1) == {q1, q2, q3}
    assert ids(d, older_than=1, sender="b@s2.example") == {q2}
    r = result(d, "queue.list", limit=1)
    assert len(r["messages"]) == 1 and r["truncated"] is True
    assert result(d, "queue.list", limit=3)["truncated"] is True
    assert result(d, "queue.list", limit=4)["truncated"] is False
    m = [x for x in messages(d) if x["id"] == q2][0]
    assert m["sender"] == "b@s2.example" and m["state"] == "deferred"
    assert [r["address"] for r in m["recipients"]] == [
        "y@d2.example", "z@d1.example"]
    assert all(r["state"] == "pending" for r in m["recipients"])
    assert m["size"] > 0 and m["attempts"] >= 1
    assert abs(m["received"] - time.time()) < 60
    assert m["next_attempt"] > time.time()

    # list: the client's flags and table
    out, _ = ctl(d, "queue", "list")
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "STATE", "AGE", "SIZE", "SENDER",
                                "RECIPIENTS"]
    rows = {l.split()[0]: l.split() for l in lines[1:]}
    assert set(rows) == {q1, q2, q3}
    assert rows[q2][1] == "deferred" and rows[q3][1] == "held"
    assert rows[q2][4:] == ["b@s2.example", "y@d2.example", "z@d1.example"]
    out, _ = ctl(d, "queue", "list", "--sender", "a@s1.example", "--state",
                 "held")
    assert [l.split()[0] for l in out.splitlines()[1:]] == [q3]
    out, _ = ctl(d, "queue", "list", "--domain", "d1.example")
    assert {l.split()[0] for l in out.splitlines()[1:]} == {q1, q2}
    out, _ = ctl(d, "queue", "list", "--rcpt", "y@d2.example")
    assert [l.split()[0] for l in out.splitlines()[1:]] == [q2]
    out, _ = ctl(d, "queue", "list", "--older-than", "1h")
    assert out.splitlines()[1:] == []
    out, _ = ctl(d, "queue", "list", "--limit", "2")
    assert len(out.splitlines()) == 4
    assert out.splitlines()[-1].startswith("(more:")
    a = ctl(d, "queue", "list", "--state", "deferred", json_out=True)
    assert {x["id"] for x in a["result"]["messages"]} == {q1, q2}
    ctl(d, "queue", "list", "--state", "bogus", rc=1)
    ctl(d, "queue", "list", "--limit", "0", rc=2)
    ctl(d, "queue", "list", "--older-than", "5x", rc=2)

    # summary and status counts
    dom = {x["domain"]: x for x in result(d, "queue.summary")["domains"]}
    assert dom == {
        "d1.example": {"domain": "d1.example", "active": 0, "deferred": 2,
                       "held": 0},
        "d2.example": {"domain": "d2.example", "active": 0, "deferred": 1,
                       "held": 0},
        "d3.example": {"domain": "d3.example", "active": 0, "deferred": 0,
                       "held": 1}}
    assert result(d, "queue.summary")["domains"][0]["domain"] == \
        "d1.example"      # the largest first
    out, _ = ctl(d, "queue", "summary")
    rows = {l.split()[0]: l.split()[1:] for l in out.splitlines()[1:]}
    assert rows["d1.example"] == ["2", "0", "2", "0"]
    assert rows["d3.example"] == ["1", "0", "0", "1"]
    assert rows["TOTAL"] == ["4", "0", "3", "1"]  # per domain: q2 twice
    assert result(d, "status")["queue"] == {"active": 0, "deferred": 2,
                                            "held": 1, "total": 3}

    # show
    s = show(d, q2)
    assert s["id"] == q2 and s["sender"] == "b@s2.example"
    assert s["state"] == "deferred" and s["client"] == "127.0.0.1"
    assert s["helo"] == "client.test" and s["notes"] == []
    assert [r["address"] for r in s["recipients"]] == [
        "y@d2.example", "z@d1.example"]
    assert all("4.4.3" in r["last_error"] for r in s["recipients"]), s
    assert "Subject: known-2\r\n" in s["headers"]
    assert s["headers"].startswith("Received: from client.test")
    assert s["headers"].endswith("\r\n") and "body" not in s
    s = result(d, "queue.show", id=q2, body=True)
    assert s["body"] == "two\r\nlines\r\n" and s["body_truncated"] is False
    out, _ = ctl(d, "queue", "show", q2)
    assert re.search(r"^sender\s+<b@s2\.example>$", out, re.M), out
    assert re.search(r"^recipient\s+<z@d1\.example> pending", out, re.M)
    assert "Subject: known-2" in out and "lines" not in out
    for argv in (("show", q2, "--body"), ("show", "--body", q2)):
        out, _ = ctl(d, "queue", *argv)
        assert "Subject: known-2" in out and "two\nlines" in out, out
    a = ctl(d, "queue", "show", q2, "--body", json_out=True)
    assert a["result"]["body"] == "two\r\nlines\r\n"
    _, err = ctl(d, "queue", "show", "00000000DEADBEEF", rc=1)
    assert "not_found" in err, err
    error(d, "queue.show", "not_found", id="00000000DEADBEEF")
    error(d, "queue.show", "bad_request", id="xyz")
    ctl(d, "queue", "show", rc=2)
    ctl(d, "queue", "show", q1, q2, rc=2)


def test_bulk_by_filter(make_ringmx):
    d = ctl_daemon(make_ringmx)
    q1, q2, q3 = known_queue(d)
    # without --yes: the count, nothing done, exit 1
    out, _ = ctl(d, "queue", "hold", "--domain", "d1.example", rc=1)
    assert out.strip() == ("2 messages match; nothing done: add --yes to "
                           "hold them"), out
    assert ids(d, state="held") == {q3}
    assert result(d, "queue.hold", domain="d1.example") == {
        "matched": 2, "done": 0, "confirm_needed": True}
    a = ctl(d, "queue", "delete", "--sender", "a@s1.example", json_out=True,
            rc=1)
    assert a["result"]["confirm_needed"] is True
    assert a["result"]["matched"] == 2
    assert ids(d) == {q1, q2, q3}
    # with --yes
    out, _ = ctl(d, "queue", "hold", "--domain", "d1.example", "--yes")
    assert out.strip() == "hold: 2 of 2 done", out
    assert ids(d, state="held") == {q1, q2, q3}
    out, _ = ctl(d, "queue", "delete", "--sender", "a@s1.example",
                 "--state", "held", "--yes")
    assert out.strip() == "delete: 2 of 2 done", out
    assert ids(d) == {q2}
    a = result(d, "queue.release", state="held", confirm=True)
    assert a == {"matched": 1, "done": 1, "failed": []}
    assert ids(d, state="held") == set()
    # a filter that matches nothing; no filter at all
    out, _ = ctl(d, "queue", "bounce", "--domain", "none.example", "--yes")
    assert out.strip() == "bounce: 0 of 0 done", out
    ctl(d, "queue", "hold", rc=2)
    assert "filter" in error(d, "queue.hold", "bad_request")
    assert "filter" in error(d, "queue.hold", "bad_request", confirm=True)


# ----------------------------------------------------------------- changes

def test_hold_release_retry_bounce_delete(make_ringmx):
    # retries every 2 s: a held message must not be attempted meanwhile
    d = ctl_daemon(make_ringmx, queue={"retry_initial": 2, "retry_max": 2})
    qa = d.send(make_msg(subject="to-bounce"), rcpts=("x@d1.example",),
                sender="someone@localhost")
    qb = d.send(rcpts=("y@d2.example",), sender="b@s2.example")
    wait_attempted(d, [qa, qb])

    out = queue_op(d, "hold", qa)
    assert out.strip() == "hold: 1 of 1 done", out
    assert show(d, qa)["state"] == "held"
    na, nb = show(d, qa)["attempts"], show(d, qb)["attempts"]
    time.sleep(4.5)
    assert show(d, qa)["attempts"] == na, "a held message was attempted"
    assert show(d, qb)["attempts"] > nb, "retries do not run"
    out = queue_op(d, "retry", qa, rc=1)
    assert "held: release it" in out, out
    out = queue_op(d, "hold", qa)        # holding twice is fine
    assert out.strip() == "hold: 1 of 1 done", out

    out = queue_op(d, "release", qa)
    assert out.strip() == "release: 1 of 1 done", out
    wait_for(lambda: show(d, qa)["attempts"] > na, 10,
             "attempt after release")
    assert show(d, qa)["state"] == "deferred"
    out = queue_op(d, "release", qa, rc=1)
    assert "not held" in out, out
    out = queue_op(d, "retry", qb)
    assert out.strip() == "retry: 1 of 1 done", out

    # bounce: a DSN to the (local) sender, the message leaves the queue
    out = queue_op(d, "bounce", qa)
    assert out.strip() == "bounce: 1 of 1 done", out
    wait_for(lambda: qa not in ids(d), 10, "bounced message removed")
    (_, dsn), = d.wait_mail("someone")
    assert b"multipart/report" in dsn and b"x@d1.example" in dsn, dsn
    assert b"returned to the sender by the operator" in dsn, dsn
    error(d, "queue.show", "not_found", id=qa)

    # delete: gone without a report
    out = queue_op(d, "delete", qb)
    assert out.strip() == "delete: 1 of 1 done", out
    assert ids(d) == set()
    assert [e["id"] for e in d.events("operator_delete")] == [qb]
    assert result(d, "status")["queue"]["total"] == 0
    time.sleep(0.5)
    assert len(d.mailbox("someone")) == 1

    # ids that are not (or no longer) queued
    out = queue_op(d, "delete", qb, rc=1)
    assert "delete: 0 of 1 done" in out and "not in the queue" in out, out
    a = result(d, "queue.retry", ids=[qa, qb])
    assert a["matched"] == 2 and a["done"] == 0
    assert {f["id"] for f in a["failed"]} == {qa, qb}
    ctl(d, "queue", "hold", "nothex", rc=1)


def test_suspend_resume_domain(make_ringmx):
    d = ctl_daemon(make_ringmx)
    q = d.send(rcpts=("y@d2.example", "z@d1.example"))
    wait_attempted(d, [q])
    out, _ = ctl(d, "suspend", "D2.Example")
    assert out.strip() == "ok"
    assert [e["domain"] for e in d.events("domain_suspended")] == [
        "D2.Example"]
    queue_op(d, "retry", q)

    def reasons():
        return {r["address"]: r.get("last_error", "")
                for r in show(d, q)["recipients"]}
    wait_for(lambda: "4.4.5" in reasons()["y@d2.example"], 10,
             "suspended domain deferred with 4.4.5")
    assert "suspended by the operator" in reasons()["y@d2.example"]
    assert "4.4.3" in reasons()["z@d1.example"]   # other domains as before
    assert any("4.4.5" in e["reason"] and e["rcpt"] == "<y@d2.example>"
               for e in d.events("deferred"))
    n = show(d, q)["attempts"]
    # resume: waiting mail for the domain is attempted at once
    a = ctl(d, "resume", "d2.example", json_out=True)
    assert a == {"v": 1, "ok": True, "result": {}}
    assert [e["domain"] for e in d.events("domain_resumed")] == [
        "d2.example"]
    wait_for(lambda: show(d, q)["attempts"] > n, 10, "attempt on resume")
    assert "4.4.3" in reasons()["y@d2.example"]
    error(d, "suspend", "bad_request")
    error(d, "resume", "bad_request", domain="")
    error(d, "suspend", "bad_request", domain=7)
    ctl(d, "suspend", rc=2)
    ctl(d, "suspend", "a", "b", rc=2)


def no_greeting(c, secs):
    c.sock.settimeout(secs)
    try:
        data = c.sock.recv(100)
    except socket.timeout:
        return True
    raise AssertionError(f"got {data!r} while paused")


def test_pause_resume_listeners(make_ringmx):
    d = ctl_daemon(make_ringmx)
    addr = f"127.0.0.1:{d.port}"
    out, _ = ctl(d, "pause")
    assert out.strip() == addr
    assert result(d, "status")["listeners"][0]["paused"] is True
    assert re.search(rf"^{addr}\s+smtp\s+no\s+paused$", ctl(d, "status")[0],
                     re.M)
    assert len(d.events("listener_paused")) == 2      # every worker
    c1 = d.connect(greet=False)
    assert no_greeting(c1, 1.0)
    out, _ = ctl(d, "resume")
    assert out.strip() == addr
    c1.sock.settimeout(5)
    c1.expect(220)                       # waited in the backlog
    c1.close()
    with d.connect() as c2:
        c2.ehlo()
    assert result(d, "status")["listeners"][0]["paused"] is False

    # one listener by address; the raw commands
    assert result(d, "pause", listener=addr) == [addr]
    c3 = d.connect(greet=False)
    assert no_greeting(c3, 1.0)
    out, _ = ctl(d, "resume", addr)
    assert out.strip() == addr
    c3.sock.settimeout(5)
    c3.expect(220)
    c3.close()
    assert result(d, "unpause") == [addr]             # already accepting
    _, err = ctl(d, "pause", "192.0.2.1:25", rc=1)
    assert "not_found" in err, err
    error(d, "pause", "bad_request", listener=25)
    ctl(d, "pause", "a", "b", rc=2)


def test_reload(tmp_path, make_ringmx):
    old, new = tmp_path / "rcpt-old", tmp_path / "rcpt-new"
    old.write_text("alice@example.test\n")
    new.write_text("alice@example.test\ncarol@example.test\n")
    d = ctl_daemon(make_ringmx, local_domains=["example.test"],
                   plugins=({"name": "rcpt_table",
                             "path": str(SO / "rcpt_table.so"),
                             "table": str(old)},))

    def carol():
        with d.session() as c:
            c.ok("MAIL FROM:<s@remote.example>")
            return c.cmd("RCPT TO:<carol@example.test>").code
    assert carol() == 550
    # a good file with a changed plugin setting: applied
    d.cfg["plugins"][0]["table"] = str(new)
    d.config_path.write_text(lc_config(d.cfg))
    out, _ = ctl(d, "reload")
    assert "configuration reloaded" in out, out
    assert any(e.get("result") == "ok" for e in d.events("reload"))
    assert carol() == 250
    # ringmxctl -c finds the socket through the configuration
    out, _ = subprocess.run([str(CTL), "-c", str(d.config_path), "status"],
                            capture_output=True, text=True,
                            check=True).stdout, None
    assert "mx.test.example" in out

    # a bad file: the parser's message, exit 1, the old config stays
    d.config_path.write_text(lc_config(d.cfg) + "this is = not libconfig\n")
    _, err = ctl(d, "reload", rc=1)
    assert err.startswith("ringmxctl: reload_failed: "), err
    assert re.search(re.escape(str(d.config_path)) + r":\d+: ", err), err
    a = ctl(d, "reload", json_out=True, rc=1)
    assert a["ok"] is False and a["error"]["code"] == "reload_failed"
    assert str(d.config_path) in a["error"]["message"]
    assert any(e.get("result") == "failed" for e in d.events("reload"))
    assert d.running and carol() == 250
    # an unknown key is refused the same way
    d.config_path.write_text(lc_config(dict(d.cfg, no_such_key=1)))
    assert "no_such_key" in error(d, "reload", "reload_failed")
    d.config_path.write_text(lc_config(d.cfg))
    ctl(d, "reload")


# ---------------------------------------------------------------- security

def as_nobody_connect(path, check_eof=True):
    """The first answer line nobody gets on path (in a forked child)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(5)
            s.connect(path)
            try:
                s.sendall(b'{"v":1,"cmd":"status"}\n')
            except (BrokenPipeError, ConnectionResetError):
                pass        # refused and closed before we wrote
            data = b""
            while b"\n" not in data:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            rest = b"-"
            try:
                if check_eof:
                    rest = s.recv(10)   # denied: closed after the line
            except ConnectionResetError:
                rest = b""  # closed with our request unread: a reset
            except OSError:
                pass
            os.write(w, json.dumps({"line": data.decode(),
                                    "eof": rest == b""}).encode())
        except BaseException as e:  # noqa: BLE001 - report to the parent
            os.write(w, json.dumps({"exc": repr(e)}).encode())
        finally:
            os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 65536):
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    return json.loads(data)


def open_path_for_others(d):
    for p in (d.root.parent, d.root):
        os.chmod(p, 0o755)


def test_denied_for_other_users(make_ringmx):
    d = ctl_daemon(make_ringmx)
    open_path_for_others(d)
    os.chmod(d.sock, 0o666)
    got = as_nobody_connect(d.sock)
    assert "exc" not in got, got
    ans = json.loads(got["line"])
    assert ans == {"v": 1, "ok": False, "error": {
        "code": "denied", "message": "permission denied"}}
    assert got["eof"], "the connection stays open after denied"
    ev = wait_for(lambda: d.events("control_denied"), 5, "denied logged")
    assert ev[0]["uid"] == "65534"
    # the client says so and exits 1
    _, err = ctl(d, "status", rc=1, user="nobody")
    assert "denied" in err, err
    # root still gets in
    assert result(d, "status")["pid"] == d.pid

    # control_group: mode 0660, that group, its members are let in
    d2 = ctl_daemon(make_ringmx, control_group="nogroup")
    st = os.stat(d2.sock)
    assert stat.S_IMODE(st.st_mode) == 0o660 and st.st_gid == 65534
    open_path_for_others(d2)
    got = as_nobody_connect(d2.sock, check_eof=False)
    assert json.loads(got["line"])["ok"] is True, got


def test_malformed_requests(make_ringmx):
    d = ctl_daemon(make_ringmx)
    r = Raw(d)
    cases = [
        (b"hello", "bad_json"),
        (b"[1,2,3]", "bad_json"),
        (b'"status"', "bad_json"),
        (b'{"v":1,"cmd":', "bad_json"),
        (b'{"v":1,"cmd":"status"} x', "bad_json"),      # one object
        (b'{"v":1,"cmd":"status"}{"v":1,"cmd":"stats"}', "bad_json"),
        (b'{"v":1}', "bad_request"),
        (b'{"v":1,"cmd":5}', "bad_request"),
        (b'{"v":1,"cmd":"nope"}', "unknown_command"),
        (b'{"v":2,"cmd":"status"}', "bad_version"),
        (b'{"v":"1","cmd":"status"}', "bad_version"),
        (b'{"v":1,"cmd":"status","args":[]}', "bad_request"),
        (b'{"v":1,"cmd":"queue.list","args":{"limit":"x"}}', "bad_request"),
        (b'{"v":1,"cmd":"queue.list","args":{"limit":0}}', "bad_request"),
        (b'{"v":1,"cmd":"queue.list","args":{"limit":100000}}',
         "bad_request"),
        (b'{"v":1,"cmd":"queue.list","args":{"sender":5}}', "bad_request"),
        (b'{"v":1,"cmd":"queue.list","args":{"state":"gone"}}',
         "bad_request"),
        (b'{"v":1,"cmd":"queue.list","args":{"older_than":-1}}',
         "bad_request"),
        (b'{"v":1,"cmd":"queue.list","args":{"older_than":"1h"}}',
         "bad_request"),
        (b'{"v":1,"cmd":"queue.show","args":{"id":12}}', "bad_request"),
        (b'{"v":1,"cmd":"queue.show","args":{"id":"0000000000000001",'
         b'"body":"yes"}}', "bad_request"),
        (b'{"v":1,"cmd":"queue.hold","args":{"ids":"0000000000000001"}}',
         "bad_request"),
        (b'{"v":1,"cmd":"queue.hold","args":{"ids":["zz"]}}',
         "bad_request"),
        (b'{"v":1,"cmd":"queue.hold","args":{"ids":[1]}}', "bad_request"),
        (b'{"v":1,"cmd":"queue.delete","args":{"domain":["a"]}}',
         "bad_request"),
        (b'{"v":1,"cmd":"queue.delete","args":{"domain":"a",'
         b'"confirm":"yes"}}', "bad_request"),
        (b'{"v":1,"cmd":"queue.delete","args":{"ids":[],"confirm":1}}',
         "bad_request"),
        (b'{"v":1,"cmd":"trace","args":{}}', "bad_request"),
        (b'{"v":1,"cmd":"trace","args":{"ip":"1.2.3.4","id":"1"}}',
         "bad_request"),
    ]
    # pipelined in one write, an empty line among them (ignored): one
    # answer per request, in order
    r.send(b"\n".join(c for c, _ in cases) + b"\n\n" +
           b'{"cmd":"status"}\n')
    for req, code in cases:
        a = r.line()
        assert a["v"] == 1 and a["ok"] is False, (req, a)
        assert a["error"]["code"] == code, (req, a)
        assert isinstance(a["error"]["message"], str), (req, a)
    a = r.line()                         # "v" may be left out
    assert a["ok"] is True and a["result"]["pid"] == d.pid
    # CRLF line ends are fine too
    r.send(b'{"v":1,"cmd":"status"}\r\n')
    assert r.line()["ok"] is True
    # a line over 64 KiB: line_too_long, then closed
    r.send(b'{"v":1,"cmd":"status","pad":"' + b"x" * 100 * 1024 + b'"}')
    a = r.line()
    assert a["ok"] is False and a["error"]["code"] == "line_too_long", a
    assert r.eof(), "not closed after line_too_long"
    r.close()
    # the same with the newline sent at once
    r = Raw(d)
    r.send(b'{"v":1,"pad":"' + b"y" * 100 * 1024 + b'"}\n')
    assert r.line()["error"]["code"] == "line_too_long"
    assert r.eof()
    r.close()
    # the daemon is fine
    assert result(d, "status")["pid"] == d.pid
    # 32 clients at once; the 33rd is told so and closed
    many = [Raw(d) for _ in range(32)]
    for k in many[:2]:
        assert k.call("status")["ok"] is True
    extra = Raw(d)
    a = extra.line()
    assert a["ok"] is False and a["error"]["code"] == "busy", a
    assert extra.eof()
    extra.close()
    for k in many:
        k.close()
    wait_for(lambda: call(d, "status")["ok"], 5, "a slot again")

    # the client's own usage errors (exit 2) and an absent socket (exit 1)
    for argv in ([], ["bogus"], ["status", "extra"], ["queue"],
                 ["queue", "list", "extra"], ["queue", "frob"],
                 ["queue", "list", "--limit", "x"], ["trace"],
                 ["--nope", "status"]):
        p = subprocess.run([str(CTL), "--socket", d.sock, *argv],
                           capture_output=True, text=True, timeout=10)
        assert p.returncode == 2 and "usage:" in p.stderr, (argv, p)
    p = subprocess.run([str(CTL), "--socket", str(d.root / "none.sock"),
                        "status"], capture_output=True, text=True,
                       timeout=10)
    assert p.returncode == 1 and "is ringmx running?" in p.stderr, p


def test_slow_client_does_not_block_others(make_ringmx):
    d = ctl_daemon(make_ringmx)
    slow = Raw(d)
    slow.s.setblocking(False)
    req = b'{"v":1,"cmd":"metrics"}\n' * 5000   # ~30 MB of answers
    sent = 0
    deadline = time.monotonic() + 10
    while sent < len(req) and time.monotonic() < deadline:
        _, w, _ = select.select([], [slow.s], [], 0.5)
        if w:
            sent += slow.s.send(req[sent:])
    assert sent == len(req)
    time.sleep(0.2)
    for _ in range(3):
        t0 = time.monotonic()
        assert result(d, "status")["pid"] == d.pid
        assert time.monotonic() - t0 < 1.0, "status waited for the slow one"
    # the slow client's answers are there when it finally reads
    slow.s.setblocking(True)
    slow.s.settimeout(20)
    for _ in range(300):
        assert slow.line()["ok"] is True
    slow.close()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M)[1])


def test_unread_answers_are_not_piled_up(make_ringmx):
    """80 requests for ~1 MiB answers, none read: the daemon computes only
    about 1 MiB ahead (its memory stays flat), serves others meanwhile,
    and the reader gets every answer when it reads at last."""
    d = ctl_daemon(make_ringmx)
    body = ("z" * 998 + "\r\n") * 1024                  # 1 MiB
    q = d.send(make_msg(body=body), rcpts=("y@d2.example",))
    assert len(result(d, "queue.show", id=q, body=True)["body"]) == len(body)
    base = rss_kib(d.pid)
    r = Raw(d, timeout=20)
    line = json.dumps({"v": 1, "cmd": "queue.show",
                       "args": {"id": q, "body": True}}).encode() + b"\n"
    r.s.sendall(line * 80)
    time.sleep(1)
    t0 = time.monotonic()
    assert result(d, "status")["queue"]["total"] == 1
    assert time.monotonic() - t0 < 1.0
    grown = rss_kib(d.pid) - base
    assert grown < 24 * 1024, f"RSS grew by {grown} KiB"
    for _ in range(80):
        a = r.line()
        assert a["ok"] and len(a["result"]["body"]) == len(body)
    r.close()


def test_trace_streams_log_lines(make_ringmx):
    d = ctl_daemon(make_ringmx)
    p = subprocess.Popen([str(CTL), "--socket", d.sock, "trace", "--ip",
                          "127.0.0.1"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        time.sleep(0.3)
        q = d.send()
        out = b""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and b"event=disconnect" not in out:
            rr, _, _ = select.select([p.stdout], [], [], 0.5)
            if rr:
                out += os.read(p.stdout.fileno(), 65536)
        lines = out.decode().splitlines()
        assert any("event=connect" in l and "ip=127.0.0.1" in l
                   for l in lines), lines
        assert any("event=queued" in l and q in l for l in lines), lines
        assert all("ip=127.0.0.1" in l for l in lines), lines
    finally:
        p.terminate()
        p.wait(5)
    # one trace per connection
    r = Raw(d)
    none = "00000000DEADBEEF"           # no log line will carry it
    assert r.call("trace", id=none)["result"] == {"id": none,
                                                  "streaming": True}
    assert r.call("trace", id=none)["error"]["code"] == "bad_request"
    r.close()
