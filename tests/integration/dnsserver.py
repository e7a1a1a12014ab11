"""Loopback DNSSEC test zones for libunbound tests: NSD behind a counting
forwarder.

    srv = DNSServer(tmpdir, {
        "test.": Zone("secure", ["mx.test. MX 10 mx1.mx.test.", ...]),
        "insecure.test.": Zone("insecure", [...]),   # delegated, no DS
        "bogus.test.": Zone("bogus", [...]),         # DS in parent, expired
        "1.": Zone("insecure", [...]),               # outside test.: unsigned
    })
    srv.start()
    srv.stub_args()        # ["--stub", "test.=127.0.0.1@PORT", ...]
    srv.trust_anchor       # file with the DS of test.
    srv.unbound_conf       # libunbound fragment (stubs, anchor, local-zone)
    srv.count("mx.test", "MX")   # queries the server received
    srv.servfail.add("sf.test")  # the forwarder answers SERVFAIL for it
    srv.stop()

"test." is always the signed parent and the only trust anchor. Zones under
it are delegated from it (NS ns.test., plus a DS unless "insecure"); a
"bogus" zone is signed with a window that ended 30 days ago. Zones outside
test. are served unsigned (they have no chain of trust: INSECURE).
Records are zone-file lines with absolute names. Everything is generated
under the given directory at start(): keys, zones, signatures (window now
- 1 day .. now + 30 days), nsd.conf; nothing is meant to be committed.

NSD (Debian package nsd) runs in the foreground (-d) on 127.0.0.1 at a
free port, as the current user. It has no query log, so clients talk to a
small UDP+TCP forwarder (threads) that counts (name, type) and relays to
NSD; stub_args() and unbound_conf point at the forwarder. Needs
ldns-keygen and ldns-signzone (Debian package ldnsutils).
"""

import datetime
import os
import pathlib
import signal
import socket
import struct
import subprocess
import threading
import time

RR_TYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 15: "MX", 16: "TXT",
            28: "AAAA", 43: "DS", 46: "RRSIG", 47: "NSEC", 48: "DNSKEY",
            52: "TLSA"}


class Zone:
    """One zone: mode "secure", "insecure" or "bogus", and its records."""

    def __init__(self, mode, records=()):
        if mode not in ("secure", "insecure", "bogus"):
            raise ValueError(f"bad zone mode {mode!r}")
        self.mode = mode
        self.records = list(records)


def _fqdn(name):
    return name if name.endswith(".") else name + "."


def _free_port():
    """A port free for both UDP and TCP on 127.0.0.1."""
    for _ in range(50):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        port = u.getsockname()[1]
        t = socket.socket()
        try:
            t.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            t.close()
            u.close()
        return port
    raise RuntimeError("no free port")


def _parse_question(msg):
    """(qname lower-case without trailing dot, qtype) of a DNS message."""
    if len(msg) < 12:
        return None
    i, labels = 12, []
    while i < len(msg):
        n = msg[i]
        if n == 0:
            i += 1
            break
        if n & 0xC0:
            return None
        labels.append(msg[i + 1:i + 1 + n].decode("ascii", "replace"))
        i += 1 + n
    if i + 4 > len(msg):
        return None
    qtype = struct.unpack("!H", msg[i:i + 2])[0]
    return ".".join(labels).lower(), qtype


def _question_end(msg):
    i = 12
    while i < len(msg) and msg[i] != 0:
        i += 1 + msg[i]
    return i + 5


def _servfail(query):
    """A SERVFAIL reply echoing the question of query."""
    qid, flags = struct.unpack("!HH", query[:4])
    flags = 0x8000 | (flags & 0x0100) | 0x0080 | 2  # QR, RD copied, RA
    return (struct.pack("!HHHHHH", qid, flags, 1, 0, 0, 0)
            + query[12:_question_end(query)])


def _recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf


