"""Next-hop failures: each ends in bounded time with a deferral (a
"deferred" log event with a 4xx or a reason, the message still queued)
and is retried later.

Peers are small Python socket servers on 127.0.0.x reached through a
route_table smarthost route (as test_outbound.py's relay()), or DNS
servers on loopback answering SERVFAIL or nothing for the MX lookup.

The SMTP client's own timeouts (RFC 5321 4.5.3.2: 300 s for the greeting
and commands, 180 s per body block, 600 s after the dot) are capped with
outbound.reply_timeout here, so a peer that never greets or stops
reading mid-DATA is given up on in seconds.
"""

import socket
import struct
import threading

import pytest

from conftest import free_port, make_msg, wait_for
from test_outbound import relay, send

# outbound.reply_timeout caps the RFC 5321 client timeouts (minutes) so
# that a stalled peer is given up on quickly here
FAST = {"allow_loopback": True, "connect_timeout": 2, "reply_timeout": 3}


class FaultPeer:
    """Accepts connections on host:port and runs behave(conn) for each
    in a thread; counts connections."""

    def __init__(self, behave, host="127.0.0.2"):
        self.behave, self.host, self.port = behave, host, free_port()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, self.port))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.stop_ev = threading.Event()
        self.conns = 0
        self.held = []
        self.t = threading.Thread(target=self._loop, daemon=True)
        self.t.start()

    def _loop(self):
        while not self.stop_ev.is_set():
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.conns += 1
            self.held.append(c)
            threading.Thread(target=self._run, args=(c,),
                             daemon=True).start()

    def _run(self, c):
        try:
            self.behave(c, self.stop_ev)
        except OSError:
            pass

    def stop(self):
        self.stop_ev.set()
        self.sock.close()
        for c in self.held:
            try:
                c.close()
            except OSError:
                pass
        self.t.join(2)


def read_line(c):
    b = b""
    while not b.endswith(b"\n"):
        x = c.recv(1)
        if not x:
            raise OSError("closed")
        b += x
    return b


def never_greet(c, stop):
    stop.wait(700)


def stall_in_data(c, stop):
    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    c.sendall(b"220 peer ESMTP\r\n")
    while True:
        line = read_line(c).upper()
        if line.startswith(b"EHLO"):
            c.sendall(b"250 peer\r\n")
        elif line.startswith(b"DATA"):
            c.sendall(b"354 go\r\n")
            stop.wait(700)  # never reads again
            return
        else:
            c.sendall(b"250 ok\r\n")


def close_mid_reply(c, stop):
    c.sendall(b"220 peer ESMTP\r\n")
    read_line(c)
    c.sendall(b"250-peer\r\n250-PIPEL")
    c.close()


def endless_reply(c, stop):
    c.sendall(b"220 peer ESMTP\r\n")
    read_line(c)
    line = b"250-" + b"x" * 70 + b"\r\n"
    for _ in range(2_000_000):  # bounded: at most ~150 MB
        if stop.is_set():
            return
        c.sendall(line * 100)


def garbage(c, stop):
    c.sendall(b"\x16\x03\x01 hello, this is not SMTP \x00\xff\r\n")
    stop.wait(30)


@pytest.fixture
def fault_peer():
    started = []

    def make(behave):
        p = FaultPeer(behave)
        started.append(p)
        return p

    yield make
    for p in started:
        p.stop()


def deferred(d, rcpt):
    return [e for e in d.events("deferred") if e.get("rcpt", "").strip("<>") == rcpt]


def assert_deferred_and_retried(d, rcpt, within, peer=None):
    wait_for(lambda: deferred(d, rcpt), within, f"deferral of {rcpt}")
    first = deferred(d, rcpt)[0]
    assert d.queued() == 1, "the message must stay queued"
    assert not d.events("bounced", all_runs=True)
    # retried later (retry_initial 1 s): a second attempt, still deferred
    wait_for(lambda: len(deferred(d, rcpt)) >= 2, within + 5,
             "a retry")
    if peer is not None:
        assert peer.conns >= 2
    assert d.queued() == 1
    return first


def run_fault(make_ringmx, tmp_path, fault_peer, behave, within):
    p = fault_peer(behave)
    d = relay(make_ringmx, tmp_path,
              {"remote.example": f"smtp:[{p.host}]:{p.port}"},
              outbound={"allow_loopback": True, "connect_timeout": 2})
    send(d, "alice@localhost", ["bob@remote.example"], make_msg())
    return d, assert_deferred_and_retried(d, "bob@remote.example", within, p)


