"""Connection limits: per client IP across all workers, and in total."""

import contextlib

from conftest import wait_for


def greeted(d, source):
    with d.connect(greet=False, source=source) as c:
        try:
            return c.reply().code == 220
        except (EOFError, OSError):
            return False


def open_many(stack, d, n, source):
    conns = [stack.enter_context(d.connect(greet=False, source=source))
             for _ in range(n)]
    return [(c, c.reply()) for c in conns]


def test_per_ip_limit(make_ringmx):
    d = make_ringmx(workers=2, limits={"conn_per_ip": 3})
    with contextlib.ExitStack() as stack:
        got = open_many(stack, d, 20, "127.0.0.2")
        ok = [c for c, r in got if r.code == 220]
        refused = [(c, r) for c, r in got if r.code != 220]
        assert len(ok) == 3, [r for _, r in got]
        assert len(refused) == 17
        for c, r in refused:
            assert r.code == 421 and r.enh == "4.7.0", r
            assert c.read_to_eof() == b""
        for c in ok:  # the admitted ones work
            c.ok("EHLO client.test")
            c.transaction()
        # other addresses are not affected
        with d.session() as c:
            c.ok("NOOP")
        # closing one admits one more
        ok[0].ok("QUIT", 221)
        ok[0].close()
        wait_for(lambda: greeted(d, "127.0.0.2"), 10,
                 "a slot freed after QUIT")
    d.wait_mail("alice", 3)


def test_total_limit(make_ringmx):
    d = make_ringmx(workers=2, limits={"conn_max": 4})
    with contextlib.ExitStack() as stack:
        got = open_many(stack, d, 4, "127.0.0.3")
        assert [r.code for _, r in got] == [220] * 4, got
        got = open_many(stack, d, 3, "127.0.0.4")
        for c, r in got:
            assert r.code == 421 and r.enh and r.enh.startswith("4."), r
            assert c.read_to_eof() == b""
