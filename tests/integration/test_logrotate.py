"""SIGUSR1 reopens the log file (logrotate's `postrotate`): lines written
after the signal go to a new file at the configured path; the old file
keeps what was written before."""

import signal

from conftest import make_msg, wait_for


def test_sigusr1_reopens_log_file(make_ringmx, tmp_path):
    log = tmp_path / "ringmx.log"
    d = make_ringmx(log_file=str(log))
    wait_for(lambda: log.exists() and "event=ready" in log.read_text(), 10,
             "ready in the log file")
    rotated = tmp_path / "ringmx.log.1"
    log.rename(rotated)
    d.send_signal(signal.SIGUSR1)
    wait_for(lambda: log.exists() and "event=log_reopened" in
             log.read_text(), 10, "a new log file")
    d.send(make_msg(subject="after rotation"))
    d.wait_mail("alice")
    wait_for(lambda: "event=queued" in log.read_text(), 10,
             "new events in the new file")
    assert "event=queued" not in rotated.read_text()
    assert "event=ready" in rotated.read_text()
