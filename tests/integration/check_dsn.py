#!/usr/bin/python3
"""check_dsn.py - strict validator of the delivery status notifications
ringmx builds (core/dsn.c): RFC 5322 message, RFC 6522 multipart/report
with report-type=delivery-status, RFC 3464 delivery-status fields (RFC 6533
global variants for internationalized mail).

parse_report(raw_bytes) returns a dict of the parsed report and raises
DSNError on anything malformed. The MIME structure is split here by hand
(so a lenient parser cannot hide a mistake) and then cross-checked with
the standard library's email package, which must agree and report no
defects. Standard library only; runs under /usr/bin/python3.

Usage: check_dsn.py FILE   (or - for stdin) prints the parsed fields.
"""

import email
import email.policy
import email.utils
import re
import sys
from email.parser import BytesParser

LINE_MAX = 998

__all__ = ["DSNError", "parse_report", "xtext_decode"]


class DSNError(ValueError):
    """The report is malformed; the message says where and why."""


# ---- lexical helpers ----

_FIELD_NAME = re.compile(rb"^([\x21-\x39\x3b-\x7e]+):(.*)$", re.S)
_ATOM = re.compile(r"^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+$")
_XTEXT = re.compile(r"^(?:[\x21-\x2a\x2c-\x3c\x3e-\x7e]|\+[0-9A-F]{2})*$")
_STATUS = re.compile(r"^([245])\.([0-9]{1,3})\.([0-9]{1,3})$")
_BCHARS = re.compile(r"^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$")
_HOST = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
    r"|\[[^\[\]\s]+\])$"
)
_ACTIONS = {"failed": "5", "delayed": "4", "delivered": "2",
            "relayed": "2", "expanded": "2"}

PER_MESSAGE = ["Original-Envelope-Id", "Reporting-MTA", "DSN-Gateway",
               "Received-From-MTA", "Arrival-Date"]
PER_RECIPIENT = ["Original-Recipient", "Final-Recipient", "Action", "Status",
                 "Remote-MTA", "Diagnostic-Code", "Last-Attempt-Date",
                 "Final-Log-ID", "Will-Retry-Until"]
TOP_HEADERS = ["From", "To", "Subject", "Date", "Message-ID",
               "Auto-Submitted", "MIME-Version", "Content-Type"]
PART_HEADERS = ["Content-Type", "Content-Transfer-Encoding",
                "Content-Description", "Content-Disposition", "Content-ID"]


def xtext_decode(s):
    """Decode RFC 3461 xtext (strict: upper-case hex); DSNError if bad."""
    if not _XTEXT.match(s):
        raise DSNError("not xtext: %r" % s)
    return re.sub(r"\+([0-9A-F]{2})",
                  lambda m: chr(int(m.group(1), 16)), s)


def _check_lines(raw):
    """CRLF only, no line over 998 octets, ends with CRLF."""
    if not raw.endswith(b"\r\n"):
        raise DSNError("message does not end with CRLF")
    for i, line in enumerate(raw[:-2].split(b"\r\n")):
        if b"\r" in line or b"\n" in line:
            raise DSNError("bare CR or LF in line %d" % (i + 1))
        if len(line) > LINE_MAX:
            raise DSNError("line %d has %d octets" % (i + 1, len(line)))


def _split_head(data, where):
    """Split at the first empty line: (header bytes, body bytes)."""
    if data.startswith(b"\r\n"):
        return b"", data[2:]
    pos = data.find(b"\r\n\r\n")
    if pos < 0:
        raise DSNError("%s: no empty line after the header section" % where)
    return data[:pos + 2], data[pos + 4:]


def _decode(b, utf8, where):
    try:
        return b.decode("utf-8" if utf8 else "ascii")
    except UnicodeDecodeError as e:
        raise DSNError("%s: %s octets: %s" %
                       (where, "non-UTF-8" if utf8 else "non-ASCII", e))


def _fields(block, where, utf8):
    """Parse header-style lines (each ending CRLF) into [(name, value)],
    unfolded, value stripped."""
    out = []
    if block == b"":
        return out
    if not block.endswith(b"\r\n"):
        raise DSNError("%s: field block does not end with CRLF" % where)
    for line in block[:-2].split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            if not out:
                raise DSNError("%s: continuation line first" % where)
            if line.strip(b" \t") == b"":
                raise DSNError("%s: whitespace-only continuation" % where)
            name, value = out[-1]
            out[-1] = (name, value + line)
            continue
        m = _FIELD_NAME.match(line)
        if not m:
            raise DSNError("%s: not a header field: %r" % (where, line[:80]))
        out.append((m.group(1), m.group(2)))
    return [(_decode(n, False, where), _decode(v, utf8, where).strip())
            for n, v in out]


