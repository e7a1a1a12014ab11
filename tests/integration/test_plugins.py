"""Plugins in the real daemon: a plugin built out of tree with pkg-config
(against an installed ringmx), rcpt_table (unknown users, aliases,
catch-all), route_table (maildir, discard, hold) and load errors that
name the plugin file and the reason."""

import os
import pathlib
import subprocess

import pytest

from conftest import REPO, wait_for

SO = REPO / "build/asan/plugins"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """make install into a temporary PREFIX, as a plugin author has it."""
    prefix = tmp_path_factory.mktemp("prefix")
    subprocess.run(["make", "--no-print-directory", "install",
                    f"PREFIX={prefix}", "DESTDIR="], cwd=REPO, check=True,
                   capture_output=True)
    return prefix


def test_out_of_tree_plugin_builds_and_works(installed, tmp_path,
                                             make_ringmx):
    env = dict(os.environ, PKG_CONFIG_PATH=str(installed / "lib/pkgconfig"))
    cflags = subprocess.run(["pkg-config", "--cflags", "ringmx"], env=env,
                            check=True, capture_output=True,
                            text=True).stdout.split()
    assert any(str(installed) in f for f in cflags), cflags
    src = tmp_path / "my_example.c"  # a copy outside the source tree
    src.write_bytes((REPO / "plugins/example/example.c").read_bytes())
    so = tmp_path / "example.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-Wall", "-Werror", *cflags,
                    "-o", str(so), str(src)], check=True, cwd=tmp_path)
    d = make_ringmx(plugins=({"name": "example", "path": str(so),
                              "reject_domain": ["spam.example"]},))
    with d.session() as c:
        r = c.cmd("MAIL FROM:<bob@spam.example>")
        c.expect(550, "5.7.1", r)
        assert "spam.example" in r.text
        c.ok("MAIL FROM:<bob@good.example>")
    assert any(e.get("plugin") == "example"
               for e in d.events("plugin_loaded"))


def write(path, text):
    path.write_text(text)
    return str(path)


def test_rcpt_table(tmp_path, make_ringmx):
    table = write(tmp_path / "recipients", """
# users of example.test
alice@example.test
bob@example.test
postmaster@example.test: alice@example.test
team@example.test: alice@example.test, bob@example.test
@catchall.test
""")
    d = make_ringmx(local_domains=["example.test", "catchall.test"],
                    plugins=({"name": "rcpt_table",
                              "path": str(SO / "rcpt_table.so"),
                              "table": table},))
    with d.session() as c:
        c.ok("MAIL FROM:<sender@remote.example>")
        r = c.cmd("RCPT TO:<nobody@example.test>")
        c.expect(550, "5.1.1", r)
        c.ok("RCPT TO:<Alice+tag@example.test>", 250, "2.1.5")
        c.ok("RCPT TO:<team@example.test>", 250, "2.1.5")
        c.ok("RCPT TO:<anyone@catchall.test>", 250, "2.1.5")
        c.ok("DATA", 354)
        c.send(b"Subject: t\r\n\r\nhi\r\n.\r\n")
        c.expect(250, "2.0.0")
    # alice: own + via team alias; bob via team; anyone via catch-all
    assert len(d.wait_mail("alice+tag", 1)) == 1
    assert len(d.wait_mail("alice", 1)) == 1
    assert len(d.wait_mail("bob", 1)) == 1
    assert len(d.wait_mail("anyone", 1)) == 1


def test_route_table(tmp_path, make_ringmx):
    routes = write(tmp_path / "routes", """
drop.test discard
hold.test hold
relayed.test maildir
""")
    d = make_ringmx(local_domains=["localhost", "drop.test", "hold.test"],
                    relay_networks=["127.0.0.0/8"],
                    plugins=({"name": "route_table",
                              "path": str(SO / "route_table.so"),
                              "table": routes},))
    d.send(rcpts=("gone@drop.test",))
    d.send(rcpts=("kept@hold.test",))
    d.send(rcpts=("carol@relayed.test",))
    d.wait_mail("carol")
    wait_for(lambda: any(e.get("rcpt") == "<gone@drop.test>"
                         for e in d.events("discarded")),
             what="discard logged")
    assert d.mailbox("gone") == []
    assert d.mailbox("kept") == []
    wait_for(lambda: d.queued() == 1, what="held message stays queued")


def test_plugin_load_errors(tmp_path, make_ringmx):
    d = make_ringmx(start=False, plugins=(
        {"name": "rcpt_table", "path": str(SO / "rcpt_table.so"),
         "tabel": "/nonexistent"},))
    d.config_path.write_text(__import__("conftest").lc_config(d.cfg))
    p = subprocess.run([str(d.binary), "-c", str(d.config_path)],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1
    assert "rcpt_table.so" in p.stderr and "tabel" in p.stderr, p.stderr
    d.cfg["plugins"] = ({"name": "nothere",
                         "path": str(tmp_path / "nothere.so")},)
    d.config_path.write_text(__import__("conftest").lc_config(d.cfg))
    p = subprocess.run([str(d.binary), "--check-config", "-c",
                        str(d.config_path)],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1
    assert "nothere.so" in p.stderr and "cannot load" in p.stderr, p.stderr


def test_sighup_reloads_plugin_tables(tmp_path, make_ringmx):
    import signal
    table = tmp_path / "recipients"
    table.write_text("alice@example.test\n")
    d = make_ringmx(local_domains=["example.test"],
                    plugins=({"name": "rcpt_table",
                              "path": str(SO / "rcpt_table.so"),
                              "table": str(table)},))
    with d.session() as c:
        c.ok("MAIL FROM:<s@remote.example>")
        c.ok("RCPT TO:<carol@example.test>", 550, "5.1.1")
    # a broken table is refused and the old one stays in force
    table.write_text("alice@example.test\nx: y\n")
    d.send_signal(signal.SIGHUP)
    wait_for(lambda: any(e.get("result") == "partial"
                         for e in d.events("reload")), what="reload refused")
    table.write_text("alice@example.test\ncarol@example.test\n")
    d.send_signal(signal.SIGHUP)
    wait_for(lambda: any(e.get("result") == "ok"
                         for e in d.events("reload")), what="reload ok")
    with d.session() as c:
        c.ok("MAIL FROM:<s@remote.example>")
        c.ok("RCPT TO:<carol@example.test>", 250, "2.1.5")
        c.ok("RCPT TO:<alice@example.test>", 250, "2.1.5")
