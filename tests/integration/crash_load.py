"""The load client of the kill -9 tests (test_crash.py, test_crash_outbound.py):
asyncio sessions that send one message after another on one connection,
reconnect after any failure (the daemon is being killed), and record the
Message-ID of every message that got its 250 after end of data."""

import asyncio

from conftest import dot_stuff, make_msg


async def read_reply(r):
    """The code of the next complete reply; ConnectionError if closed."""
    while True:
        line = await asyncio.wait_for(r.readline(), 15)
        if not line.endswith(b"\r\n"):
            raise ConnectionError("closed")
        if line[3:4] != b"-":
            return int(line[:3])


async def session(d, stop, acked, tag, rcpt, fill=b"z"):
    """Send to rcpt until stop is set; append each acknowledged Message-ID
    (<tag.seq@crash.test>) to acked."""
    seq = 0
    while not stop.is_set():
        w = None
        try:
            r, w = await asyncio.wait_for(
                asyncio.open_connection(d.host, d.port), 5)
            if await read_reply(r) != 220:
                raise ConnectionError("greeting")
            w.write(b"EHLO crash.test\r\n")
            if await read_reply(r) != 250:
                raise ConnectionError("ehlo")
            while not stop.is_set():
                seq += 1
                mid = f"<{tag}.{seq}@crash.test>"
                w.write(f"MAIL FROM:<load@crash.test>\r\nRCPT TO:<{rcpt}>"
                        "\r\nDATA\r\n".encode())
                codes = [await read_reply(r) for _ in range(3)]
                if codes != [250, 250, 354]:
                    raise ConnectionError(codes)
                w.write(dot_stuff(make_msg(msgid=mid, to=rcpt,
                                           body=fill * 900 + b"\r\n")))
                if await read_reply(r) != 250:
                    raise ConnectionError("data")
                acked.append(mid)
        except (OSError, EOFError, ValueError, asyncio.TimeoutError):
            pass
        finally:
            if w:
                w.close()
        await asyncio.sleep(0.01)  # back off before reconnecting