def _field_dict(fields, known, required, where):
    """Map canonical field names to values; X- fields kept as written;
    unknown or repeated fields and missing required ones are errors."""
    canon = {k.lower(): k for k in known}
    d = {}
    seen = set()
    for name, value in fields:
        low = name.lower()
        if low in seen:
            raise DSNError("%s: repeated field %s" % (where, name))
        seen.add(low)
        if low in canon:
            d[canon[low]] = value
        elif low.startswith("x-"):
            d[name] = value
        else:
            raise DSNError("%s: unexpected field %s" % (where, name))
    for r in required:
        if r not in d:
            raise DSNError("%s: missing %s" % (where, r))
    return d


def _date(value, where):
    try:
        dt = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError) as e:
        raise DSNError("%s: bad date %r: %s" % (where, value, e))
    if dt is None or dt.tzinfo is None:
        raise DSNError("%s: date without zone %r" % (where, value))
    return dt


def _typed(value, where):
    """'type; rest' (RFC 3464 address-type / diagnostic-type / mta-name)."""
    if ";" not in value:
        raise DSNError("%s: no type in %r" % (where, value))
    t, rest = value.split(";", 1)
    t = t.strip()
    if not _ATOM.match(t):
        raise DSNError("%s: bad type %r" % (where, t))
    return t, rest.strip()


def _host(value, where):
    t, h = _typed(value, where)
    if t.lower() != "dns" or not _HOST.match(h) or len(h) > 255:
        raise DSNError("%s: not 'dns; host': %r" % (where, value))
    return h


# ---- the delivery-status part ----

def _status_part(body, utf8):
    """Per-message fields, then one block per recipient, separated by
    single empty lines (trailing empty lines tolerated)."""
    text = body
    while text.endswith(b"\r\n\r\n"):
        text = text[:-2]
    if not text.endswith(b"\r\n"):
        raise DSNError("delivery-status: does not end with CRLF")
    blocks = text[:-2].split(b"\r\n\r\n")
    if len(blocks) < 2:
        raise DSNError("delivery-status: no per-recipient block")
    parsed = []
    for i, blk in enumerate(blocks):
        where = "delivery-status block %d" % i
        if blk == b"" or blk.startswith(b"\r\n"):
            raise DSNError("%s: empty" % where)
        parsed.append(_fields(blk + b"\r\n", where, utf8))

    pm = _field_dict(parsed[0], PER_MESSAGE, ["Reporting-MTA"],
                     "per-message fields")
    _host(pm["Reporting-MTA"], "Reporting-MTA")
    if "Arrival-Date" in pm:
        _date(pm["Arrival-Date"], "Arrival-Date")
    if "Original-Envelope-Id" in pm:
        xtext_decode(pm["Original-Envelope-Id"])

    rcpts = []
    for i, fl in enumerate(parsed[1:]):
        where = "recipient %d" % (i + 1)
        r = _field_dict(fl, PER_RECIPIENT,
                        ["Final-Recipient", "Action", "Status"], where)
        action = r["Action"].lower()
        if action not in _ACTIONS:
            raise DSNError("%s: bad Action %r" % (where, r["Action"]))
        m = _STATUS.match(r["Status"])
        if not m:
            raise DSNError("%s: bad Status %r" % (where, r["Status"]))
        if m.group(1) != _ACTIONS[action]:
            raise DSNError("%s: Status %s does not fit Action %s" %
                           (where, r["Status"], action))
        t, addr = _typed(r["Final-Recipient"], where + " Final-Recipient")
        if not addr or re.search(r"[\x00-\x1f\x7f]", addr) or \
                (" " in addr and '"' not in addr):
            raise DSNError("%s: bad Final-Recipient %r" % (where, addr))
        if not utf8 and t.lower() != "rfc822":
            raise DSNError("%s: Final-Recipient type %s" % (where, t))
        if "Original-Recipient" in r:
            ot, ox = _typed(r["Original-Recipient"],
                            where + " Original-Recipient")
            if not ox:
                raise DSNError("%s: empty Original-Recipient" % where)
            r["Original-Recipient-Decoded"] = ot + ";" + xtext_decode(ox)
        if "Remote-MTA" in r:
            _host(r["Remote-MTA"], where + " Remote-MTA")
        if "Diagnostic-Code" in r:
            _typed(r["Diagnostic-Code"], where + " Diagnostic-Code")
        for f in ("Last-Attempt-Date", "Will-Retry-Until"):
            if f in r:
                _date(r[f], where + " " + f)
        if "Will-Retry-Until" in r and action != "delayed":
            raise DSNError("%s: Will-Retry-Until without delayed" % where)
        rcpts.append(r)
    return pm, rcpts


