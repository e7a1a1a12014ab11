#!/bin/bash
# scaling.sh - does ringmx's cost per message stay flat from 1 to 2
# workers?
#
# 1. Throughput: bench/ringmx-load sends MSGS messages of SIZE bytes, one
#    message per connection, SESSIONS sessions, to ringmx (release build,
#    hold = true) with workers = 1 and workers = 2, alternately (1 2 1 2
#    ...; RUNS each, a fresh state dir per run). Per run: msgs/s (the
#    loader's), server CPU ms/message (utime+stime of the process from
#    /proc) and the loader's p99. Medians are printed.
# 2. Instructions: ringmx under `valgrind --tool=callgrind` (user-space
#    instructions of every thread: workers, committers, offload) with
#    CG_MSGS messages (CG_SESSIONS sessions), workers = 1 and 2, and once
#    more per worker count with no load at all (start, one connection,
#    shutdown): Ir per message = (Ir(load) - Ir(idle)) / CG_MSGS, so start-up
#    and shutdown cancel out. Kernel work (io_uring, TCP, fdatasync) is not
#    in Ir; it is in the CPU ms/message of part 1.
# The target is flat: 2 workers cost no more per message than 1 (within
# noise: CPU +-15%, Ir +-5%).
# Usage: bench/scaling.sh  (env: MSGS=5000 SESSIONS=50 SIZE=4096 RUNS=3
#                           CG_MSGS=2000 CG_SESSIONS=10 CALLGRIND=1
#                           RINGMX=build/ringmx LOAD=build/bench/ringmx-load)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."

MSGS=${MSGS:-5000}
SESSIONS=${SESSIONS:-50}
SIZE=${SIZE:-4096}
RUNS=${RUNS:-3}
CG_MSGS=${CG_MSGS:-2000}
CG_SESSIONS=${CG_SESSIONS:-10}
CALLGRIND=${CALLGRIND:-1}
RINGMX=${RINGMX:-build/ringmx}
LOAD=${LOAD:-build/bench/ringmx-load}
for b in "$RINGMX" "$LOAD"; do
	[ -x "$b" ] || die "$b not built (make all bench-tools)"
done

