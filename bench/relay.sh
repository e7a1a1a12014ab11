#!/bin/bash
# relay.sh - relay throughput end to end: ringmx vs a stock Postfix.
#
# Postfix's smtp-source sends MSGS messages of SIZE bytes, one message per
# connection, SESSIONS sessions in parallel, all to to@relay.test, to
#   A: ringmx (release build), 2 workers, the client in relay_networks,
#      the route_table plugin mapping relay.test to smtp:[127.0.0.1]:SINK;
#   B: Postfix (the Debian package) as a private instance on its own
#      loopback port, config and queue under a temp dir, with
#      relayhost = [127.0.0.1]:SINK (cleanup fsyncs the queue file before
#      the 250, as ringmx commits to LMDB before its 250);
# both relay every message to one Postfix smtp-sink on 127.0.0.1:SINK,
# which accepts and discards everything.
# Runs alternate A B A B ... (RUNS each). A run starts when smtp-source
# starts and ends when smtp-source has finished and the sink has counted
# all MSGS messages (TIMEOUT seconds at most, else the script fails).
# For each run: messages/s end to end and server CPU ms per message
# (utime+stime from /proc: the ringmx process; for Postfix the master, its
# children and, through the master's cutime/cstime, the children that
# exited). The sink's CPU is not counted.
#
# How the sink's count is known: smtp-sink -c writes running counters
# ("sess=N quit=N mesg=N", '\r'-separated) to its stdout, a file here,
# after every "." it receives; a small poller started before smtp-source
# stats that file every 2 ms and records the time the mesg counter
# reaches the run's target (the counter is cumulative over the whole
# script: the target is its value before the run plus MSGS). After each
# run the count must be exact: more means a message was delivered twice.
#
# Deviations from defaults:
#   ringmx: outbound.allow_loopback = true (the sink is on loopback),
#           outbound.dest_connections = 50 (default 20; = Postfix's 50
#           below), queue.retry_initial = 1 (default 300: a deferral
#           costs a second, not the run), limits.conn_per_ip = 1000.
#   Postfix: default_destination_concurrency_limit = 50 (default 20)
#            in_flow_delay = 0   (default 1s: cleanup may sleep when qmgr
#                                 lags; ringmx has no such throttle)
#            chroot = n          (no chroot jail to populate)
#            smtpd_client_connection_count_limit = 1000 (50 sessions from
#                                 one IP would hit the default 50 while
#                                 closed sessions are still counted)
#            local_recipient_maps, alias_maps = (empty: nothing local)
#   Both keep their default connection reuse towards the sink (ringmx:
#   up to 100 messages per connection; Postfix: on-demand caching).
# ringmx starts with an empty state dir for each run; Postfix runs
# throughout, after a 200-message warm-up through the same path.
# Postfix logs to syslog (no /dev/log here: dropped), ringmx at info to a
# file. KEEP=1 keeps the temp dir (logs) for inspection.
#
# Needs root (Postfix and smtp-sink run as user postfix).
# Usage: bench/relay.sh   (env: MSGS=10000 SESSIONS=50 SIZE=4096 RUNS=3
#                          TIMEOUT=300 RINGMX=build/ringmx
#                          PLUG=build/plugins KEEP=)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."

MSGS=${MSGS:-10000}
SESSIONS=${SESSIONS:-50}
SIZE=${SIZE:-4096}
RUNS=${RUNS:-3}
TIMEOUT=${TIMEOUT:-300}
RINGMX=${RINGMX:-build/ringmx}
PLUG=${PLUG:-build/plugins}
KEEP=${KEEP:-}
WARMUP=200

[ "$(id -u)" -eq 0 ] || die "must run as root (Postfix runs as user postfix)"
[ -x "$RINGMX" ] || die "$RINGMX not built (make)"
[ -f "$PLUG/route_table.so" ] || die "$PLUG/route_table.so not built (make)"
need_tools smtp-source smtp-sink postconf /usr/lib/postfix/sbin/master

