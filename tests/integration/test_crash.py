"""kill -9 at random moments under load: every message that got its 250
must be delivered after the restarts (duplicates are allowed: delivery is
at-least-once, loss is not).

8 client threads, each running 7 asyncio sessions that send one message
after another (56 messages in flight). The daemon is killed with SIGKILL
KILLS times and restarted on the same state_dir each time."""

import asyncio
import collections
import os
import random
import secrets
import threading
import time

import pytest

from conftest import message_id, wait_for
from crash_load import session

THREADS, SESSIONS, KILLS = 8, 7, 20


def client_thread(d, stop, acked, tid, run):
    async def main():
        await asyncio.gather(*(session(d, stop, acked, f"{tid}.{i}.{run}",
                                       f"crash{tid}@localhost")
                               for i in range(SESSIONS)))
    asyncio.run(main())


def scan(d):
    """Counter of Message-IDs in the crash mailboxes."""
    ids = collections.Counter()
    for t in range(THREADS):
        for sub in ("new", "cur"):
            box = d.maildir_root / f"crash{t}" / sub
            for p in (box.iterdir() if box.is_dir() else ()):
                with open(p, "rb") as f:
                    ids[message_id(f.read(4096))] += 1
    return ids


@pytest.mark.crash
@pytest.mark.slow
def test_kill9_loses_no_acknowledged_message(make_ringmx, capsys):
    seed = int(os.environ.get("RINGMX_CRASH_SEED", secrets.randbits(32)))
    rng = random.Random(seed)
    d = make_ringmx(workers=2, hold=False, limits={"conn_per_ip": 1000})
    stop, acked = threading.Event(), []
    run = secrets.token_hex(4)
    threads = [threading.Thread(target=client_thread,
                                args=(d, stop, acked, t, run), daemon=True)
               for t in range(THREADS)]
    for t in threads:
        t.start()
    try:
        for _ in range(KILLS):
            n = len(acked)
            wait_for(lambda: len(acked) > n, 30,
                     f"messages accepted after restart (seed {seed})")
            time.sleep(rng.uniform(0, 0.6))  # a random moment under load
            d.kill()
            d.start()
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    # drain: until every acknowledged id is delivered and the queue is
    # empty, or nothing changes any more
    want, last, since = set(acked), -1, time.monotonic()
    deadline = since + 120
    while time.monotonic() < deadline:
        found = scan(d)
        if want <= found.keys() and d.queued() == 0:
            break
        if sum(found.values()) != last:
            last, since = sum(found.values()), time.monotonic()
        elif time.monotonic() - since > 15:
            break
        time.sleep(0.5)
    left = d.queued()
    assert d.stop() == 0
    found = scan(d)
    missing = want - found.keys()
    dup = sum(c - 1 for c in found.values() if c > 1)
    summary = (f"acknowledged={len(want)} found={len(want) - len(missing)} "
               f"duplicated={dup} kills={KILLS} queue_left={left} "
               f"seed={seed}")
    with capsys.disabled():
        print("\n" + summary)
    assert len(want) >= 20 * KILLS, f"too little load: {summary}"
    assert not missing, f"{summary}; lost e.g. {sorted(missing)[:5]}"
    assert left == 0, f"queue not drained: {summary}"