# ---- the whole report ----

def _split_multipart(body, boundary):
    """Parts of a multipart body (RFC 2046 5.1.1), strictly: delimiter
    lines exactly '--B', close '--B--', nothing but empty lines after."""
    delim = b"--" + boundary
    lines = body.split(b"\r\n")
    parts, cur, closed = [], None, False
    for line in lines:
        if closed:
            if line != b"":
                raise DSNError("text after the close delimiter")
            continue
        if line.startswith(delim):
            if line == delim:
                if cur is not None:
                    parts.append(cur)
                cur = []
                continue
            if line == delim + b"--":
                if cur is None:
                    raise DSNError("close delimiter before any part")
                parts.append(cur)
                closed = True
                continue
            raise DSNError("line starting with the boundary: %r" % line[:80])
        if cur is not None:
            cur.append(line)
    if not closed:
        raise DSNError("no close delimiter")
    # the CRLF before a delimiter belongs to it
    return [b"\r\n".join(p) for p in parts]


def _part(data, index):
    where = "part %d" % index
    head, body = _split_head(data, where)
    fields = _field_dict(_fields(head, where, False), PART_HEADERS,
                         ["Content-Type"], where + " headers")
    hp = BytesParser(policy=email.policy.compat32).parsebytes(
        head + b"\r\n", headersonly=True)
    cte = fields.get("Content-Transfer-Encoding", "7bit").lower()
    if cte not in ("7bit", "8bit"):
        raise DSNError("%s: Content-Transfer-Encoding %s" % (where, cte))
    if cte == "7bit" and any(c >= 0x80 for c in body):
        raise DSNError("%s: 8-bit octets in a 7bit part" % where)
    if b"\x00" in body:
        raise DSNError("%s: NUL octet" % where)
    return hp, cte, body