T=$(mktemp -d /tmp/ringmx-bench-relay.XXXXXX)
chmod 755 "$T" # the postfix user must reach its queue below it
SINK_PID=""
WAIT_PID=""

cleanup() {
	stop_pid WAIT_PID
	stop_ringmx
	stop_postfix
	stop_pid SINK_PID
	if [ -n "$KEEP" ]; then
		echo "relay.sh: kept $T" >&2
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------- sink
SINK_PORT=$(free_port)
SINK_OUT=$T/sink.out
: >"$SINK_OUT"
smtp-sink -c -u postfix -m 1000 "127.0.0.1:$SINK_PORT" 1000 \
    </dev/null >"$SINK_OUT" 2>"$T/sink.err" &
SINK_PID=$!
wait_port "$SINK_PORT" "$SINK_PID"

sink_count() { # the sink's message counter now
	local c
	c=$(tail -c 200 "$SINK_OUT" | tr '\r' '\n' | grep -o 'mesg=[0-9]*' |
	    tail -n 1) || true
	echo "${c#mesg=}" | awk '{ print $1 + 0 }'
}

# Background: wait until the sink's counter reaches $1 (deadline: $2
# seconds), then write the wall-clock time to $3; on timeout, or if the
# sink died, write the reason and the counter then to $3 and exit 1.
sink_wait() { # target timeout outfile
	"$PY" - "$SINK_OUT" "$SINK_PID" "$1" "$2" "$3" <<-'EOF'
		import os, re, sys, time
		path, pid, target, timeout, out = sys.argv[1:]
		pid, target = int(pid), int(target)
		deadline = time.monotonic() + float(timeout)
		last, count = -1, 0
		def finish(text, rc):
		    with open(out, "w") as f:
		        f.write(text + "\n")
		    sys.exit(rc)
		while True:
		    st = os.stat(path)
		    if st.st_size != last:
		        last = st.st_size
		        with open(path, "rb") as f:
		            f.seek(max(0, last - 200))
		            m = re.findall(rb"mesg=(\d+)", f.read())
		        count = int(m[-1]) if m else 0
		        if count >= target:
		            finish("%.6f" % time.time(), 0)
		    if time.monotonic() > deadline:
		        finish("timeout %d" % count, 1)
		    try:
		        os.kill(pid, 0)
		    except OSError:
		        finish("sink-died %d" % count, 1)
		    time.sleep(0.002)
	EOF
}

# ---------------------------------------------------------------- Postfix
start_postfix "relayhost = [127.0.0.1]:$SINK_PORT
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
default_destination_concurrency_limit = 50"

pf_queued() { # messages still in the private Postfix's queue
	find "$PF/spool/maildrop" "$PF/spool/incoming" "$PF/spool/active" \
	    "$PF/spool/deferred" "$PF/spool/hold" -type f 2>/dev/null | wc -l
}

# warm-up: fill the process pools, and prove the relay path works
base=$(sink_count)
smtp-source -s 10 -m "$WARMUP" -l "$SIZE" -f from@x -t to@relay.test \
    "127.0.0.1:$PF_PORT" || die "postfix warm-up failed"
sink_wait $((base + WARMUP)) 60 "$T/warmup.t" ||
    die "postfix warm-up: sink got $(($(sink_count) - base)) of $WARMUP" \
	"($(pf_queued) still queued at Postfix)"

# ----------------------------------------------------------------- ringmx
RMX_PORT=$(free_port)
printf 'relay.test smtp:[127.0.0.1]:%s\n' "$SINK_PORT" >"$T/routes"
start_ringmx() { # run number
	local d=$T/ringmx.$1
	mkdir -p "$d"
	cat >"$d/ringmx.conf" <<-EOF
		hostname = "bench.ringmx.test";
		workers = 2;
		state_dir = "$d/var";
		maildir_root = "$d/var/mail";
		log_level = "info";
		listeners = ( { address = "127.0.0.1:$RMX_PORT"; mode = "smtp"; } );
		local_domains = [ "localhost" ];
		relay_networks = [ "127.0.0.0/8" ];
		outbound = { allow_loopback = true; dest_connections = 50; };
		limits = { conn_per_ip = 1000; };
		queue = { retry_initial = 1; };
		plugins = ( { name = "route_table"; path = "$PWD/$PLUG/route_table.so"; table = "$T/routes"; } );
	EOF
	start_ringmx_conf "$d" "$RMX_PORT"
}

ringmx_events() { # log file: counts of the delivery events, and failures
	local f=$1 e
	for e in queued delivered deferred connect_failed bounced; do
		printf '%s=%s ' "$e" "$(grep -c "event=$e " "$f" || true)"
	done
	echo
	grep -E 'event=(deferred|connect_failed|bounced) |level=(err|crit|alert|emerg|warning) ' "$f" |
	    head -n 10 || true
}

# ------------------------------------------------------------------- runs
results=$T/results
: >"$results"

run() { # name port
	local t0 t1 ts c0 c1 rc=0 wrc=0 base got why
	base=$(sink_count)
	rm -f "$T/done.t"
	c0=$(server_ticks "$1")
	t0=$(now)
	sink_wait $((base + MSGS)) "$TIMEOUT" "$T/done.t" &
	WAIT_PID=$!
	smtp-source -s "$SESSIONS" -m "$MSGS" -l "$SIZE" -f from@x \
	    -t to@relay.test "127.0.0.1:$2" || rc=$?
	ts=$(now)
	wait "$WAIT_PID" || wrc=$?
	WAIT_PID=""
	c1=$(server_ticks "$1")
	[ "$rc" -eq 0 ] || die "smtp-source against $1 failed (exit $rc)"
	if [ "$wrc" -ne 0 ]; then
		read -r why got <"$T/done.t" || why="waiter failed" got=$base
		got=$((got - base))
		if [ "$1" = ringmx ]; then
			echo "ringmx log: $(ringmx_events "$T/ringmx.$i/ringmx.log")" >&2
		else
			echo "postfix: $(pf_queued) messages still queued" >&2
		fi
		[ "$why" = timeout ] && why="timeout after ${TIMEOUT}s"
		die "$1: the sink got $got of $MSGS messages ($why)"
	fi
	t1=$(cat "$T/done.t")
	# the run ends when both the client and the last delivery are done
	t1=$(awk -v a="$t1" -v b="$ts" 'BEGIN { printf "%.6f", (a > b ? a : b) }')
	echo "$1 $t0 $t1 $c0 $c1 $ts" >>"$results"
}

echo "relay: $MSGS messages x $SIZE bytes, $SESSIONS sessions," \
    "1 message/connection in, $RUNS runs each, $(nproc) CPUs"
for i in $(seq 1 "$RUNS"); do
	start_ringmx "$i"
	base=$(sink_count)
	run ringmx "$RMX_PORT"
	stop_ringmx
	n=$(($(sink_count) - base))
	log=$T/ringmx.$i/ringmx.log
	if [ "$n" -ne "$MSGS" ] || grep -qE 'event=(deferred|connect_failed|bounced) ' "$log"; then
		echo "warning: ringmx run $i: the sink got $n of $MSGS;" \
		    "$(ringmx_events "$log")" >&2
		[ "$n" -le "$MSGS" ] || die "ringmx delivered $((n - MSGS)) messages twice"
	fi
	[ -n "$KEEP" ] || rm -rf "$T/ringmx.$i"

	base=$(sink_count)
	run postfix "$PF_PORT"
	# qmgr removes queue files just after the delivery agent reports
	for _ in $(seq 1 100); do
		[ "$(pf_queued)" -eq 0 ] && break
		sleep 0.05
	done
	n=$(($(sink_count) - base))
	[ "$n" -eq "$MSGS" ] || die "postfix run $i: the sink got $n, not $MSGS"
	[ "$(pf_queued)" -eq 0 ] || echo "warning: postfix run $i:" \
	    "$(pf_queued) messages still queued" >&2
done

results_table "$results" server "ringmx postfix"
