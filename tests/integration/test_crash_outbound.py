"""kill -9 under concurrent inbound AND outbound load: every message that
got its 250 reaches the next hop (an aiosmtpd peer on loopback, through a
smarthost route) after the restarts; duplicates (deliveries in flight at
the kill) are counted and allowed, loss is not."""

import asyncio
import collections
import os
import random
import secrets
import threading
import time

import pytest

from conftest import REPO, free_port, wait_for
from crash_load import session
from peers import Peer, Recorder

SO = REPO / "build/asan/plugins/route_table.so"
SESSIONS, KILLS = 16, 8


def client_thread(d, stop, acked, run):
    async def main():
        await asyncio.gather(*(session(d, stop, acked, f"{i}.{run}",
                                       "bob@remote.example", b"o")
                               for i in range(SESSIONS)))
    asyncio.run(main())


def received(h):
    ids = collections.Counter()
    with h.lock:
        for env in h.messages:
            for line in env.content.split(b"\r\n"):
                if line.lower().startswith(b"message-id:"):
                    ids[line.split(b":", 1)[1].strip().decode()] += 1
                    break
    return ids


@pytest.mark.crash
@pytest.mark.slow
def test_kill9_under_outbound_load(make_ringmx, tmp_path, capsys):
    seed = int(os.environ.get("RINGMX_CRASH_SEED", secrets.randbits(32)))
    rng = random.Random(seed)
    h = Recorder()
    p = Peer(h, "127.0.0.2", free_port())
    p.start()
    table = tmp_path / "routes"
    table.write_text(f"remote.example smtp:[127.0.0.2]:{p.port}\n")
    d = make_ringmx(workers=2, relay_networks=["127.0.0.0/8"],
                    outbound={"allow_loopback": True},
                    queue={"retry_initial": 1, "retry_max": 2},
                    limits={"conn_per_ip": 1000},
                    plugins=({"name": "route_table", "path": str(SO),
                              "table": str(table)},))
    stop, acked = threading.Event(), []
    t = threading.Thread(target=client_thread,
                         args=(d, stop, acked, secrets.token_hex(4)),
                         daemon=True)
    t.start()
    try:
        for _ in range(KILLS):
            n, got = len(acked), sum(received(h).values())
            wait_for(lambda: len(acked) > n and
                     sum(received(h).values()) > got, 30,
                     f"accepting and delivering after restart (seed {seed})")
            time.sleep(rng.uniform(0, 0.5))
            d.kill()
            d.start()
    finally:
        stop.set()
        t.join(30)
    want = set(acked)
    wait_for(lambda: want <= received(h).keys() and d.queued() == 0, 60,
             f"every acknowledged message at the next hop (seed {seed})")
    assert d.stop() == 0
    p.stop()
    found = received(h)
    dup = sum(c - 1 for c in found.values() if c > 1)
    with capsys.disabled():
        print(f"\nacknowledged={len(want)} relayed={len(found)} "
              f"duplicated={dup} kills={KILLS} seed={seed}")
    assert len(want) >= 10 * KILLS
    assert not want - found.keys()
