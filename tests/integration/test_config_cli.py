"""ringmx --check-config / --print-config and configuration errors."""

import subprocess

import pytest

from conftest import Daemon, lc_config, ringmx_bin

GOOD = """\
hostname = "mx.test.example";
workers = 2;
state_dir = "/tmp/x/var";
maildir_root = "/tmp/x/var/mail";
hold = false;
log_level = "info";
listeners = ( { address = "127.0.0.1:2525"; mode = "smtp"; } );
local_domains = [ "localhost", "example.test" ];
limits = { line_max = 512; text_line_max = 1000; header_max = 1048576;
  message_max = 52428800; rcpt_max = 1000; conn_max = 10000;
  conn_per_ip = 50; cmds_max = 10000; errors_max = 20; hops_max = 100;
  timeout_command = 300; timeout_data = 180; timeout_session = 3600;
  shutdown_grace = 30; };
"""


def run(*args, cwd=None):
    return subprocess.run([str(ringmx_bin()), *args], capture_output=True,
                          text=True, timeout=30, cwd=cwd)


def check(tmp, text):
    path = tmp / "ringmx.conf"
    path.write_text(text)
    return path, run("--check-config", "-c", str(path))


def test_check_good_config(tmpdir_clean):
    _, p = check(tmpdir_clean, GOOD)
    assert p.returncode == 0, p.stderr


def test_check_generated_config(tmpdir_clean):
    d = Daemon(tmpdir_clean / "d")
    _, p = check(tmpdir_clean, lc_config(d.cfg))
    assert p.returncode == 0, p.stderr


def test_check_embedded_default(tmpdir_clean):
    p = run("--check-config", cwd=tmpdir_clean)
    assert p.returncode == 0, p.stderr


def replace_line(text, lineno, new):
    lines = text.splitlines()
    lines[lineno - 1] = new
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("lineno,line,key", [
    (2, "wrokers = 2;", "wrokers"),                       # unknown key
    (2, 'workers = "two";', "workers"),                   # wrong type
    (5, 'hold = "yes";', "hold"),
    (6, 'log_level = "chatty";', "log_level"),            # bad value
    (7, 'listeners = ( { address = "127.0.0.1:99999"; mode = "smtp"; } );',
     "address"),
    (7, 'listeners = ( { address = "127.0.0.1:25"; mode = "lmtp"; } );',
     "mode"),
    (7, 'listeners = ( { address = "127.0.0.1:25"; mode = "smtp"; '
        'port = 25; } );', "port"),
    (10, "  message_max = 52428800; rcpt_max = 1000; bogus_limit = 1;",
     "bogus_limit"),
])
def test_check_bad_config(tmpdir_clean, lineno, line, key):
    path, p = check(tmpdir_clean, replace_line(GOOD, lineno, line))
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert f"{path}:{lineno}:" in p.stderr, p.stderr
    assert key in p.stderr, p.stderr
    # "FILE:LINE: key: message" (a "ringmx: " prefix is tolerated)
    err = [l[l.index(f"{path}:"):] for l in p.stderr.splitlines()
           if f"{path}:" in l]
    assert err and err[0].split(": ", 2)[1].endswith(key), p.stderr


def test_check_syntax_error(tmpdir_clean):
    path, p = check(tmpdir_clean, replace_line(GOOD, 3, "state_dir = = ;"))
    assert p.returncode == 1
    assert f"{path}:3" in p.stderr, p.stderr


def test_check_missing_file(tmpdir_clean):
    path = tmpdir_clean / "nope.conf"
    p = run("--check-config", "-c", str(path))
    assert p.returncode == 1 and str(path) in p.stderr, p.stderr


def test_daemon_refuses_bad_config(tmpdir_clean):
    path = tmpdir_clean / "bad.conf"
    path.write_text(replace_line(GOOD, 2, "wrokers = 2;"))
    p = run("-c", str(path))
    assert p.returncode != 0 and "wrokers" in p.stderr


def test_print_config_round_trip(tmpdir_clean):
    path = tmpdir_clean / "ringmx.conf"
    path.write_text(GOOD.replace("workers = 2", "workers = 3"))
    p = run("--print-config", "-c", str(path))
    assert p.returncode == 0, p.stderr
    out = p.stdout
    for s in ('"mx.test.example"', "workers = 3", '"127.0.0.1:2525"',
              '"example.test"', "rcpt_max = 1000", '"/tmp/x/var/mail"'):
        assert s in out, f"{s} missing from:\n{out}"
    _, p2 = check(tmpdir_clean, out)
    assert p2.returncode == 0, p2.stderr
    path.write_text(out)
    assert run("--print-config", "-c", str(path)).stdout == out


def test_print_embedded_default(tmpdir_clean):
    p = run("--print-config", cwd=tmpdir_clean)
    assert p.returncode == 0, p.stderr
    for s in ('"127.0.0.1:2525"', '"localhost"', "state_dir", "./var",
              "maildir_root", "limits"):
        assert s in p.stdout, f"{s} missing from:\n{p.stdout}"