class _Forwarder:
    """UDP+TCP relay to NSD that counts questions and can fake SERVFAIL."""

    def __init__(self, upstream_port, servfail):
        self.upstream = ("127.0.0.1", upstream_port)
        self.servfail = servfail
        self.counts = {}
        self.lock = threading.Lock()
        self.stopping = False
        for _ in range(50):
            port = _free_port()
            try:
                self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                self.udp.bind(("127.0.0.1", port))
                self.tcp = socket.socket()
                self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                self.tcp.bind(("127.0.0.1", port))
            except OSError:
                continue
            self.port = port
            break
        else:
            raise RuntimeError("no port for the forwarder")
        self.tcp.listen(64)
        self.udp.settimeout(0.2)
        self.tcp.settimeout(0.2)
        self.threads = [threading.Thread(target=self._udp_loop, daemon=True),
                        threading.Thread(target=self._tcp_loop, daemon=True)]
        for t in self.threads:
            t.start()

    def _note(self, msg):
        q = _parse_question(msg)
        if q is None:
            return False
        with self.lock:
            self.counts[q] = self.counts.get(q, 0) + 1
        name = q[0]
        return any(name == s or name.endswith("." + s)
                   for s in self.servfail)

    def _ask(self, msg, tcp):
        if tcp:
            with socket.create_connection(self.upstream, timeout=5) as s:
                s.sendall(struct.pack("!H", len(msg)) + msg)
                n = struct.unpack("!H", _recv_exact(s, 2))[0]
                return _recv_exact(s, n)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(5)
            s.sendto(msg, self.upstream)
            return s.recv(65535)

    def _udp_one(self, msg, peer):
        try:
            reply = _servfail(msg) if self._note(msg) else \
                self._ask(msg, False)
            self.udp.sendto(reply, peer)
        except OSError:
            pass

    def _udp_loop(self):
        while not self.stopping:
            try:
                msg, peer = self.udp.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._udp_one, args=(msg, peer),
                             daemon=True).start()

    def _tcp_conn(self, conn):
        try:
            conn.settimeout(10)
            while True:
                n = struct.unpack("!H", _recv_exact(conn, 2))[0]
                msg = _recv_exact(conn, n)
                reply = _servfail(msg) if self._note(msg) else \
                    self._ask(msg, True)
                conn.sendall(struct.pack("!H", len(reply)) + reply)
        except (OSError, ConnectionError, struct.error):
            pass
        finally:
            conn.close()

    def _tcp_loop(self):
        while not self.stopping:
            try:
                conn, _ = self.tcp.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._tcp_conn, args=(conn,),
                             daemon=True).start()

    def stop(self):
        self.stopping = True
        for t in self.threads:
            t.join(timeout=2)
        self.udp.close()
        self.tcp.close()


