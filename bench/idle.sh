#!/bin/bash
# idle.sh - memory per idle connection: ringmx (release build, hold = true,
# 2 workers) with CONNS idle SMTP connections from loopback.
#
# A python helper (one process, non-blocking sockets, at most 256 connects
# in flight so the listen backlog never overflows) opens CONNS connections
# to ringmx, reads each 220 greeting, sends EHLO and reads the whole 250
# reply, then leaves every connection idle (the state of a client between
# commands). ringmx's VmRSS (/proc/PID/status) is read after start-up and
# one warm-up session (before), with every connection idle (after, twice,
# 2 s apart: nothing may grow while idle), and after they all closed.
# Prints RSS total and per connection; the target is < 200 MiB with 10,000
# idle connections, and no receive buffer pinned per idle connection: the
# provided-buffer ring (1024 x 8 KiB per worker, docs/architecture.md) is
# allocated at start and an idle connection gives its buffer back at once,
# so the growth per connection must stay well under one 8 KiB buffer (it
# is the conn and session structs plus whatever input/output buffers a
# session keeps). Kernel socket memory is not in RSS and is not counted.
#
# RLIMIT_NOFILE is raised for ringmx and the helper (ulimit -n); ringmx gets
# limits.conn_max and conn_per_ip above CONNS.
# Usage: bench/idle.sh   (env: CONNS=10000 WORKERS=2 RINGMX=build/ringmx)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."

CONNS=${CONNS:-10000}
WORKERS=${WORKERS:-2}
RINGMX=${RINGMX:-build/ringmx}
[ -x "$RINGMX" ] || die "$RINGMX not built (make)"

T=$(mktemp -d /tmp/ringmx-bench-idle.XXXXXX)
HELPER_PID=""
cleanup() {
	exec 9>&- 2>/dev/null || true
	stop_pid HELPER_PID
	stop_ringmx
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

need=$((CONNS + 1000))
ulimit -n "$((need > 65536 ? need : 65536))" 2>/dev/null ||
    ulimit -n "$(ulimit -Hn)" || true
[ "$(ulimit -n)" -gt "$CONNS" ] || die "cannot raise RLIMIT_NOFILE above $CONNS (hard limit $(ulimit -Hn))"

cp "$RINGMX" "$T/ringmx"
RINGMX=$T/ringmx
PORT=$(free_port)
d=$T/r
mkdir -p "$d"
cat >"$d/ringmx.conf" <<-EOF
	hostname = "bench.ringmx.test";
	workers = $WORKERS;
	state_dir = "$d/var";
	hold = true;
	log_level = "notice";
	listeners = ( { address = "127.0.0.1:$PORT"; mode = "smtp"; } );
	local_domains = [ "localhost" ];
	limits = { conn_max = $((CONNS + 100)); conn_per_ip = $((CONNS + 100)); };
EOF
start_ringmx_conf "$d" "$PORT" "ringmx did not start ($d/ringmx.log)"

status() { # field: value in kB from ringmx's /proc/PID/status
	awk -v f="$1:" '$1 == f { print $2 }' "/proc/$RMX_PID/status"
}
snap() { # label
	printf '%-28s VmRSS %8s kB  RssAnon %8s kB  RssFile %6s kB  VmHWM %8s kB  threads %s\n' \
	    "$1" "$(status VmRSS)" "$(status RssAnon)" "$(status RssFile)" \
	    "$(status VmHWM)" "$(status Threads)"
}

# one warm-up session, so first-use allocations are in "before"
"$PY" - "$PORT" <<-'EOF'
	import smtplib, sys
	with smtplib.SMTP("127.0.0.1", int(sys.argv[1])) as s:
	    s.ehlo("warm.test")
	    s.sendmail("a@localhost", ["b@localhost"], b"Subject: x\r\n\r\nx\r\n")
EOF
sleep 1
echo "idle: $CONNS idle connections (greeting + EHLO read) to ringmx," \
    "$WORKERS workers, $(nproc) CPUs, RLIMIT_NOFILE $(ulimit -n)"
snap before
before=$(status VmRSS)

mkfifo "$T/ctl"
cat >"$T/idle.py" <<-'EOF'
	import os, selectors, socket, sys, time
	port, total = int(sys.argv[1]), int(sys.argv[2])
	sel = selectors.DefaultSelector()
	state, buf = {}, {}
	opened = done = failed = 0
	inflight = 0
	t0 = time.monotonic()
	def start():
	    global opened, inflight
	    s = socket.socket()
	    s.setblocking(False)
	    s.connect_ex(("127.0.0.1", port))
	    state[s] = "greet"
	    buf[s] = b""
	    sel.register(s, selectors.EVENT_READ)
	    opened += 1
	    inflight += 1
	while done + failed < total:
	    while opened < total and inflight < 256:
	        start()
	    for key, _ in sel.select(timeout=5):
	        s = key.fileobj
	        try:
	            data = s.recv(4096)
	        except BlockingIOError:
	            continue
	        except OSError:
	            data = b""
	        if not data:
	            sel.unregister(s); s.close(); failed += 1; inflight -= 1
	            continue
	        buf[s] += data
	        lines = buf[s].split(b"\r\n")
	        if state[s] == "greet" and any(l.startswith(b"220 ") for l in lines):
	            state[s], buf[s] = "ehlo", b""
	            s.send(b"EHLO idle.test\r\n")
	        elif state[s] == "ehlo" and any(l.startswith(b"250 ") for l in lines):
	            state[s] = "idle"
	            sel.unregister(s)
	            done += 1; inflight -= 1
	    if time.monotonic() - t0 > 120:
	        break
	print("open %d failed %d in %.1f s" % (done, failed, time.monotonic() - t0), flush=True)
	sys.stdin.read()  # idle until the script closes the fifo
EOF
"$PY" "$T/idle.py" "$PORT" "$CONNS" <"$T/ctl" >"$T/helper.out" 2>"$T/helper.err" &
HELPER_PID=$!
exec 9>"$T/ctl"
for _ in $(seq 1 1500); do
	[ -s "$T/helper.out" ] && break
	kill -0 "$HELPER_PID" 2>/dev/null || break
	sleep 0.1
done
[ -s "$T/helper.out" ] || die "helper failed: $(cat "$T/helper.err")"
read -r _ opened _ failed _ <"$T/helper.out"
echo "helper: $(cat "$T/helper.out")"
sleep 1
snap "with $opened idle"
sleep 2
snap "with $opened idle, 2 s later"
after=$(status VmRSS)
exec 9>&-
wait "$HELPER_PID" 2>/dev/null || true
HELPER_PID=""
sleep 2
snap "after they closed"

awk -v b="$before" -v a="$after" -v n="$opened" -v want="$CONNS" -v f="$failed" 'BEGIN {
	per = n ? (a - b) * 1024 / n : 0
	printf "\nringmx RSS: %.1f MiB before, %.1f MiB with %d idle connections: +%.1f MiB, %.0f bytes per connection\n", b / 1024, a / 1024, n, (a - b) / 1024, per
	met = "NOT met"
	if (a / 1024 < 200 && n == want) met = "met"
	pinned = "no"
	if (per >= 8192) pinned = "YES"
	printf "target < 200 MiB with %d idle connections: %s\n", want, met
	printf "receive buffer pinned per idle connection (>= 8 KiB each): %s\n", pinned
	if (f) printf "warning: %d connections failed\n", f
}'
