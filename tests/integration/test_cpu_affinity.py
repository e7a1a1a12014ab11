"""Where ringmx's threads may run: with pin_workers (the default) each worker
loop thread is pinned to one CPU of the process's CPU set, worker k to the
(k mod n)-th; the committer and delivery helper threads keep the whole set
(pinned next to their worker they waited behind any other busy program on
that CPU: docs/performance.md). pin_workers = false pins nothing."""

import os
import signal

import pytest

from conftest import lc_config, make_msg, wait_for


def cpus_allowed(pid):
    """{thread name: [set of allowed CPUs per thread with that name]}."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        name = open(f"/proc/{pid}/task/{tid}/comm").read().strip()
        out.setdefault(name, []).append(os.sched_getaffinity(int(tid)))
    return out


def run_one(d):
    with d.session() as c:
        c.transaction(msg=make_msg())
    d.wait_mail("alice")


needs_two = pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2,
                               reason="one CPU: nothing to pin")


@needs_two
def test_loop_threads_pinned_helpers_free(make_ringmx):
    allowed = sorted(os.sched_getaffinity(0))
    d = make_ringmx(workers=2)
    run_one(d)
    t = cpus_allowed(d.pid)
    assert t["ringmx-w0"] == [{allowed[0]}]
    assert t["ringmx-w1"] == [{allowed[1 % len(allowed)]}]
    for helper in ("ringmx-commit", "ringmx-deliver"):
        assert len(t[helper]) == 2, t
        assert all(s == set(allowed) for s in t[helper]), (helper, t[helper])


@needs_two
def test_more_workers_than_cpus_wrap_around(make_ringmx):
    allowed = sorted(os.sched_getaffinity(0))
    n = len(allowed) + 1
    d = make_ringmx(workers=n)
    run_one(d)
    t = cpus_allowed(d.pid)
    assert t[f"ringmx-w{n - 1}"] == [{allowed[0]}]


def test_one_cpu_given_by_taskset(make_ringmx):
    """Started under `taskset -c <one CPU>`: every thread stays on that CPU
    (the set the process was given is respected, nothing to pin)."""
    last = max(os.sched_getaffinity(0))
    d = make_ringmx(start=False, workers=2)
    d.start(wrapper=("taskset", "-c", str(last)))
    run_one(d)
    for name, sets in cpus_allowed(d.pid).items():
        assert all(s == {last} for s in sets), (name, sets)


def test_pin_workers_false_pins_nothing(make_ringmx):
    allowed = os.sched_getaffinity(0)
    d = make_ringmx(workers=2, pin_workers=False)
    run_one(d)
    for name, sets in cpus_allowed(d.pid).items():
        assert all(s == allowed for s in sets), (name, sets)


@needs_two
def test_pin_workers_needs_restart(make_ringmx):
    d = make_ringmx(workers=2)
    d.cfg["pin_workers"] = False
    d.config_path.write_text(lc_config(d.cfg))
    d.send_signal(signal.SIGHUP)
    wait_for(lambda: d.events("reload"), 20, "event=reload")
    ev = d.events("reload")[-1]
    assert ev["result"] == "ok", ev
    assert "pin_workers" in ev.get("restart_needed", ""), ev
    assert len(cpus_allowed(d.pid)["ringmx-w0"][0]) == 1  # unchanged
