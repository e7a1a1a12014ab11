"""Disk full: the queue's filesystem is a small tmpfs the test mounts.
Nearly full (below limits.min_free_space): MAIL gets 452 4.3.1 before any
data is sent; full in the middle of DATA (the guard off): the commit fails
with 452 4.3.1 and nothing half-written is left; in both cases mail
accepted earlier is delivered, and mail is accepted again once space
returns."""

import os
import subprocess

import pytest

from conftest import SMTPConn, make_msg, wait_for


@pytest.fixture
def small_fs(tmp_path):
    mnt = tmp_path / "fs"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs",
                        str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs (tests run as root): {r.stderr}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(mnt, leave):
    """A file that leaves about `leave` bytes free on mnt."""
    st = os.statvfs(mnt)
    free = st.f_bavail * st.f_frsize
    path = mnt / "filler"
    with open(path, "wb") as f:
        f.write(b"\0" * max(0, free - leave))
    return path


def daemon(make_ringmx, mnt, min_free):
    d = make_ringmx(start=False, state_dir=str(mnt / "var"),
                    maildir_root=str(mnt / "var" / "mail"),
                    queue_map_size="16M",
                    limits={"min_free_space": min_free})
    d.state_dir = mnt / "var"
    d.maildir_root = mnt / "var" / "mail"
    return d.start()


def test_nearly_full_refuses_at_mail(make_ringmx, small_fs):
    d = daemon(make_ringmx, small_fs, 16 * 1024 * 1024)
    d.send(make_msg(subject="before"))
    d.wait_mail("alice")
    filler = fill(small_fs, 8 * 1024 * 1024)
    wait_for(lambda: d.events("disk_low"), 10, "event=disk_low")
    with SMTPConn(d.host, d.port) as c:
        c.expect(220)
        c.ehlo()
        c.ok("MAIL FROM:<sender@example.org>", 452, "4.3.1")
        c.ok("QUIT", 221)
    os.unlink(filler)
    wait_for(lambda: d.events("disk_ok"), 10, "event=disk_ok")
    d.send(make_msg(subject="after"))
    mails = d.wait_mail("alice", 2)
    assert len(mails) == 2


def test_full_during_data_is_452_and_nothing_lost(make_ringmx, small_fs):
    d = daemon(make_ringmx, small_fs, 0)  # the MAIL guard off
    d.send(make_msg(subject="kept"))
    d.wait_mail("alice")
    filler = fill(small_fs, 512 * 1024)
    big = make_msg(subject="too big",
                   body=(b"y" * 998 + b"\r\n") * 4000)  # ~4 MB
    with SMTPConn(d.host, d.port) as c:
        c.expect(220)
        c.ehlo()
        c.ok("MAIL FROM:<sender@example.org>", 250)
        c.ok("RCPT TO:<alice@localhost>", 250)
        c.ok("DATA", 354)
        c.send(big.replace(b"\r\n.", b"\r\n..") + b"\r\n.\r\n")
        r = c.reply()
        assert r.code == 452 and r.enh == "4.3.1", r
        c.ok("NOOP", 250)
    assert d.running
    os.unlink(filler)
    d.send(make_msg(subject="after space returned"))
    mails = d.wait_mail("alice", 2)
    subjects = [m for _, m in mails]
    assert any(b"Subject: kept" in m for m in subjects)
    assert any(b"after space returned" in m for m in subjects)
    assert not any(b"Subject: too big" in m for m in subjects)