def test_peer_closes_mid_reply(make_ringmx, tmp_path, fault_peer):
    run_fault(make_ringmx, tmp_path, fault_peer, close_mid_reply, 15)


def test_peer_answers_garbage(make_ringmx, tmp_path, fault_peer):
    run_fault(make_ringmx, tmp_path, fault_peer, garbage, 15)


def test_peer_endless_multiline_reply(make_ringmx, tmp_path, fault_peer):
    run_fault(make_ringmx, tmp_path, fault_peer, endless_reply, 20)


def test_connect_refused(make_ringmx, tmp_path):
    port = free_port()  # nobody listens
    d = relay(make_ringmx, tmp_path,
              {"remote.example": f"smtp:[127.0.0.2]:{port}"},
              outbound={"allow_loopback": True, "connect_timeout": 2})
    send(d, "alice@localhost", ["bob@remote.example"], make_msg())
    assert_deferred_and_retried(d, "bob@remote.example", 15)


def test_peer_never_greets(make_ringmx, tmp_path, fault_peer):
    p = fault_peer(never_greet)
    d = relay(make_ringmx, tmp_path,
              {"remote.example": f"smtp:[{p.host}]:{p.port}"},
              outbound=FAST)
    send(d, "alice@localhost", ["bob@remote.example"], make_msg())
    assert_deferred_and_retried(d, "bob@remote.example", 20, p)


def test_peer_stalls_mid_data(make_ringmx, tmp_path, fault_peer):
    # a body larger than the socket buffers, so the client blocks
    p = fault_peer(stall_in_data)
    d = relay(make_ringmx, tmp_path,
              {"remote.example": f"smtp:[{p.host}]:{p.port}"},
              outbound=FAST)
    send(d, "alice@localhost", ["bob@remote.example"],
         make_msg(body="y" * 998 + "\r\n") * 1 +
         (b"z" * 998 + b"\r\n") * 20000)
    assert_deferred_and_retried(d, "bob@remote.example", 30, p)


# ------------------------------------------------------------ DNS

class FaultDNS:
    """A UDP DNS server on 127.0.0.x:port: SERVFAIL for every query, or
    no answer at all."""

    def __init__(self, mode, host="127.0.0.53"):
        self.mode, self.host, self.port = mode, host, free_port()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, self.port))
        self.sock.settimeout(0.2)
        self.queries = 0
        self.stop_ev = threading.Event()
        self.t = threading.Thread(target=self._loop, daemon=True)
        self.t.start()

    def _loop(self):
        while not self.stop_ev.is_set():
            try:
                q, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            if len(q) < 12:
                continue
            self.queries += 1
            if self.mode == "servfail":
                self.sock.sendto(self._servfail(q), peer)

    @staticmethod
    def _servfail(q):
        qid, flags = struct.unpack("!HH", q[:4])
        i = 12
        while i < len(q) and q[i] != 0:
            i += q[i] + 1
        flags = 0x8000 | (flags & 0x0100) | 0x0080 | 2
        return (struct.pack("!HHHHHH", qid, flags, 1, 0, 0, 0)
                + q[12:i + 5])

    def stop(self):
        self.stop_ev.set()
        self.t.join(2)
        self.sock.close()


@pytest.mark.parametrize("mode,within", [("servfail", 15), ("silent", 20)])
def test_mx_lookup_fails(make_ringmx, tmp_path, mode, within):
    dns = FaultDNS(mode)
    try:
        conf = tmp_path / "unbound.conf"
        conf.write_text(
            "server:\n    do-not-query-localhost: no\n"
            '    domain-insecure: "fault.example."\n'
            'stub-zone:\n    name: "fault.example."\n'
            f"    stub-addr: {dns.host}@{dns.port}\n")
        d = make_ringmx(relay_networks=["127.0.0.0/8"],
                        outbound={"allow_loopback": True},
                        queue={"retry_initial": 1, "retry_max": 2},
                        dns={"mode": "resolvconf",
                             "unbound_conf": str(conf), "timeout": 2})
        send(d, "alice@localhost", ["bob@fault.example"], make_msg())
        first = assert_deferred_and_retried(d, "bob@fault.example", within)
        assert dns.queries >= 1
        assert first.get("reason"), first
    finally:
        dns.stop()
