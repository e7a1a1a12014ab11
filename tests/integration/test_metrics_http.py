"""The Prometheus HTTP endpoint (metrics { listen }) on worker 0's ring:
counters move with traffic, the exposition parses, other paths and
methods are refused, and the endpoint does not disturb mail."""

import re
import socket
import time
import urllib.error
import urllib.request

from conftest import free_port

LINE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? [0-9.eE+-]+$')


def scrape(port, path="/metrics"):
    # 503 while the daemon is still starting (before event=ready)
    deadline = time.monotonic() + 10
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}",
                                        timeout=10) as r:
                assert r.status == 200
                assert r.headers["Content-Type"].startswith("text/plain")
                return r.read().decode()
        except urllib.error.HTTPError as e:
            if e.code != 503 or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def value(text, name):
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_metrics_endpoint(make_ringmx):
    port = free_port()
    d = make_ringmx(metrics={"listen": f"127.0.0.1:{port}"})
    before = scrape(port)
    for line in before.splitlines():
        assert line.startswith("#") or LINE.match(line), line
    d.send()
    d.wait_mail("alice")
    after = scrape(port)
    assert value(after, "ringmx_messages_queued_total") == \
        value(before, "ringmx_messages_queued_total") + 1
    assert value(after, "ringmx_delivered_total") >= 1
    assert 'ringmx_queue_messages{state="held"} 0' in after
    assert "ringmx_uptime_seconds" in after


def test_metrics_refusals(make_ringmx):
    port = free_port()
    make_ringmx(metrics={"listen": f"127.0.0.1:{port}"})
    for path, code in (("/nope", 404),):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}{path}",
                                   timeout=10)
            raise AssertionError("no error")
        except urllib.error.HTTPError as e:
            assert e.code == code
    req = urllib.request.Request(f"http://127.0.0.1:{port}/metrics",
                                 data=b"x", method="POST")
    try:
        urllib.request.urlopen(req, timeout=10)
        raise AssertionError("no error")
    except urllib.error.HTTPError as e:
        assert e.code == 405
    # a client that sends nothing is closed after the timeout, others
    # are served meanwhile
    s = socket.create_connection(("127.0.0.1", port))
    assert "ringmx_uptime_seconds" in scrape(port)
    s.settimeout(20)
    assert s.recv(10) == b""
    s.close()
