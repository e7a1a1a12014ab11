#!/bin/bash
# scaling.sh - does ringmx's cost per message stay flat from 1 to 2
# workers?
#
# Inbound SIZE-byte messages, one message per connection, SESSIONS
# sessions, to ringmx (release build, hold = true), workers = 1 and 2
# alternately (1 2 1 2 ...; RUNS each, a fresh state dir per run). Three
# kinds of run:
#   closed   closed loop (as fast as the loader goes), MSGS messages. On a
#            2-core machine the loader takes about a core, so neither
#            worker count saturates its workers: this shows throughput, not
#            the cost per message at equal load.
#   equal    open loop at RATE messages/s PER WORKER (1 worker: RATE,
#            2 workers: 2 x RATE), RATE x SECS messages per worker: each
#            worker sees the same load in both runs. This is the scaling
#            measurement: the cost per message must stay flat (+-15%).
#   halved   open loop at RATE in total with 2 workers (each sees half the
#            load of the 1-worker "equal" run): what spreading a light load
#            over more workers costs (smaller group commits, fewer
#            completions per io_uring_enter).
# Per run: msgs/s (the loader's), server CPU ms/message (utime+stime of the
# process from /proc), the loader's p99 and, per message, from perf stat
# (tracepoints and software counters, which work in VMs without hardware
# counters): fdatasync calls, io_uring_enter calls, futex calls (a lock
# that contends shows up here) and context switches. Medians are printed.
# With PROFILE=1 (default) one more "equal" run with 2 workers is sampled
# with `perf record -e cpu-clock`; the top symbols are printed and any lock
# symbol is flagged.
# Instructions: ringmx under `valgrind --tool=callgrind` (user-space
# instructions of every thread) with CG_MSGS messages (CG_SESSIONS
# sessions), workers = 1 and 2, and once more per worker count with no
# load: Ir per message = (Ir(load) - Ir(idle)) / CG_MSGS. Under valgrind
# ringmx runs with `sandbox = false` (valgrind cannot run under seccomp
# filters), as root without switching user (so that callgrind can write its
# output) and with RINGMX_POLL_WAIT=1: Valgrind 3.19 holds its big lock
# across io_uring_enter, so a worker waiting there would starve every other
# thread; with it the worker waits in ppoll instead (see core/worker.c).
# Usage: bench/scaling.sh  (env: MSGS=5000 SESSIONS=50 SIZE=4096 RUNS=3
#                           RATE=2000 SECS=5 PROFILE=1
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
RATE=${RATE:-2000}
SECS=${SECS:-5}
PROFILE=${PROFILE:-1}
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
PERF=""
if command -v perf >/dev/null &&
    perf stat -e syscalls:sys_enter_fdatasync true >/dev/null 2>&1; then
	PERF=1
fi
EVENTS=syscalls:sys_enter_fdatasync,syscalls:sys_enter_io_uring_enter
EVENTS=$EVENTS,syscalls:sys_enter_futex,context-switches