def parse_report(raw, strict_original=False):
    """Validate raw (bytes) as a delivery status notification and return
    {'headers', 'boundary', 'global', 'text', 'per_message',
    'recipients', 'original_type', 'original'}; DSNError if malformed.
    The returned original is the sender's content: only its line
    structure is checked (and that returned headers hold no empty line)
    unless strict_original, which also requires well-formed header
    fields in it."""
    if not isinstance(raw, (bytes, bytearray)):
        raise DSNError("raw must be bytes")
    raw = bytes(raw)
    _check_lines(raw)
    head, body = _split_head(raw, "message")
    hdrs = _field_dict(_fields(head, "message header", True), TOP_HEADERS,
                       TOP_HEADERS, "message header")

    if not re.match(r"^Mail Delivery System <MAILER-DAEMON@[^<>\s]+>$",
                    hdrs["From"]):
        raise DSNError("From: %r" % hdrs["From"])
    if not re.match(r"^<[^\s<>][^<>]*>$|^<\"[^\"]*\"@[^<>\s]+>$", hdrs["To"]):
        raise DSNError("To: %r" % hdrs["To"])
    if hdrs["To"] == "<>":
        raise DSNError("report addressed to the null sender")
    if not hdrs["Subject"]:
        raise DSNError("empty Subject")
    _date(hdrs["Date"], "Date")
    if not re.match(r"^<[^<>@\s]+@[^<>@\s]+>$", hdrs["Message-ID"]):
        raise DSNError("Message-ID: %r" % hdrs["Message-ID"])
    if hdrs["Auto-Submitted"].lower() != "auto-replied":
        raise DSNError("Auto-Submitted: %r" % hdrs["Auto-Submitted"])
    if hdrs["MIME-Version"] != "1.0":
        raise DSNError("MIME-Version: %r" % hdrs["MIME-Version"])

    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    if msg.defects:
        raise DSNError("email package defects: %r" % msg.defects)
    if msg.get_content_type() != "multipart/report":
        raise DSNError("not multipart/report: %s" % msg.get_content_type())
    rtype = msg.get_param("report-type")
    if not isinstance(rtype, str) or rtype.lower() != "delivery-status":
        raise DSNError("report-type %r" % (rtype,))
    boundary = msg.get_boundary()
    if not boundary or not _BCHARS.match(boundary):
        raise DSNError("bad boundary %r" % (boundary,))
    bb = boundary.encode("ascii")

    chunks = _split_multipart(body, bb)
    if len(chunks) != 3:
        raise DSNError("%d parts, expected 3" % len(chunks))
    for i, c in enumerate(chunks):
        if bb in c:
            raise DSNError("boundary inside part %d" % (i + 1))

    p1, cte1, b1 = _part(chunks[0], 1)
    if p1.get_content_type() != "text/plain":
        raise DSNError("part 1 is %s" % p1.get_content_type())
    charset = (p1.get_content_charset() or "us-ascii").lower()
    if charset not in ("us-ascii", "utf-8"):
        raise DSNError("part 1 charset %s" % charset)
    text = _decode(b1, charset == "utf-8", "part 1")

    p2, cte2, b2 = _part(chunks[1], 2)
    t2 = p2.get_content_type()
    if t2 not in ("message/delivery-status",
                  "message/global-delivery-status"):
        raise DSNError("part 2 is %s" % t2)
    glob = t2 == "message/global-delivery-status"
    pm, rcpts = _status_part(b2, glob)
    if not glob:
        _decode(head, False, "message header (not a global report)")

    p3, cte3, b3 = _part(chunks[2], 3)
    t3 = p3.get_content_type()
    allowed = (("message/global-headers", "message/global") if glob else
               ("text/rfc822-headers", "message/rfc822"))
    if t3 not in allowed:
        raise DSNError("part 3 is %s with part 2 %s" % (t3, t2))
    if t3.endswith("headers"):
        if b3.startswith(b"\r\n") or b"\r\n\r\n" in b3:
            raise DSNError("returned headers contain an empty line")
        if strict_original:
            _fields(b3, "returned headers", glob)
    elif strict_original and b3 and not b3.startswith(b"\r\n"):
        _fields(_split_head(b3, "returned message")[0],
                "returned message header", glob)

    # the email package must see the same structure, without defects
    parts = msg.get_payload()
    if not isinstance(parts, list) or len(parts) != 3:
        raise DSNError("email package sees %r parts" %
                       (len(parts) if isinstance(parts, list) else parts))
    for i, (p, t) in enumerate(zip(parts, ("text/plain", t2, t3))):
        if p.get_content_type() != t:
            raise DSNError("email package: part %d is %s" %
                           (i + 1, p.get_content_type()))
        if p.defects:
            raise DSNError("email package: part %d defects %r" %
                           (i + 1, p.defects))
    if t2 == "message/delivery-status":
        blocks = parts[1].get_payload()
        if len(blocks) != 1 + len(rcpts):
            raise DSNError("email package sees %d status blocks" % len(blocks))
        for blk, mine in zip(blocks, [pm] + rcpts):
            theirs = {n.lower(): " ".join(v.split()) for n, v in blk.items()}
            ours = {n.lower(): " ".join(v.split()) for n, v in mine.items()
                    if n != "Original-Recipient-Decoded"}
            if theirs != ours:
                raise DSNError("email package reads the fields as %r, "
                               "not %r" % (theirs, ours))

    return {
        "headers": hdrs,
        "boundary": boundary,
        "global": glob,
        "text": text,
        "per_message": pm,
        "recipients": rcpts,
        "original_type": t3,
        "original": b3,
    }


def main(argv):
    if len(argv) != 2:
        print("usage: check_dsn.py FILE|-", file=sys.stderr)
        return 2
    raw = (sys.stdin.buffer.read() if argv[1] == "-"
           else open(argv[1], "rb").read())
    try:
        r = parse_report(raw)
    except DSNError as e:
        print("INVALID: %s" % e, file=sys.stderr)
        return 1
    for k, v in r["headers"].items():
        print("%s: %s" % (k, v))
    print("boundary: %s  global: %s  original: %s (%d octets)" %
          (r["boundary"], r["global"], r["original_type"], len(r["original"])))
    print("-- per-message")
    for k, v in r["per_message"].items():
        print("%s: %s" % (k, v))
    for i, rc in enumerate(r["recipients"]):
        print("-- recipient %d" % (i + 1))
        for k, v in rc.items():
            print("%s: %s" % (k, v))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
