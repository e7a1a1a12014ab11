"""Fixtures and helpers for the ringmx integration tests.

make_ringmx(**cfg)  start a daemon on a free loopback port in a fresh temp
                    dir (config overrides as keyword arguments, limits as a
                    `limits={...}` dict); every daemon started is stopped
                    with SIGTERM at teardown, must exit 0 and must have no
                    sanitizer report in its log.
ringmx              one daemon with the default test configuration.
SMTPConn            a raw socket SMTP conversation (bytes in, parsed
                    multi-line replies out).

The binary is $RINGMX_BIN (default build/asan/ringmx, relative to the repo).
Set RINGMX_KEEP_TMP=1 to keep the temp dirs for debugging.
"""

import email.utils
import os
import pathlib
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
HOSTNAME = "mx.test.example"
QID_RE = re.compile(r"queued as ([0-9A-Fa-f]{16})\b")
ENH_RE = re.compile(r"[245]\.\d{1,3}\.\d{1,3}")
SAN_RE = re.compile(
    r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|"
    r"AddressSanitizer:DEADLYSIGNAL|ThreadSanitizer|SUMMARY: \w+Sanitizer")

DEFAULT_LIMITS = dict(
    line_max=512, text_line_max=1000, header_max=1048576,
    message_max=52428800, rcpt_max=1000, conn_max=10000, conn_per_ip=50,
    cmds_max=10000, errors_max=20, hops_max=100, timeout_command=300,
    timeout_data=180, timeout_session=3600, shutdown_grace=30)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "crash: kill -9 stress test (about 1-3 minutes)")
    config.addinivalue_line(
        "markers", "slow: takes more than a few seconds")


def ringmx_bin(release=False):
    """The daemon under test; release=True prefers build/ringmx."""
    if release and (REPO / "build/ringmx").exists():
        return REPO / "build/ringmx"
    p = pathlib.Path(os.environ.get("RINGMX_BIN", "build/asan/ringmx"))
    return p if p.is_absolute() else REPO / p


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout=20.0, what="condition", interval=0.02):
    """Poll pred() until it returns something true; return that."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s: {what}")
        time.sleep(interval)


def lc_value(v):
    """A Python value in libconfig syntax (tuple = list, list = array)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return f"{v}L" if not -2**31 <= v < 2**31 else str(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[ " + ", ".join(map(lc_value, v)) + " ]"
    if isinstance(v, tuple):
        return "( " + ", ".join(map(lc_value, v)) + " )"
    if isinstance(v, dict):
        return "{ " + " ".join(f"{k} = {lc_value(x)};"
                               for k, x in v.items()) + " }"
    raise TypeError(v)


def lc_config(cfg):
    return "".join(f"{k} = {lc_value(v)};\n" for k, v in cfg.items())


# ---------------------------------------------------------------- messages

def make_msg(subject="test", body="Hello.\r\n", msgid=None, headers=(),
             sender="sender@example.org", to="alice@localhost"):
    """An RFC 5322 message as bytes with CRLF line ends."""
    msgid = msgid or email.utils.make_msgid(domain="client.test")
    head = [f"From: <{sender}>", f"To: <{to}>", f"Subject: {subject}",
            f"Message-ID: {msgid}", "Date: " + email.utils.formatdate(),
            *headers]
    if isinstance(body, str):
        body = body.encode()
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def dot_stuff(msg):
    """DATA encoding of msg: dot-stuffed, terminated by CRLF.CRLF."""
    if not msg.endswith(b"\r\n"):
        msg += b"\r\n"
    lines = msg.split(b"\r\n")[:-1]
    return b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n"
                    for l in lines) + b".\r\n"


def lf(b):
    """Line ends normalised to LF (Maildir files may use either)."""
    return b.replace(b"\r\n", b"\n")


def contains(raw, part):
    return lf(part) in lf(raw)


def header_lines(raw):
    """Unfolded header lines (str) of a stored message, in order."""
    out = []
    for line in re.split(rb"\r?\n", raw):
        if not line:
            break
        line = line.decode("utf-8", "replace")
        if line[:1] in (" ", "\t") and out:
            out[-1] += " " + line.strip()
        else:
            out.append(line)
    return out


def body_of(raw):
    """Everything after the header section (line ends as stored)."""
    m = re.search(rb"\r?\n\r?\n", raw)
    return raw[m.end():] if m else b""


def message_id(raw):
    for h in header_lines(raw):
        if h.lower().startswith("message-id:"):
            return h.split(":", 1)[1].strip()
    return None


# ---------------------------------------------------------- raw SMTP client

class Reply:
    def __init__(self, lines):
        self.lines = lines
        self.code = int(lines[-1][:3])

    @property
    def text(self):
        return "\n".join(l[4:] for l in self.lines)

    @property
    def enh(self):
        """Enhanced status code of the last line, or None."""
        w = self.lines[-1][4:].split(" ", 1)[0]
        return w if ENH_RE.fullmatch(w) else None

    def __repr__(self):
        return "Reply(" + " | ".join(self.lines) + ")"


