"""The ordering that protects against power loss (kill -9 never loses the
page cache, so the crash test cannot show it): every 250 after end of data
is sent only after a disk sync that started after the data arrived.

ringmx runs under `strace -f -tt -T` tracing the sync system calls
(fdatasync, fsync, msync, sync_file_range); the client records, per
message, when it sent the final dot and when it received the 250, on the
same clock (CLOCK_REALTIME, the machine's local time of day). For every
message there must be a sync call that started after its dot was sent and
returned before its 250 arrived. One session, messages one after the
other: then the only syncs in that window are the ones for that message
(with sessions in parallel another message's sync could fill the window
and hide a missing one)."""

import datetime
import os
import re
import shutil
import signal
import socket
import threading
import time

import pytest

from conftest import make_msg, ringmx_bin, wait_for

SYNC_RE = re.compile(
    r"^(\d+)\s+(\d\d):(\d\d):(\d\d\.\d+) (?:<\.\.\. )?"
    r"(fdatasync|fsync|msync|sync_file_range)(.*)$")
DUR_RE = re.compile(r"<(\d+\.\d+)>\s*$")


def tod(t):
    """Seconds since local midnight of a time.time() value."""
    d = datetime.datetime.fromtimestamp(t)
    return d.hour * 3600 + d.minute * 60 + d.second + d.microsecond / 1e6


def syncs(text):
    """[(start, end)] in seconds since midnight, from strace -f -tt -T."""
    out, pending = [], {}
    for line in text.splitlines():
        m = SYNC_RE.match(line)
        if not m:
            continue
        pid, hh, mm, ss, call, rest = m.groups()
        t = int(hh) * 3600 + int(mm) * 60 + float(ss)
        if "<unfinished ...>" in rest:
            pending[(pid, call)] = t
            continue
        if "resumed>" in rest:
            start = pending.pop((pid, call), None)
            if start is not None:
                out.append((start, t))
            continue
        d = DUR_RE.search(rest)
        if d:
            out.append((t, t + float(d.group(1))))
    return out


def one_session(d, n, records, errors):
    try:
        s = socket.create_connection((d.host, d.port), 20)
        f = s.makefile("rb")

        def reply():
            while True:
                line = f.readline()
                if line[3:4] != b"-":
                    return line

        assert reply().startswith(b"220")
        s.sendall(b"EHLO client.test\r\n")
        assert reply().startswith(b"250")
        for i in range(n):
            s.sendall(b"MAIL FROM:<sender@example.org>\r\n"
                      b"RCPT TO:<alice@localhost>\r\nDATA\r\n")
            assert reply().startswith(b"250")
            assert reply().startswith(b"250")
            assert reply().startswith(b"354")
            s.sendall(make_msg(subject=f"order {i}"))
            t_dot = time.time()
            s.sendall(b".\r\n")
            r = reply()
            t_250 = time.time()
            assert r.startswith(b"250"), r
            records.append((tod(t_dot), tod(t_250)))
        s.sendall(b"QUIT\r\n")
        s.close()
    except Exception as e:  # reported by the test
        errors.append(repr(e))


@pytest.mark.skipif(not shutil.which("strace"), reason="strace missing")
def test_no_250_before_its_sync(make_ringmx):
    d = make_ringmx(start=False, binary=ringmx_bin(release=True), workers=2,
                    hold=True)
    out = d.root / "strace.out"
    d.start(wrapper=["strace", "-f", "-tt", "-T", "-e",
                     "trace=fdatasync,fsync,msync,sync_file_range",
                     "-o", str(out)],
            env={"ASAN_OPTIONS": "abort_on_error=1:detect_leaks=0"})
    pidfile = d.state_dir / "ringmx.pid"
    pid = int(wait_for(lambda: pidfile.exists() and pidfile.read_text(), 10,
                       "pid file"))
    records, errors = [], []
    threads = [threading.Thread(target=one_session,
                                args=(d, 100, records, errors))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:3]
    os.kill(pid, signal.SIGTERM)  # strace blocks fatal signals itself
    assert d.wait(60) == 0, d.log()[-3000:]
    calls = syncs(out.read_text())
    assert calls, "no sync call traced"
    bad = [(dot, ok) for dot, ok in records
           if not any(start >= dot and end <= ok for start, end in calls)]
    print(f"messages={len(records)} syncs={len(calls)} "
          f"syncs/message={len(calls) / len(records):.2f}")
    assert len(records) == 100
    assert not bad, f"{len(bad)} 250s without a sync between dot and 250: " \
        f"{bad[:3]}"
