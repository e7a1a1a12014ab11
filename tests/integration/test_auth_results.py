"""Authentication-Results (RFC 8601): the host removes incoming fields
that claim our authserv-id and writes one field of its own from the
plugins' results (the plugins' own tests check the results)."""

from conftest import HOSTNAME, header_lines, make_msg

FORGED = [
    f"Authentication-Results: {HOSTNAME}; spf=pass smtp.mailfrom=a@b.c",
    f"Authentication-Results: (comment) {HOSTNAME.upper()} ; dkim=pass",
    f'Authentication-Results: "{HOSTNAME}";\r\n\tdmarc=pass',
    f"Authentication-Results:\r\n {HOSTNAME}; none",
]
FOREIGN = "Authentication-Results: mx.other.example; spf=fail"


def ar_fields(raw):
    return [h for h in header_lines(raw)
            if h.lower().startswith("authentication-results:")]


def test_forged_fields_removed_foreign_kept(ringmx):
    msg = make_msg(headers=FORGED + [FOREIGN])
    ringmx.send(msg)
    raw = ringmx.wait_mail("alice")[0][1]
    ar = ar_fields(raw)
    # no plugin gave results: no field of ours, the foreign one stays
    assert ar == [FOREIGN], ar
    assert b"Subject: test" in raw


def test_configured_authserv_id(make_ringmx):
    d = make_ringmx(authserv_id="auth.example.net")
    ours = "Authentication-Results: auth.example.net; spf=pass"
    host = f"Authentication-Results: {HOSTNAME}; spf=pass"
    d.send(make_msg(headers=[ours, host]))
    ar = ar_fields(d.wait_mail("alice")[0][1])
    assert ar == [host], ar


def test_similar_ids_are_not_ours(ringmx):
    near = [f"Authentication-Results: x{HOSTNAME}; spf=pass",
            f"Authentication-Results: {HOSTNAME}.evil; spf=pass"]
    ringmx.send(make_msg(headers=near))
    assert ar_fields(ringmx.wait_mail("alice")[0][1]) == near
