"""Receiving peers for outbound tests: aiosmtpd (Debian python3-aiosmtpd)
SMTP and LMTP servers on loopback addresses, recording what they get and
answering as scripted. Used under /usr/bin/python3."""

import asyncio
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP


class Recorder:
    """aiosmtpd handler: records envelopes, counts sessions and the
    highest number of simultaneous sessions; `rcpt_reply(addr)` and
    `data_reply(envelope)` may return a reply string to refuse."""

    def __init__(self, rcpt_reply=None, data_reply=None, delay=0.0,
                 lmtp=False):
        self.messages = []
        self.sessions = 0
        self.active = 0
        self.max_active = 0
        self.rcpt_reply = rcpt_reply
        self.data_reply = data_reply
        self.delay = delay
        self.lmtp = lmtp
        self.tls = []  # per message: did it arrive over STARTTLS
        self.lock = threading.Lock()

    def connected(self):
        with self.lock:
            self.sessions += 1
            self.active += 1
            self.max_active = max(self.max_active, self.active)

    def disconnected(self):
        with self.lock:
            self.active -= 1

    async def handle_RCPT(self, server, session, envelope, address,
                          rcpt_options):
        if self.rcpt_reply:
            r = self.rcpt_reply(address)
            if r:
                return r
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.data_reply:
            r = self.data_reply(envelope)
            if r:
                return r
        with self.lock:
            self.messages.append(envelope)
            self.tls.append(session.ssl is not None)
        if self.lmtp:
            # RFC 2033: one reply per accepted recipient (aiosmtpd's LMTP
            # class sends only what the handler returns)
            return "\r\n".join(f"250 2.0.0 <{r}> delivered"
                                 for r in envelope.rcpt_tos)
        return "250 2.0.0 OK: queued"


class _CountingSMTP(SMTP):
    def connection_made(self, transport):
        self.event_handler.connected()
        super().connection_made(transport)

    def connection_lost(self, exc):
        self.event_handler.disconnected()
        super().connection_lost(exc)


class _CountingLMTP(LMTP):
    def connection_made(self, transport):
        self.event_handler.connected()
        super().connection_made(transport)

    def connection_lost(self, exc):
        self.event_handler.disconnected()
        super().connection_lost(exc)


class Peer(Controller):
    """Peer(handler, host, port, lmtp=False).start() / .stop()"""

    def __init__(self, handler, host, port, lmtp=False, tls_context=None):
        self.lmtp = lmtp
        self.tls_context = tls_context
        super().__init__(handler, hostname=host, port=port)

    def factory(self):
        cls = _CountingLMTP if self.lmtp else _CountingSMTP
        return cls(self.handler, hostname="peer.test",
                   enable_SMTPUTF8=True, tls_context=self.tls_context)

    def _trigger_server(self):
        # LMTP has no greeting probe that Controller's trigger expects to
        # be SMTP: a plain connect is enough to know it listens.
        import socket
        with socket.create_connection((self.hostname, self.port), 2):
            pass


class UnixPeer:
    """An LMTP server on a Unix socket (aiosmtpd UnixSocketController)."""

    def __init__(self, handler, path):
        from aiosmtpd.controller import UnixSocketController

        class _Ctl(UnixSocketController):
            def factory(self):
                return _CountingLMTP(self.handler, hostname="peer.test")

            def _trigger_server(self):
                import socket
                with socket.socket(socket.AF_UNIX) as s:
                    s.connect(str(path))

        self.ctl = _Ctl(handler, unix_socket=str(path))

    def start(self):
        self.ctl.start()

    def stop(self):
        self.ctl.stop()