T=$(mktemp -d /tmp/ringmx-bench-scaling.XXXXXX)
cleanup() {
	stop_ringmx
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cp "$RINGMX" "$T/ringmx"
cp "$LOAD" "$T/ringmx-load"
RINGMX=$T/ringmx
LOAD=$T/ringmx-load
PORT=$(free_port)

conf() { # dir workers
	mkdir -p "$1"
	cat >"$1/ringmx.conf" <<-EOF
		hostname = "bench.ringmx.test";
		workers = $2;
		state_dir = "$1/var";
		hold = true;
		log_level = "notice";
		listeners = ( { address = "127.0.0.1:$PORT"; mode = "smtp"; } );
		local_domains = [ "localhost" ];
		limits = { conn_per_ip = 1000; };
	EOF
}

results=$T/results
: >"$results"
echo "scaling: $MSGS messages x $SIZE bytes, $SESSIONS sessions, 1 message/connection," \
    "hold, workers 1 vs 2, $RUNS runs each, $(nproc) CPUs"
for i in $(seq 1 "$RUNS"); do
	for w in 1 2; do
		d=$T/w$w.$i
		conf "$d" "$w"
		start_ringmx_conf "$d" "$PORT" "ringmx did not start ($d/ringmx.log)"
		c0=$(ticks "$RMX_PID")
		out=$("$LOAD" -q --json -s "$SESSIONS" -m "$MSGS" -l "$SIZE" \
		    -t to@localhost "127.0.0.1:$PORT" | tail -n 1) ||
		    die "ringmx-load failed (workers=$w)"
		c1=$(ticks "$RMX_PID")
		stop_ringmx
		rm -rf "$d"
		echo "$out" | "$PY" -c '
import json, sys
w, i, c0, c1, hz, msgs = sys.argv[1:]
j = json.load(sys.stdin)
print(w, i, "%.1f" % j["msgs_per_s"], "%.4f" % ((int(c1) - int(c0)) * 1000 / int(hz) / int(msgs)),
      "%.3f" % j["latency_ms"]["p99"])' "$w" "$i" "$c0" "$c1" "$HZ" "$MSGS" | tee -a "$results"
	done
done

cg=$T/cg
: >"$cg"
if [ "$CALLGRIND" = 1 ]; then
	command -v valgrind >/dev/null || die "valgrind missing (apt-get install valgrind)"
	# Ir of ringmx under callgrind with msgs messages (0: one connection)
	callgrind_ir() { # workers msgs
		local d=$T/cg.$1.$2 f
		conf "$d" "$1"
		f=$d/callgrind.out
		valgrind --tool=callgrind --callgrind-out-file="$f" \
		    "$RINGMX" -c "$d/ringmx.conf" </dev/null 2>"$d/valgrind.log" &
		RMX_PID=$!
		local up=""
		# at most 60 s for the greeting (a listening socket whose accept
		# never completes would make wait_port hang for 2000 x 1 s)
		"$PY" - "$PORT" "$RMX_PID" <<-'EOF' && up=1
			import os, socket, sys, time
			port, pid = int(sys.argv[1]), int(sys.argv[2])
			end = time.monotonic() + 60
			while time.monotonic() < end:
			    try:
			        os.kill(pid, 0)
			    except OSError:
			        sys.exit(1)
			    try:
			        with socket.create_connection(("127.0.0.1", port), 0.5) as s:
			            s.settimeout(2)
			            if s.recv(512).startswith(b"220"):
			                sys.exit(0)
			    except OSError:
			        pass
			    time.sleep(0.2)
			sys.exit(1)
		EOF
		if [ -z "$up" ]; then
			# seen with valgrind 3.19: the io_uring loop never greets
			kill -KILL "$RMX_PID" 2>/dev/null || true
			wait "$RMX_PID" 2>/dev/null || true
			RMX_PID=""
			echo "ringmx did not greet under callgrind within 60 s ($d/valgrind.log)" >&2
			echo NA
			return 0
		fi
		if [ "$2" -gt 0 ]; then
			"$LOAD" -q --timeout 300 -s "$CG_SESSIONS" -m "$2" -l "$SIZE" \
			    -t to@localhost "127.0.0.1:$PORT" >/dev/null ||
			    die "ringmx-load under callgrind failed"
		fi
		stop_ringmx
		awk '/^(summary|totals):/ { print $2; exit }' "$f"
		[ -n "${KEEP:-}" ] || rm -rf "$d/var"
	}
	echo
	echo "callgrind: $CG_MSGS messages x $SIZE bytes, $CG_SESSIONS sessions, workers 1 and 2"
	for w in 1 2; do
		idle=$(callgrind_ir "$w" 0)
		if [ "$idle" = NA ]; then
			echo "callgrind: not measured (ringmx does not run under valgrind here)"
			break
		fi
		load=$(callgrind_ir "$w" "$CG_MSGS")
		echo "workers=$w Ir idle $idle, with $CG_MSGS messages $load" |
		    tee -a "$T/cg.log"
		echo "$w $idle $load" >>"$cg"
	done
fi

echo
"$PY" - "$results" "$cg" "$CG_MSGS" <<-'EOF'
	import statistics as st, sys
	rows = {}
	for line in open(sys.argv[1]):
	    w, _, rate, cpu, p99 = line.split()
	    rows.setdefault(w, []).append((float(rate), float(cpu), float(p99)))
	cg = {}
	for line in open(sys.argv[2]):
	    w, idle, load = line.split()
	    cg[w] = (int(load) - int(idle)) / int(sys.argv[3])
	print("| workers | msgs/s | server CPU ms/msg | p99 ms | instructions/msg (callgrind) |")
	print("|---:|---:|---:|---:|---:|")
	for w in ("1", "2"):
	    r = rows.get(w, [])
	    med = lambda k: st.median(x[k] for x in r) if r else float("nan")
	    print("| %s | %.0f | %.3f | %.2f | %s |" % (w, med(0), med(1), med(2),
	          "%.0f" % cg[w] if w in cg else "-"))
	if "1" in rows and "2" in rows:
	    c1 = st.median(x[1] for x in rows["1"]); c2 = st.median(x[1] for x in rows["2"])
	    print("CPU ms/msg, 2 workers vs 1: %+.1f%%" % (100 * (c2 - c1) / c1))
	if "1" in cg and "2" in cg:
	    print("instructions/msg, 2 workers vs 1: %+.1f%%" % (100 * (cg["2"] - cg["1"]) / cg["1"]))
EOF
