"""suite_dns.py - a small authoritative DNS server on 127.0.0.1 (UDP and
TCP, one ephemeral port) that serves the zonedata of one scenario of the
RFC 7208 test suite (python3-spf's rfc7208-tests.yml), with the semantics
of the suite's own driver (testspf.py):

- records: A, AAAA, MX ([pref, name]), PTR, CNAME, TXT and SPF (type 99;
  served as type 99 and, when the name has no TXT entry, also as TXT, the
  suite's "auto-magic duplication"); a TXT or SPF value that is a list is
  one record of several character-strings; text is encoded UTF-8 (so the
  suite's "\\xEF\\xBB\\xBF" style values become non-ASCII octets), strings
  longer than 255 octets are split; `TXT: NONE` only marks "no TXT";
- `TIMEOUT` alone in a name's list: a query of a type with no record
  listed before it is never answered; `TYPE: TIMEOUT`: that type is never
  answered; an absent name starting with "error." is never answered;
- a name in the zonedata with no record of the asked type: NODATA; any
  other name: NXDOMAIN (both with an SOA in the authority section);
- a CNAME is answered with the target's records of the asked type too.

Not here: DNSSEC, wildcards, delegation. Usage:

    with SuiteDNS(zonedata) as srv:   # srv.port
        ...
"""

import select
import socket
import struct
import threading

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.rrset

TIMEOUT = object()
SOA_TEXT = "ns.suite.invalid. hostmaster.suite.invalid. 1 3600 600 86400 60"


def _strings(v):
    if isinstance(v, (list, tuple)):
        vals = list(v)
    else:
        vals = [v]
    out = []
    for s in vals:
        b = s.encode("utf-8") if isinstance(s, str) else bytes(s)
        if not b:
            out.append(b)
        while b:
            out.append(b[:255])
            b = b[255:]
    # a TXT record without strings cannot be sent (RDATA needs one):
    # the closest legal record is one empty string
    return out or [b""]


def load_zone(zonedata):
    """{lower-case name: [entries]} with entries ('TIMEOUT') or
    (type, value) after the SPF -> TXT duplication of testspf.py."""
    zone = {}
    for name, entries in (zonedata or {}).items():
        out, gen_txt, has_txt = [], [], False
        for e in entries or []:
            if isinstance(e, str):
                out.append("TIMEOUT" if e == "TIMEOUT" else e)
                continue
            for t, v in e.items():
                if t == "TXT":
                    has_txt = True
                if t == "SPF" and not has_txt:
                    gen_txt.append(("TXT", v))
                if t in ("TXT", "SPF") and v == "NONE":
                    continue
                out.append((t, v))
        if not has_txt:
            out.extend(gen_txt)
        zone[str(name).lower().rstrip(".")] = out
    return zone