class SMTPConn:
    """One raw SMTP conversation. Every read has a timeout."""

    def __init__(self, host, port, source=None, timeout=20):
        self.sock = socket.create_connection(
            (host, port), timeout,
            source_address=(source, 0) if source else None)
        self.buf = b""
        self.greeting = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def _fill(self):
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise AssertionError(f"no (complete) reply; have {self.buf!r}")
        if not chunk:
            raise EOFError(f"connection closed; unparsed {self.buf!r}")
        self.buf += chunk

    def line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def reply(self):
        lines = []
        while True:
            line = self.line()
            assert re.match(r"\d{3}([ -]|$)", line), f"bad reply {line!r}"
            lines.append(line)
            if line[3:4] != "-":
                return Reply(lines)

    def replies(self, n):
        return [self.reply() for _ in range(n)]

    def cmd(self, line):
        self.send(line.encode() + b"\r\n" if isinstance(line, str)
                  else line + b"\r\n")
        return self.reply()

    def expect(self, code, enh=None, r=None):
        r = r or self.reply()
        assert r.code == code, f"expected {code}, got {r}"
        if enh:
            assert r.enh == enh, f"expected {code} {enh}, got {r}"
        return r

    def ok(self, line, code=250, enh=None):
        return self.expect(code, enh, self.cmd(line))

    def recv_once(self):
        """One recv() call (for checking how replies are batched)."""
        chunk = self.sock.recv(65536)
        self.buf += chunk
        return chunk

    def read_to_eof(self, timeout=10):
        """All remaining bytes until the peer closes (AssertionError if it
        does not close within timeout)."""
        self.sock.settimeout(timeout)
        data, self.buf = self.buf, b""
        try:
            while chunk := self.sock.recv(65536):
                data += chunk
        except ConnectionResetError:
            pass
        except socket.timeout:
            raise AssertionError(f"server did not close; got {data!r}")
        return data

    def ehlo(self, name="client.test"):
        return self.ok(f"EHLO {name}")

    def transaction(self, rcpts=("alice@localhost",), msg=None,
                    sender="sender@example.org", mail_params=""):
        """MAIL/RCPT/DATA expecting success; returns the queue id."""
        self.ok(f"MAIL FROM:<{sender}>{mail_params}")
        for r in rcpts:
            self.ok(f"RCPT TO:<{r}>")
        self.ok("DATA", 354)
        self.send(dot_stuff(msg or make_msg()))
        r = self.expect(250, "2.0.0")
        m = QID_RE.search(r.text)
        assert m, f"no queue id in {r}"
        return m.group(1)


# ------------------------------------------------------------------ daemon