one_run() { # kind workers run msgs rate(0: closed loop) [perf-record-file]
	local d=$T/$1.w$2.$3 out c0 c1 pp=""
	local rarg=()
	conf "$d" "$2"
	start_ringmx_conf "$d" "$PORT" "ringmx did not start ($d/ringmx.log)"
	[ "$5" = 0 ] || rarg=(-R "$5")
	: >"$d/perf"
	if [ -n "$PERF" ]; then
		if [ -n "${6:-}" ]; then
			perf record -q -e cpu-clock -F 2000 -p "$RMX_PID" -o "$6" \
			    >/dev/null 2>&1 &
		else
			perf stat -x, -e "$EVENTS" -p "$RMX_PID" -o "$d/perf" \
			    >/dev/null 2>&1 &
		fi
		pp=$!
		sleep 0.3
	fi
	c0=$(ticks "$RMX_PID")
	out=$("$LOAD" -q --json -s "$SESSIONS" -m "$4" -l "$SIZE" "${rarg[@]}" \
	    -t to@localhost "127.0.0.1:$PORT" | tail -n 1) ||
	    die "ringmx-load failed ($1, workers=$2)"
	c1=$(ticks "$RMX_PID")
	if [ -n "$pp" ]; then
		kill -INT "$pp" 2>/dev/null || true
		wait "$pp" 2>/dev/null || true
	fi
	stop_ringmx
	if [ -z "${6:-}" ]; then
		echo "$out" | "$PY" -c '
import json, sys
kind, w, i, c0, c1, hz, msgs, perf = sys.argv[1:]
j = json.load(sys.stdin)
ev = {}
for line in open(perf):
    f = line.strip().split(",")
    if len(f) > 2 and f[0].replace(".", "").isdigit():
        ev[f[2]] = float(f[0])
per = lambda k: "%.3f" % (ev[k] / int(msgs)) if k in ev else "-"
print(kind, w, i, "%.1f" % j["msgs_per_s"],
      "%.4f" % ((int(c1) - int(c0)) * 1000 / int(hz) / int(msgs)),
      "%.3f" % j["latency_ms"]["p99"], per("syscalls:sys_enter_fdatasync"),
      per("syscalls:sys_enter_io_uring_enter"), per("syscalls:sys_enter_futex"),
      per("context-switches"))' "$1" "$2" "$3" "$c0" "$c1" "$HZ" "$4" "$d/perf" |
		    tee -a "$results"
	fi
	[ -n "${KEEP:-}" ] || rm -rf "$d"
}

echo "scaling: $SIZE-byte messages, $SESSIONS sessions, 1 message/connection," \
    "hold, workers 1 vs 2, $RUNS runs each, $(nproc) CPUs;" \
    "equal load = $RATE msgs/s per worker"
[ -n "$PERF" ] || echo "(perf stat does not work here: no per-message counters)"
echo "kind workers run msgs/s cpu_ms/msg p99_ms fdatasync/msg" \
    "io_uring_enter/msg futex/msg ctxsw/msg"
for i in $(seq 1 "$RUNS"); do
	for w in 1 2; do
		one_run closed "$w" "$i" "$MSGS" 0
		one_run equal "$w" "$i" $((RATE * SECS * w)) $((RATE * w))
	done
	one_run halved 2 "$i" $((RATE * SECS)) "$RATE"
done

