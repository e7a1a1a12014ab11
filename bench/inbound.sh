#!/bin/bash
# inbound.sh - inbound acceptance benchmark: ringmx vs a stock Postfix.
#
# Postfix's smtp-source sends MSGS messages of SIZE bytes, one message per
# connection, SESSIONS sessions in parallel, to
#   A: ringmx (release build) with hold = true, 2 workers;
#   B: Postfix (the Debian package) as a private instance on its own
#      loopback port, config and queue under a temp dir, every message put
#      on hold by `check_client_access static:HOLD` (cleanup writes and
#      fsyncs the queue file into the hold queue before the 250, as ringmx
#      commits to LMDB before its 250; neither delivers anything).
# Runs alternate A B A B ... (RUNS each). For each run: messages/s (wall
# clock of smtp-source) and server CPU ms per message (utime+stime from
# /proc: the ringmx process; for Postfix the master, its children and,
# through the master's cutime/cstime, the children that exited).
#
# Deviations from Postfix defaults, all to measure acceptance only:
#   in_flow_delay = 0   (held mail never reaches qmgr, which hands out the
#                        flow-control tokens: cleanup would sleep 1 s/msg)
#   chroot = n          (no chroot jail to populate under the temp dir)
#   smtpd_client_connection_count_limit / ringmx conn_per_ip = 1000
#                       (50 sessions from one IP would hit the default 50
#                        while closed sessions are still being counted)
#   local_recipient_maps = (empty: accept to@localhost without a user)
# Postfix logs to syslog (no /dev/log here: dropped), ringmx at info to a
# file.
#
# Needs root (Postfix runs as user postfix); `make bench` installs deps.
# Usage: bench/inbound.sh   (env: MSGS=20000 SESSIONS=50 SIZE=4096 RUNS=3
#                            RINGMX=build/ringmx)
set -euo pipefail
cd "$(dirname "$0")/.."

MSGS=${MSGS:-20000}
SESSIONS=${SESSIONS:-50}
SIZE=${SIZE:-4096}
RUNS=${RUNS:-3}
RINGMX=${RINGMX:-build/ringmx}
PY=/usr/bin/python3
HZ=$(getconf CLK_TCK)

