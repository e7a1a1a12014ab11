"""No open relay: with the default policy, mail for other domains is
refused unless the client authenticated or is in relay_networks, and the
old tricks (source routes, %-hack, !-paths, quoted "user@other"@local)
never make ringmx relay: the relay decision uses the parsed, canonical
recipient domain."""

import pytest

from conftest import wait_for

TRICKS = [
    "<user@remote.example>",
    "<@localhost:user@remote.example>",          # source route
    "<@localhost,@mx.test:user@remote.example>",  # longer source route
    "<user@REMOTE.example>",
    "<user@remote.example.>",
    "<user@[192.0.2.1]>",                         # address literal
]

LOCAL_LOOKALIKES = [
    "<user%remote.example@localhost>",            # %-hack
    "<remote.example!user@localhost>",            # bang path
    '<"user@remote.example"@localhost>',          # quoted @
]


@pytest.mark.parametrize("rcpt", TRICKS)
def test_remote_recipient_refused(ringmx, rcpt):
    with ringmx.session() as c:
        c.ok("MAIL FROM:<someone@remote.example>")
        r = c.cmd(f"RCPT TO:{rcpt}")
        assert r.code in (550, 501, 553), r
        if r.code == 550:
            assert r.enh == "5.7.1", r


@pytest.mark.parametrize("rcpt", LOCAL_LOOKALIKES)
def test_local_lookalikes_stay_local(ringmx, rcpt):
    """Accepted or not, such a recipient is a local mailbox name: the
    message is never queued for another domain."""
    with ringmx.session() as c:
        c.ok("MAIL FROM:<someone@remote.example>")
        r = c.cmd(f"RCPT TO:{rcpt}")
        if r.code != 250:
            assert r.code == 550 and r.enh in ("5.1.3", "5.7.1"), r
            return
        c.ok("DATA", 354)
        c.send(b"Subject: trick\r\n\r\nx\r\n.\r\n")
        c.expect(250)
    wait_for(lambda: ringmx.events("delivered"), 10, "local delivery")
    assert not ringmx.events("deferred"), "tried to send it elsewhere"
    assert ringmx.queued() == 0


def test_relay_networks_and_auth_may_relay(make_ringmx):
    d = make_ringmx(relay_networks=["127.0.0.0/8"], hold=True)
    with d.session() as c:
        c.ok("MAIL FROM:<someone@localhost>")
        c.ok("RCPT TO:<user@remote.example>", 250, "2.1.5")
    d2 = make_ringmx(relay_networks=["192.0.2.0/24"], hold=True)
    with d2.session() as c:
        c.ok("MAIL FROM:<someone@localhost>")
        c.ok("RCPT TO:<user@remote.example>", 550, "5.7.1")
