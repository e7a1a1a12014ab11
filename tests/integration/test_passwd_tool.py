"""ringmx-passwd: adding and updating users in a password file atomically,
printing an entry, rejecting bad user names, and usage errors. The hashes
are checked with libsodium itself (through ctypes) where it can be loaded.

Expects build/ringmx-passwd (built by the lead's Makefile rule, or by hand:
cc $(REL_CFLAGS) -o build/ringmx-passwd tools/ringmx-passwd.c -lsodium).
"""

import ctypes
import ctypes.util
import os
import re
import stat
import subprocess
import threading

import pytest

from conftest import REPO

TOOL = REPO / "build/ringmx-passwd"
HASH_RE = re.compile(r"\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+"
                     r"\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+")
LINE_RE = re.compile(r"([^:\s]+):(" + HASH_RE.pattern + ")")


@pytest.fixture
def tool():
    if not TOOL.exists():
        pytest.fail(f"{TOOL} not built: cc $(REL_CFLAGS) -o "
                    "build/ringmx-passwd tools/ringmx-passwd.c -lsodium")
    return str(TOOL)


def run(tool, *args, pw="secret\n"):
    return subprocess.run([tool, *map(str, args)],
                          input=pw.encode() if isinstance(pw, str) else pw,
                          capture_output=True, timeout=120)


def entries(path):
    """{user: hash} of path; every line must be an entry."""
    out = {}
    for line in path.read_text().splitlines():
        m = LINE_RE.fullmatch(line)
        assert m, f"not an entry: {line!r}"
        assert m.group(1) not in out, f"{m.group(1)} twice"
        out[m.group(1)] = m.group(2)
    return out


def sodium():
    name = ctypes.util.find_library("sodium")
    if name is None:
        return None
    lib = ctypes.CDLL(name)
    if lib.sodium_init() < 0:
        return None
    lib.crypto_pwhash_str_verify.argtypes = [
        ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulonglong]
    return lib


def verifies(h, pw):
    lib = sodium()
    if lib is None:
        return True  # nothing to check with; the daemon tests verify
    pw = pw.encode()
    return lib.crypto_pwhash_str_verify(h.encode(), pw, len(pw)) == 0


def test_add_and_update(tool, tmp_path):
    f = tmp_path / "passwd"
    r = run(tool, "-f", f, "alice", pw="first\n")
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(f.stat().st_mode) == 0o600
    r = run(tool, "-f", f, "bob@example.test", pw="bobs pw\n")
    assert r.returncode == 0, r.stderr
    before = entries(f)
    assert list(before) == ["alice", "bob@example.test"]
    assert verifies(before["alice"], "first")
    assert verifies(before["bob@example.test"], "bobs pw")

    r = run(tool, "-f", f, "alice", pw="second\r\n")
    assert r.returncode == 0, r.stderr
    lines = f.read_text().splitlines()
    assert len(lines) == 2, lines
    after = entries(f)
    assert list(after) == ["alice", "bob@example.test"]  # order kept
    assert after["alice"] != before["alice"]
    assert after["bob@example.test"] == before["bob@example.test"]
    assert verifies(after["alice"], "second")
    assert not verifies(after["alice"], "first")
    # no temporary file left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["passwd"]


def test_keeps_other_lines_and_mode(tool, tmp_path):
    f = tmp_path / "passwd"
    r = run(tool, "alice")
    assert r.returncode == 0, r.stderr
    old = r.stdout.decode()
    f.write_text("# ringmx users\n\n" + old + "  carol:$argon2id$x\n")
    os.chmod(f, 0o640)
    r = run(tool, "-f", f, "carol", pw="pw3\n")
    assert r.returncode == 0, r.stderr
    lines = f.read_text().splitlines()
    assert lines[:3] == ["# ringmx users", "", old.rstrip("\n")]
    assert len(lines) == 4 and lines[3].startswith("carol:$argon2id$v=19$")
    assert stat.S_IMODE(f.stat().st_mode) == 0o640


def test_stdout_without_file(tool):
    r = run(tool, "dave", pw="pw")  # no newline at EOF: still one line
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert out.endswith("\n") and out.count("\n") == 1
    m = LINE_RE.fullmatch(out.rstrip("\n"))
    assert m and m.group(1) == "dave", out
    assert verifies(m.group(2), "pw")
    # a fresh salt every time
    again = run(tool, "dave", pw="pw").stdout.decode()
    assert again != out


@pytest.mark.parametrize("user", [
    "a:b", "a b", "a\tb", "x\x01y", "del\x7f", "#comment", ""])
def test_bad_user_names(tool, tmp_path, user):
    f = tmp_path / "passwd"
    f.write_text("")
    r = run(tool, "-f", f, user)
    assert r.returncode == 1, r
    assert r.stderr.startswith(b"ringmx-passwd: "), r.stderr
    assert f.read_text() == ""
    assert run(tool, user).returncode == 1


def test_bad_passwords(tool, tmp_path):
    f = tmp_path / "passwd"
    for pw in ("", "\n", "a\0b\n", "x" * 5000 + "\n"):
        r = run(tool, "-f", f, "alice", pw=pw)
        assert r.returncode == 1, (pw[:10], r)
        assert r.stderr.startswith(b"ringmx-passwd: ")
    assert not f.exists() or f.read_text() == ""


def test_usage(tool):
    for args in ((), ("a", "b"), ("-x", "a"), ("-f",)):
        r = run(tool, *args)
        assert r.returncode == 2, (args, r)
        assert b"usage" in r.stderr
    r = run(tool, "-h")
    assert r.returncode == 0 and b"usage" in r.stdout


def test_missing_directory(tool, tmp_path):
    r = run(tool, "-f", tmp_path / "no" / "passwd", "alice")
    assert r.returncode == 1 and b"ringmx-passwd: " in r.stderr


def test_concurrent_updates(tool, tmp_path):
    """Runs on one file at the same time lose no entry (flock)."""
    f = tmp_path / "passwd"
    users = [f"user{i}" for i in range(4)]
    results = {}

    def one(u):
        results[u] = run(tool, "-f", f, u, pw=u + "\n")

    threads = [threading.Thread(target=one, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.returncode == 0 for r in results.values()), results
    got = entries(f)
    assert sorted(got) == users
    assert all(verifies(got[u], u) for u in users)
