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
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."

MSGS=${MSGS:-20000}
SESSIONS=${SESSIONS:-50}
SIZE=${SIZE:-4096}
RUNS=${RUNS:-3}
RINGMX=${RINGMX:-build/ringmx}

[ "$(id -u)" -eq 0 ] || die "must run as root (Postfix runs as user postfix)"
[ -x "$RINGMX" ] || die "$RINGMX not built (make build/ringmx)"
need_tools smtp-source postconf /usr/lib/postfix/sbin/master

T=$(mktemp -d /tmp/ringmx-bench.XXXXXX)
chmod 755 "$T" # the postfix user must reach its queue below it
cleanup() {
	stop_ringmx
	stop_postfix
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- Postfix
start_postfix "smtpd_recipient_restrictions = check_client_access static:HOLD,
    permit_mynetworks, reject_unauth_destination"
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
	start_ringmx_conf "$d" "$RMX_PORT"
}

# ------------------------------------------------------------------- runs
results=$T/results
: >"$results"

run() { # name port
	local t0 t1 c0 c1 rc=0
	c0=$(server_ticks "$1")
	t0=$(now)
	smtp-source -s "$SESSIONS" -m "$MSGS" -l "$SIZE" -f from@x \
	    -t to@localhost "127.0.0.1:$2" || rc=$?
	t1=$(now)
	c1=$(server_ticks "$1")
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

results_table "$results" server "ringmx postfix"