class DNSServer:
    """Signed test zones served by NSD on loopback; see the module doc."""

    PARENT = "test."

    def __init__(self, workdir, zones):
        self.dir = pathlib.Path(workdir).resolve()
        self.zones = {_fqdn(k).lower(): v for k, v in zones.items()}
        self.zones.setdefault(self.PARENT, Zone("secure"))
        if self.zones[self.PARENT].mode != "secure":
            raise ValueError("test. is the signed parent")
        self.servfail = set()
        self.nsd = None
        self.fwd = None
        self.nsd_port = None
        self.trust_anchor = self.dir / "trust-anchor.ds"
        self.unbound_conf = self.dir / "unbound.conf"

    # -- generation --------------------------------------------------

    def _run(self, argv, cwd=None):
        p = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed ({p.returncode}): "
                               f"{p.stderr.strip()}")
        return p.stdout

    def _keygen(self, zone):
        keys = self.dir / "keys"
        keys.mkdir(parents=True, exist_ok=True)
        base = self._run(["ldns-keygen", "-a", "ECDSAP256SHA256", "-k",
                          "-r", "/dev/urandom", zone], cwd=keys).strip()
        return keys / base

    def _under_parent(self, zone):
        return zone != self.PARENT and zone.endswith("." + self.PARENT)

    def _write_zone(self, zone, extra):
        serial = int(time.time())
        lines = [f"$ORIGIN {zone}", "$TTL 300",
                 f"@ IN SOA ns.test. hostmaster.test. {serial} 3600 900 "
                 "604800 300",
                 "@ IN NS ns.test."]
        if zone == self.PARENT:
            lines.append("ns.test. IN A 127.0.0.1")
        lines += self.zones[zone].records + extra
        path = self.dir / "zones" / ((zone.rstrip(".") or "root") + ".zone")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n")
        return path

    def _sign(self, path, key, zone, start, end):
        fmt = "%Y%m%d%H%M%S"
        out = path.parent / (path.name + ".signed")
        self._run(["ldns-signzone", "-o", zone, "-i", start.strftime(fmt),
                   "-e", end.strftime(fmt), "-f", str(out), str(path),
                   str(key)])
        return out

    def _generate(self):
        now = datetime.datetime.now(datetime.timezone.utc)
        day = datetime.timedelta(days=1)
        files = {}
        delegations = []
        for zone, z in self.zones.items():
            if zone == self.PARENT:
                continue
            if self._under_parent(zone):
                delegations.append(f"{zone} IN NS ns.test.")
            path = self._write_zone(zone, [])
            if z.mode == "insecure":
                files[zone] = path
                continue
            if not self._under_parent(zone):
                raise ValueError(f"{zone}: only zones under test. can be "
                                 "signed")
            key = self._keygen(zone)
            delegations.append(
                pathlib.Path(str(key) + ".ds").read_text().strip())
            if z.mode == "bogus":
                files[zone] = self._sign(path, key, zone, now - 60 * day,
                                         now - 30 * day)
            else:
                files[zone] = self._sign(path, key, zone, now - day,
                                         now + 30 * day)
        key = self._keygen(self.PARENT)
        path = self._write_zone(self.PARENT, delegations)
        files[self.PARENT] = self._sign(path, key, self.PARENT, now - day,
                                        now + 30 * day)
        self.trust_anchor.write_text(
            pathlib.Path(str(key) + ".ds").read_text())
        return files

    def _nsd_conf(self, files):
        state = self.dir / "nsd"
        state.mkdir(parents=True, exist_ok=True)
        conf = [
            "server:",
            "    ip-address: 127.0.0.1",
            f"    port: {self.nsd_port}",
            '    username: ""',
            '    chroot: ""',
            '    database: ""',
            f'    zonesdir: "{self.dir / "zones"}"',
            f'    pidfile: "{self.dir / "nsd.pid"}"',
            f'    logfile: "{self.dir / "nsd.log"}"',
            f'    xfrdfile: "{state / "xfrd.state"}"',
            f'    xfrdir: "{state}"',
            f'    zonelistfile: "{state / "zone.list"}"',
            "    server-count: 1",
            "    verbosity: 1",
            "    hide-version: yes",
            "remote-control:",
            "    control-enable: no",
        ]
        for zone, path in files.items():
            conf += ["zone:", f"    name: {zone}", f'    zonefile: "{path}"']
        path = self.dir / "nsd.conf"
        path.write_text("\n".join(conf) + "\n")
        return path

    def _write_unbound_conf(self):
        lines = ["server:", "    do-not-query-localhost: no",
                 f'    trust-anchor-file: "{self.trust_anchor}"']
        for zone in self.zones:
            lines.append(f'    local-zone: "{zone}" transparent')
        for zone, addr in self.stubs():
            lines += ["stub-zone:", f'    name: "{zone}"',
                      f"    stub-addr: {addr}"]
        self.unbound_conf.write_text("\n".join(lines) + "\n")

    # -- life ----------------------------------------------------------

    def _query(self, name, qtype=6):
        q = struct.pack("!HHHHHH", 0x4242, 0, 1, 0, 0, 0)
        for label in name.rstrip(".").split("."):
            q += bytes([len(label)]) + label.encode()
        q += b"\0" + struct.pack("!HH", qtype, 1)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.5)
            s.sendto(q, ("127.0.0.1", self.nsd_port))
            r = s.recv(65535)
        return struct.unpack("!H", r[2:4])[0]

    def _wait_ready(self, timeout=20):
        deadline = time.monotonic() + timeout
        pending = set(self.zones)
        while pending:
            if self.nsd.poll() is not None:
                log = (self.dir / "nsd.log")
                raise RuntimeError("nsd exited: " + (
                    log.read_text() if log.exists() else "(no log)"))
            for zone in list(pending):
                try:
                    flags = self._query(zone)
                except OSError:
                    continue
                if flags & 0x0400 and flags & 0x000F == 0:  # AA, NOERROR
                    pending.discard(zone)
            if pending and time.monotonic() > deadline:
                raise RuntimeError(f"nsd does not serve {sorted(pending)}")
            if pending:
                time.sleep(0.05)

    def start(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        files = self._generate()
        for _ in range(5):
            self.nsd_port = _free_port()
            conf = self._nsd_conf(files)
            self.nsd = subprocess.Popen(
                ["nsd", "-d", "-c", str(conf)], stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                start_new_session=True)
            try:
                self._wait_ready()
                break
            except RuntimeError:
                self._stop_nsd()
        else:
            raise RuntimeError("nsd did not start; see "
                               f"{self.dir / 'nsd.log'}")
        self.fwd = _Forwarder(self.nsd_port, self.servfail)
        self._write_unbound_conf()
        return self

    def _stop_nsd(self):
        if self.nsd is None:
            return
        if self.nsd.poll() is None:
            try:
                os.killpg(self.nsd.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.nsd.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.nsd.pid, signal.SIGKILL)
                self.nsd.wait()
        self.nsd = None

    def stop(self):
        if self.fwd is not None:
            self.fwd.stop()
            self.fwd = None
        self._stop_nsd()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- for clients ---------------------------------------------------

    @property
    def address(self):
        """The forwarder, as libunbound wants it: "127.0.0.1@PORT"."""
        return f"127.0.0.1@{self.fwd.port}"

    def stubs(self):
        """(zone, address) for every served zone."""
        return [(zone, self.address) for zone in self.zones]

    def stub_args(self):
        args = []
        for zone, addr in self.stubs():
            args += ["--stub", f"{zone}={addr}"]
        return args

    def count(self, name, qtype):
        """Queries for name/qtype (e.g. "MX" or 15) the server received."""
        if isinstance(qtype, str):
            qtype = {v: k for k, v in RR_TYPES.items()}[qtype.upper()]
        key = (name.rstrip(".").lower(), qtype)
        with self.fwd.lock:
            return self.fwd.counts.get(key, 0)

    def counts(self):
        """All counts as {("name", "TYPE"): n}."""
        with self.fwd.lock:
            return {(n, RR_TYPES.get(t, str(t))): c
                    for (n, t), c in self.fwd.counts.items()}
