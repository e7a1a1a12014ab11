"""RINGMX_POLL_WAIT=1, the profiling aid bench/scaling.sh relies on: with it
a worker waits in ppoll instead of io_uring_enter. Mail must flow as fast
as without it (no completion left waiting for the 1 s loop timeout), and
the release build must run under `valgrind --tool=callgrind` with it (the
instructions-per-message figures in docs/performance.md come from there).
"""

import concurrent.futures
import os
import shutil
import time

import pytest

from conftest import REPO, make_msg

REL = REPO / "build/ringmx"
MSGS, SESSIONS = 30, 3


def send_batch(d, tag, n):
    """n transactions on one connection; returns their durations (s)."""
    took = []
    with d.session() as c:
        for i in range(n):
            t0 = time.monotonic()
            c.transaction(msg=make_msg(msgid=f"<{tag}.{i}@poll.test>"))
            took.append(time.monotonic() - t0)
    return took


def run_load(d):
    with concurrent.futures.ThreadPoolExecutor(SESSIONS) as ex:
        futs = [ex.submit(send_batch, d, f"s{k}", MSGS // SESSIONS)
                for k in range(SESSIONS)]
        return sorted(t for f in futs for t in f.result())


def test_poll_wait_delivers_without_stalls(make_ringmx):
    d = make_ringmx(start=False)
    d.start(env={"RINGMX_POLL_WAIT": "1"})
    took = run_load(d)
    d.wait_mail("alice", MSGS)
    # a completion that only the 1 s wait timeout picks up (the committer's
    # eventfd, deferred task work) makes every transaction take >= 1 s; on
    # loopback one takes milliseconds. The median, so that one slow moment
    # of a busy machine does not fail the test.
    median = took[len(took) // 2]
    assert median < 0.5, f"median transaction {median:.2f} s"
    assert d.stop() == 0


@pytest.mark.skipif(shutil.which("valgrind") is None,
                    reason="valgrind not installed")
def test_release_build_runs_under_callgrind(make_ringmx, tmpdir_clean):
    assert REL.exists(), "build/ringmx not built"
    out = tmpdir_clean / "callgrind.out"
    # what bench/scaling.sh does: no seccomp (valgrind cannot run under
    # it), no user switch (callgrind writes its file at exit), 1 worker
    kw = {"user": "root"} if os.geteuid() == 0 else {}
    d = make_ringmx(start=False, binary=REL, workers=1, sandbox=False, **kw)
    d.start(wrapper=("valgrind", "--tool=callgrind", "--quiet",
                     f"--callgrind-out-file={out}"),
            env={"RINGMX_POLL_WAIT": "1"}, wait=False)
    d.wait_ready(timeout=120)
    run_load(d)
    d.wait_mail("alice", MSGS, timeout=60)
    assert d.stop(timeout=60) == 0
    totals = [int(l.split()[1]) for l in out.read_text().splitlines()
              if l.startswith(("summary:", "totals:"))]
    assert totals and totals[0] > 0, "no instruction count written"