if [ "$PROFILE" = 1 ] && [ -n "$PERF" ]; then
	one_run profile 2 1 $((RATE * SECS * 2)) $((RATE * 2)) "$T/perf.data"
	perf report -i "$T/perf.data" --stdio --sort dso,sym 2>/dev/null |
	    grep -E '^ +[0-9.]+%' >"$T/profile.txt" || true
	echo
	echo "perf record -e cpu-clock, 2 workers at $((RATE * 2)) msgs/s:"
	awk '{ p = $1; sub(/%/, "", p); if ($3 == "[k]") k += p; else u += p }
	    END { printf "  kernel %.1f%%, user space %.1f%% of the samples\n", k, u }' \
	    "$T/profile.txt"
	echo "  user-space symbols above 0.5%:"
	awk '$3 != "[k]" { p = $1; sub(/%/, "", p); if (p + 0 >= 0.5) print "   " $0 }' \
	    "$T/profile.txt" | head -n 25
	# a lock that shows up in user space (the kernel's own spinlocks are
	# where a VM's timer samples land, not ours)
	locks=$(awk '$3 != "[k]"' "$T/profile.txt" |
	    grep -Ei 'mutex|spin|lll_lock|futex|rwlock|pthread_cond|sem_wait' || true)
	lockpct=$(echo "$locks" | awk '{ p = $1; sub(/%/, "", p); t += p }
	    END { printf "%.2f", t }')
	echo "  lock symbols in user space (mutex, spin, futex, rwlock, cond," \
	    "sem): $lockpct% of the samples$(awk -v p="$lockpct" \
	    'BEGIN { if (p + 0 >= 1) print " - CONTENDED?"; else print " (uncontended: see futex/msg)" }')"
	[ -z "$locks" ] || echo "$locks" | head -n 5
fi

cg=$T/cg
: >"$cg"
if [ "$CALLGRIND" = 1 ]; then
	command -v valgrind >/dev/null || die "valgrind missing (apt-get install valgrind)"
	# kill ringmx under valgrind, say why on stderr, answer NA
	cg_give_up() { # message
		kill -KILL "$RMX_PID" 2>/dev/null || true
		wait "$RMX_PID" 2>/dev/null || true
		RMX_PID=""
		echo "$1" >&2
		echo NA
	}
	# Ir of ringmx under callgrind with msgs messages (0: one connection)
	callgrind_ir() { # workers msgs
		local d=$T/cg.$1.$2 f
		conf "$d" "$1"
		printf 'sandbox = false;\nuser = "root";\n' >>"$d/ringmx.conf"
		f=$d/callgrind.out
		RINGMX_POLL_WAIT=1 valgrind --tool=callgrind --callgrind-out-file="$f" \
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
			# e.g. a valgrind that cannot run io_uring programs
			cg_give_up "ringmx did not greet under callgrind within 60 s ($d/valgrind.log)"
			return 0
		fi
		if [ "$2" -gt 0 ] && ! "$LOAD" -q --timeout 120 -s "$CG_SESSIONS" \
		    -m "$2" -l "$SIZE" -t to@localhost "127.0.0.1:$PORT" \
		    >/dev/null; then
			# without RINGMX_POLL_WAIT (valgrind 3.19): sessions are
			# accepted, then the loop stalls
			cg_give_up "ringmx-load under callgrind failed ($d/valgrind.log)"
			return 0
		fi
		# a bounded shutdown: under valgrind the SIGTERM path may stall too
		kill -TERM "$RMX_PID" 2>/dev/null || true
		local n=0
		while kill -0 "$RMX_PID" 2>/dev/null && [ $n -lt 120 ]; do
			sleep 0.5
			n=$((n + 1))
		done
		if kill -0 "$RMX_PID" 2>/dev/null; then
			cg_give_up "ringmx did not stop under callgrind within 60 s"
			return 0
		fi
		wait "$RMX_PID" 2>/dev/null || true
		RMX_PID=""
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
		if [ "$load" = NA ]; then
			echo "callgrind: not measured (ringmx's io_uring loop stalls under valgrind here)"
			break
		fi
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
	    f = line.split()
	    rows.setdefault((f[0], f[1]), []).append(f[3:])
	cg = {}
	for line in open(sys.argv[2]):
	    w, idle, load = line.split()
	    cg[w] = (int(load) - int(idle)) / int(sys.argv[3])
	def med(r, k):
	    v = [float(x[k]) for x in r if x[k] != "-"]
	    return st.median(v) if v else float("nan")
	print("| run | workers | msgs/s | server CPU ms/msg | p99 ms | fdatasync/msg"
	      " | io_uring_enter/msg | futex/msg | ctxsw/msg |")
	print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for key in (("closed", "1"), ("closed", "2"), ("equal", "1"), ("equal", "2"),
	            ("halved", "2")):
	    r = rows.get(key)
	    if r:
	        print("| %s | %s | %.0f | %.3f | %.2f | %.3f | %.2f | %.3f | %.2f |"
	              % (key + tuple(med(r, k) for k in range(7))))
	for kind in ("closed", "equal"):
	    if (kind, "1") in rows and (kind, "2") in rows:
	        c1 = med(rows[(kind, "1")], 1)
	        c2 = med(rows[(kind, "2")], 1)
	        d = (c2 - c1) / c1
	        print("%s: server CPU ms/msg, 2 workers vs 1: %+.1f%%" % (kind, 100 * d)
	              + ("  (target flat within +-15%%: %s)" % ("met" if abs(d) <= 0.15 else "NOT met")
	                 if kind == "equal" else ""))
	for w in ("1", "2"):
	    if w in cg:
	        print("instructions/msg (callgrind), workers=%s: %.0f" % (w, cg[w]))
	if "1" in cg and "2" in cg:
	    print("instructions/msg, 2 workers vs 1: %+.1f%%"
	          % (100 * (cg["2"] - cg["1"]) / cg["1"]))
EOF