die() { echo "inbound.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "must run as root (Postfix runs as user postfix)"
[ -x "$RINGMX" ] || die "$RINGMX not built (make build/ringmx)"
for t in smtp-source postconf /usr/lib/postfix/sbin/master; do
	command -v "$t" >/dev/null || die "$t missing (tools/install-deps.sh --bench)"
done

T=$(mktemp -d /tmp/ringmx-bench.XXXXXX)
chmod 755 "$T" # the postfix user must reach its queue below it
RMX_PID=""
PF_PID=""

stop_ringmx() {
	if [ -n "$RMX_PID" ]; then
		kill -TERM "$RMX_PID" 2>/dev/null || true
		wait "$RMX_PID" 2>/dev/null || true
		RMX_PID=""
	fi
}

children() { # pids whose parent is $1
	local f s
	for f in /proc/[0-9]*/stat; do
		{ read -r s <"$f"; } 2>/dev/null || continue
		s=${s##*) }	# drop "pid (comm) "
		s=${s#* }	# and the state
		if [ "${s%% *}" = "$1" ]; then
			f=${f#/proc/}
			echo "${f%/stat}"
		fi
	done
}

stop_postfix() {
	if [ -n "$PF_PID" ]; then
		# the master runs in its own process group (setsid) and takes
		# its children down with it; the group kill catches stragglers
		kill -TERM "$PF_PID" 2>/dev/null || true
		wait "$PF_PID" 2>/dev/null || true
		kill -TERM -- "-$PF_PID" 2>/dev/null || true
		PF_PID=""
	fi
}

cleanup() {
	stop_ringmx
	stop_postfix
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	"$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() { # port pid
	"$PY" - "$1" "$2" <<-'EOF' || die "server on port $1 did not start"
		import os, socket, sys, time
		port, pid = int(sys.argv[1]), int(sys.argv[2])
		for _ in range(2000):
		    try:
		        os.kill(pid, 0)
		    except OSError:
		        sys.exit(1)
		    try:
		        with socket.create_connection(("127.0.0.1", port), 1) as s:
		            if s.recv(512).startswith(b"220"):
		                sys.exit(0)
		    except OSError:
		        pass
		    time.sleep(0.01)
		sys.exit(1)
	EOF
}

# utime+stime (+cutime+cstime with "all") of a pid, in ticks
ticks() {
	awk -v all="${2:-}" '{ sub(/^.*\) /, "");
	    t = $12 + $13; if (all != "") t += $14 + $15; print t }' \
	    "/proc/$1/stat" 2>/dev/null || echo 0
}

postfix_ticks() { # the master with reaped children, plus live children
	local sum
	sum=$(ticks "$PF_PID" all)
	for k in $(children "$PF_PID"); do
		sum=$((sum + $(ticks "$k")))
	done
	echo "$sum"
}

now() { date +%s.%N; }

# ---------------------------------------------------------------- Postfix
PF_PORT=$(free_port)
PF=$T/postfix
mkdir -p "$PF/etc" "$PF/spool" "$PF/lib"
chown postfix "$PF/lib"
awk -v port="$PF_PORT" '
	/^smtp[ \t]+inet/ { print "127.0.0.1:" port "  inet  n  -  n  -  -  smtpd"; next }
	/^[a-z]/ && NF >= 8 { $5 = "n" }
	{ print }' /etc/postfix/master.cf >"$PF/etc/master.cf"
cp /etc/postfix/dynamicmaps.cf "$PF/etc/" 2>/dev/null || true
cat >"$PF/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $PF/spool
data_directory = $PF/lib
myhostname = bench.postfix.test
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mydestination = localhost
mynetworks = 127.0.0.0/8
local_recipient_maps =
alias_maps =
alias_database =
smtpd_recipient_restrictions = check_client_access static:HOLD,
    permit_mynetworks, reject_unauth_destination
smtpd_client_connection_count_limit = 1000
in_flow_delay = 0
EOF
postfix -c "$PF/etc" check || die "postfix check failed"
/usr/lib/postfix/sbin/master -c "$PF/etc" -d </dev/null >"$T/postfix.out" 2>&1 &
PF_PID=$!
wait_port "$PF_PORT" "$PF_PID"
smtp-source -s 10 -m 200 -l "$SIZE" -f from@x -t to@localhost \
    "127.0.0.1:$PF_PORT" || die "postfix warm-up failed"

# ----------------------------------------------------------------- ringmx
RMX_PORT=$(free_port)
start_ringmx() { # run number
	local d=$T/ringmx.$1
	mkdir -p "$d"
	cat >"$d/ringmx.conf" <<-EOF
		hostname = "bench.ringmx.test";
		workers = 2;
		state_dir = "$d/var";
		maildir_root = "$d/var/mail";
		hold = true;
		log_level = "info";
		listeners = ( { address = "127.0.0.1:$RMX_PORT"; mode = "smtp"; } );
		local_domains = [ "localhost" ];
		limits = { conn_per_ip = 1000; };
	EOF
	"$RINGMX" -c "$d/ringmx.conf" </dev/null 2>"$d/ringmx.log" &
	RMX_PID=$!
	wait_port "$RMX_PORT" "$RMX_PID"
}

# ------------------------------------------------------------------- runs
results=$T/results
: >"$results"

run() { # name port
	local t0 t1 c0 c1 rc=0
	if [ "$1" = ringmx ]; then c0=$(ticks "$RMX_PID"); else c0=$(postfix_ticks); fi
	t0=$(now)
	smtp-source -s "$SESSIONS" -m "$MSGS" -l "$SIZE" -f from@x \
	    -t to@localhost "127.0.0.1:$2" || rc=$?
	t1=$(now)
	if [ "$1" = ringmx ]; then c1=$(ticks "$RMX_PID"); else c1=$(postfix_ticks); fi
	[ "$rc" -eq 0 ] || die "smtp-source against $1 failed (exit $rc)"
	echo "$1 $t0 $t1 $c0 $c1" >>"$results"
}

echo "inbound: $MSGS messages x $SIZE bytes, $SESSIONS sessions," \
    "1 message/connection, $RUNS runs each, $(nproc) CPUs"
for i in $(seq 1 "$RUNS"); do
	start_ringmx "$i"
	run ringmx "$RMX_PORT"
	stop_ringmx
	n=$(grep -c 'event=queued' "$T/ringmx.$i/ringmx.log" || true)
	[ "$n" -eq "$MSGS" ] || echo "warning: ringmx logged $n queued, not $MSGS" >&2
	rm -rf "$T/ringmx.$i"

	find "$PF/spool/hold" -type f -delete
	run postfix "$PF_PORT"
	n=$(find "$PF/spool/hold" -type f | wc -l)
	[ "$n" -eq "$MSGS" ] || echo "warning: postfix held $n, not $MSGS" >&2
	find "$PF/spool/hold" -type f -delete
done

awk -v msgs="$MSGS" -v hz="$HZ" '
{
	s = $1; wall = $3 - $2; cpu = ($5 - $4) * 1000 / hz / msgs
	n[s]++; rate[s] += msgs / wall; ms[s] += cpu
	printf "run %d  %-8s %10.0f msgs/s %8.3f CPU ms/msg\n", n[s], s, msgs / wall, cpu
}
END {
	print ""
	printf "%-8s %12s %16s\n", "server", "msgs/s", "CPU ms/message"
	split("ringmx postfix", order, " ")
	for (i = 1; i <= 2; i++)
		if (n[s = order[i]])
			printf "%-8s %12.0f %16.3f\n", s, rate[s] / n[s], ms[s] / n[s]
	if (n["postfix"] && n["ringmx"]) {
		r = (rate["ringmx"] / n["ringmx"]) / (rate["postfix"] / n["postfix"])
		c = (ms["postfix"] / n["postfix"]) / (ms["ringmx"] / n["ringmx"])
		printf "ratio    %11.2fx %15.2fx   (ringmx vs postfix: throughput, CPU efficiency)\n", r, c
	}
}' "$results"