class SuiteDNS:
    def __init__(self, zonedata):
        self.zone = load_zone(zonedata)
        self.queries = []
        self._stop = False
        for _ in range(50):
            self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.udp.bind(("127.0.0.1", 0))
            self.port = self.udp.getsockname()[1]
            self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                self.tcp.bind(("127.0.0.1", self.port))
                break
            except OSError:
                self.udp.close()
                self.tcp.close()
        else:
            raise RuntimeError("no free port for UDP and TCP")
        self.tcp.listen(16)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self._stop = True
        self.thread.join(timeout=5)
        self.udp.close()
        self.tcp.close()

    # ------------------------------------------------------------ lookup

    def lookup(self, qname, qtype, level=0):
        """(rcode, [(owner, type, value)]) or TIMEOUT."""
        labels = [x for x in qname.lower().rstrip(".").split(".") if x]
        name = ".".join(labels)
        if name not in self.zone:
            if name.startswith("error."):
                return TIMEOUT
            return dns.rcode.NXDOMAIN, []
        found, seen = [], False
        for e in self.zone[name]:
            if e == "TIMEOUT":
                if not seen:
                    return TIMEOUT
                break
            t, v = e
            if t == qtype:
                seen = True
                if v == "TIMEOUT":
                    return TIMEOUT
                found.append((name, t, v))
            elif t == "CNAME" and qtype != "CNAME" and v != "TIMEOUT":
                found.append((name, t, v))
                if level:
                    continue  # like the suite's driver: one level
                sub = self.lookup(str(v), qtype, 1)
                if sub is TIMEOUT:
                    return TIMEOUT
                found.extend(r for r in sub[1] if r[1] != "CNAME")
        return dns.rcode.NOERROR, found

    def _rdata(self, t, v):
        cls = dns.rdataclass.IN
        if t in ("TXT", "SPF"):
            rt = dns.rdatatype.from_text(t)
            return dns.rdtypes.ANY.TXT.TXT(cls, rt, _strings(v))
        if t == "MX":
            pref, host = v
            return dns.rdata.from_text(
                cls, dns.rdatatype.MX, "%d %s." % (int(pref),
                                                    str(host).rstrip(".")))
        if t in ("PTR", "CNAME"):
            return dns.rdata.from_text(
                cls, dns.rdatatype.from_text(t), str(v).rstrip(".") + ".")
        return dns.rdata.from_text(cls, dns.rdatatype.from_text(t), str(v))

    def answer(self, wire, tcp):
        try:
            q = dns.message.from_wire(wire)
        except Exception:
            return None
        if not q.question:
            return None
        question = q.question[0]
        # the raw labels: a name may hold SP or '%' (macro expansions)
        qname = ".".join(x.decode("latin-1") for x in question.name.labels
                         if x)
        try:
            qtype = dns.rdatatype.to_text(question.rdtype)
        except Exception:
            qtype = str(question.rdtype)
        self.queries.append((qname, qtype))
        res = self.lookup(qname, qtype)
        if res is TIMEOUT:
            return None
        rcode, records = res
        r = dns.message.make_response(q)
        r.flags |= dns.flags.AA
        r.set_rcode(rcode)
        asked = ".".join(x for x in qname.lower().rstrip(".").split(".")
                         if x)
        for owner, t, v in records:
            try:
                rd = self._rdata(t, v)
                oname = (question.name if owner == asked
                         else dns.name.from_text(owner))
            except Exception:
                continue
            rrset = r.find_rrset(r.answer, oname, dns.rdataclass.IN,
                                 rd.rdtype, create=True)
            rrset.add(rd, 300)
        if not r.answer:
            soa = dns.rrset.from_text("suite.invalid.", 60, "IN", "SOA",
                                      SOA_TEXT)
            r.authority.append(soa)
        limit = 65535 if tcp else max(512, q.payload if q.edns >= 0
                                      else 512)
        try:
            return r.to_wire(max_size=limit)
        except dns.exception.TooBig:
            t = dns.message.make_response(q)
            t.flags |= dns.flags.TC
            return t.to_wire()

    # ------------------------------------------------------------ server

    def _run(self):
        conns = {}
        while not self._stop:
            rl = [self.udp, self.tcp] + list(conns)
            try:
                ready, _, _ = select.select(rl, [], [], 0.1)
            except (OSError, ValueError):
                return
            for s in ready:
                if s is self.udp:
                    try:
                        data, addr = self.udp.recvfrom(65535)
                    except OSError:
                        continue
                    out = self.answer(data, False)
                    if out is not None:
                        self.udp.sendto(out, addr)
                elif s is self.tcp:
                    try:
                        c, _ = self.tcp.accept()
                    except OSError:
                        continue
                    conns[c] = b""
                else:
                    try:
                        data = s.recv(65535)
                    except OSError:
                        data = b""
                    if not data:
                        conns.pop(s, None)
                        s.close()
                        continue
                    buf = conns[s] + data
                    while len(buf) >= 2:
                        n = struct.unpack("!H", buf[:2])[0]
                        if len(buf) < 2 + n:
                            break
                        out = self.answer(buf[2:2 + n], True)
                        buf = buf[2 + n:]
                        if out is not None:
                            s.sendall(struct.pack("!H", len(out)) + out)
                    conns[s] = buf
        for c in conns:
            c.close()