class Daemon:
    def __init__(self, root, binary=None, limits=None, **cfg):
        self.root = pathlib.Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.host, self.port = "127.0.0.1", free_port()
        self.state_dir = self.root / "var"
        self.maildir_root = self.state_dir / "mail"
        self.binary = pathlib.Path(binary or ringmx_bin())
        # Tests never query DNS outside loopback: the resolver answers
        # REFUSED for every name (MX lookups then defer), unless a test
        # gives its own dns group with local data or a stub server.
        self.dns_conf = self.root / "unbound-refuse.conf"
        self.dns_conf.write_text('server:\n    local-zone: "." refuse\n')
        self.cfg = dict(
            hostname=HOSTNAME, workers=2, state_dir=str(self.state_dir),
            maildir_root=str(self.maildir_root), hold=False,
            log_level="info",
            listeners=({"address": f"{self.host}:{self.port}",
                        "mode": "smtp"},),
            local_domains=["localhost", "example.test"],
            dns={"mode": "resolvconf", "unbound_conf": str(self.dns_conf)},
            limits=dict(DEFAULT_LIMITS, shutdown_grace=10))
        self.cfg["limits"].update(limits or {})
        self.cfg.update(cfg)
        self.config_path = self.root / "ringmx.conf"
        self.proc = None
        self.log_paths = []

    # lifecycle
    def start(self, wrapper=(), env=None, wait=True):
        assert self.binary.exists(), f"{self.binary} not built"
        self.config_path.write_text(lc_config(self.cfg))
        log = self.root / f"ringmx.{len(self.log_paths) + 1}.log"
        self.log_paths.append(log)
        e = dict(os.environ)
        e.setdefault("ASAN_OPTIONS", "abort_on_error=1:detect_leaks=1")
        e.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        e.update(env or {})
        with open(log, "wb") as f:
            self.proc = subprocess.Popen(
                [*wrapper, str(self.binary), "-c", str(self.config_path)],
                stdin=subprocess.DEVNULL, stdout=f, stderr=f, env=e,
                cwd=self.root)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=20):
        """Until the log says event=ready or the port accepts."""
        deadline, probe = time.monotonic() + timeout, 0
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"ringmx exited {self.proc.returncode} before ready:\n"
                    + self.log()[-4000:])
            if "event=ready" in self.log():
                return
            # the log is the signal; connecting is the fallback for log
            # levels that hide event=ready (a probe connection counts
            # against the connection limits for a moment)
            probe += 1
            if probe > 300 and probe % 10 == 0:
                try:
                    socket.create_connection((self.host, self.port),
                                             0.5).close()
                    return
                except OSError:
                    pass
            if time.monotonic() > deadline:
                raise AssertionError("ringmx not ready after "
                                     f"{timeout}s:\n{self.log()[-4000:]}")
            time.sleep(0.01)

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout):
        """Exit code, or AssertionError (and SIGKILL) on timeout."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"ringmx still running after {timeout}s")

    def stop(self, sig=signal.SIGTERM, timeout=None):
        """Signal and wait; returns the exit code."""
        self.send_signal(sig)
        return self.wait(timeout or self.cfg["limits"]["shutdown_grace"] + 20)

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    # observation
    def log(self, all_runs=False):
        paths = self.log_paths if all_runs else self.log_paths[-1:]
        return "".join(p.read_text(errors="replace") for p in paths
                       if p.exists())

    def events(self, name, all_runs=True):
        """Parsed key=value dicts of every log line with event=name."""
        out = []
        for line in self.log(all_runs).splitlines():
            if f" event={name} " in line + " ":
                out.append(dict((k, v.strip('"')) for k, v in re.findall(
                    r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)', line)))
        return out

    def sanitizer_report(self):
        m = SAN_RE.search(self.log(all_runs=True))
        if m:
            text = self.log(all_runs=True)[m.start():]
            return "\n".join(l for l in text.splitlines()[:60]
                             if not l.lstrip().startswith("0x"))

    def mailbox(self, user):
        """[(path, bytes)] of the messages in new/ and cur/ of user."""
        out = []
        for sub in ("new", "cur"):
            d = self.maildir_root / user / sub
            if d.is_dir():
                out += [(p, p.read_bytes()) for p in sorted(d.iterdir())]
        return out

    def wait_mail(self, user, n=1, timeout=20):
        return wait_for(lambda: len(m := self.mailbox(user)) >= n and m,
                        timeout, f"{n} message(s) in {user}'s maildir")

    def queue_files(self):
        q = self.state_dir / "queue"
        return sorted(q.glob("shard-*")) if q.is_dir() else []

    def queued(self):
        """Messages in the queue: entries of the "env" database of every
        shard, read with mdb_stat (works while the daemon runs)."""
        n = 0
        for shard in self.queue_files():
            out = subprocess.run(["mdb_stat", "-s", "env", str(shard)],
                                 capture_output=True, text=True, check=True)
            n += int(re.search(r"Entries: (\d+)", out.stdout).group(1))
        return n

    # clients
    def connect(self, greet=True, source=None, timeout=20):
        c = SMTPConn(self.host, self.port, source, timeout)
        if greet:
            c.greeting = c.expect(220)
        return c

    def session(self):
        c = self.connect()
        c.ehlo()
        return c

    def smtplib(self):
        return smtplib.SMTP(self.host, self.port, "client.test", timeout=30)

    def send(self, msg=None, rcpts=("alice@localhost",),
             sender="sender@example.org"):
        """Deliver one message with smtplib; returns the queue id."""
        with self.smtplib() as s:
            s.ehlo()
            assert s.mail(sender)[0] == 250
            for r in rcpts:
                assert s.rcpt(r)[0] == 250, r
            code, resp = s.data(msg or make_msg())
            assert code == 250, resp
            s.quit()
        return QID_RE.search(resp.decode()).group(1)


@pytest.fixture
def tmpdir_clean():
    d = tempfile.mkdtemp(prefix="ringmx-it-")
    yield pathlib.Path(d)
    if not os.environ.get("RINGMX_KEEP_TMP"):
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def make_ringmx(tmpdir_clean):
    started = []

    def make(start=True, **kw):
        d = Daemon(tmpdir_clean / f"d{len(started)}", **kw)
        started.append(d)
        return d.start() if start else d

    yield make
    problems = []
    for d in started:
        if d.running:
            try:
                rc = d.stop()
                if rc != 0:
                    problems.append(f"exit code {rc} after SIGTERM")
            except AssertionError as e:
                problems.append(str(e))
        rep = d.sanitizer_report()
        if rep:
            problems.append("sanitizer report:\n" + rep)
    if problems and not any("sanitizer" in p for p in problems):
        problems.append("log tail:\n" + started[-1].log()[-3000:])
    assert not problems, "\n".join(problems)


@pytest.fixture
def ringmx(make_ringmx):
    return make_ringmx()
