"""The worker loop takes no locks: under strace, 2,000 messages over 20
concurrent sessions must cause next to no futex(2) calls.

What may remain is start-up and shut-down: pthread_create/pthread_join of
the worker, committer and delivery threads (a join waits on a futex),
one-time initialisation (pthread_once, the dynamic loader) and, with the
ASan build, the sanitizer's own internal locks (which is why the release
build is preferred). Uncontended mutexes (LMDB's writer lock, taken only
by each shard's single committer) never enter the kernel."""

import os
import shutil
import signal
import threading

import pytest

from conftest import ringmx_bin, wait_for

MESSAGES, SESSIONS = 2000, 20


def futex_calls(summary):
    """The 'calls' column of the futex row of strace -c output."""
    for line in summary.splitlines():
        parts = line.split()
        if parts and parts[-1] == "futex":
            return int(parts[3])
    return 0


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("strace"), reason="strace missing")
def test_worker_loop_futex_free(make_ringmx):
    # user = root: no privilege switch (glibc's setxid broadcast to every
    # thread costs futex calls at start-up, which is not the loop)
    d = make_ringmx(start=False, binary=ringmx_bin(release=True), workers=2,
                    hold=True, limits={"conn_per_ip": 1000}, user="root")
    out = d.root / "strace.out"
    d.start(wrapper=["strace", "-f", "-c", "--seccomp-bpf", "-e",
                     "trace=futex", "-o", str(out)],
            # LeakSanitizer cannot run under ptrace (ASan build fallback)
            env={"ASAN_OPTIONS": "abort_on_error=1:detect_leaks=0"})
    pidfile = d.state_dir / "ringmx.pid"
    pid = int(wait_for(lambda: pidfile.exists() and pidfile.read_text(), 10,
                       "pid file"))
    errors = []

    def client(n):
        try:
            with d.session() as c:
                for _ in range(n):
                    c.transaction()
                c.ok("QUIT", 221)
        except Exception as e:  # reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=client, args=(MESSAGES // SESSIONS,))
               for _ in range(SESSIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors, errors[:3]
    os.kill(pid, signal.SIGTERM)  # strace itself blocks fatal signals
    assert d.wait(60) == 0, d.log()[-3000:]
    queued = len(d.events("queued"))
    assert queued == MESSAGES, f"{queued} queued"
    calls = futex_calls(out.read_text())
    print(f"futex calls={calls} messages={MESSAGES} binary={d.binary}")
    assert calls < MESSAGES // 100, out.read_text()
