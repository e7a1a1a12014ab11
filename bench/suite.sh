#!/bin/bash
# suite.sh - the side-by-side benchmark suite: ringmx vs a stock Debian
# Postfix, cell by cell, driven by bench/ringmx-load (io_uring loader).
#
# Both servers run in the same mode in every cell:
#   hold   accept durably, deliver nothing. ringmx: `hold = true`, queue in
#          LMDB committed (full sync) before the 250. Postfix: private
#          instance (bench/lib.sh start_postfix), `check_client_access
#          static:HOLD`: cleanup fsyncs the queue file into hold/ before
#          the 250.
#   relay  everything to one next hop, build/bench/ringmx-sink on loopback.
#          ringmx: client in relay_networks, route_table plugin with
#          `* smtp:[127.0.0.1]:SINK` (every recipient to the sink).
#          Postfix: relayhost = [127.0.0.1]:SINK.
#          A run ends when the loader is done AND the server has delivered
#          every message (ringmx: its metrics endpoint's delivered counter,
#          polled only after the loader finished; Postfix: its queue
#          directories empty). msgs/s is end to end.
#   tls    hold, STARTTLS on every connection (ECDSA P-256 certificate,
#          TLS 1.3, X25519), as bench/tls.sh does.
#   dkim   relay, and both sign every message with an Ed25519 key
#          (From: bench@example.test, relaxed/relaxed). ringmx: dkim_sign
#          plugin. Postfix: Debian's OpenDKIM (2.11, ed25519-sha256) as a
#          milter on loopback (smtpd_milters, milter_default_action =
#          tempfail); OpenDKIM's CPU is added to Postfix's. Without the
#          opendkim package the Postfix column is the relay unsigned (the
#          table says so).
#
# Cells (name: mode size sessions messages-per-connection recipients):
#   in-{1k,4k,100k}-s{1,10,50}-m{1,100}  hold, 1 recipient
#   relay-4k-s50                         relay, -M 1
#   relay-dkim-4k-s50                    relay + Ed25519 DKIM (ringmx)
#   tls-4k-s50                           STARTTLS, -M 1
#   rcpt10-4k-s50                        hold, -r 10, -M 1
# Every cell runs RUNS times per server, alternating ringmx, Postfix,
# ringmx, Postfix ...; ringmx starts on an empty state directory for each
# run; Postfix keeps running per mode (after a 200-message warm-up). The
# table shows medians over the runs:
#   msgs/s        the loader's (hold, tls) or end to end (relay)
#   CPU ms/msg    server utime+stime from /proc over the run / messages
#                 (ringmx: the process; Postfix: the master, its live
#                 children and, through cutime/cstime, those that exited)
#   p99 ms        loader: final "." written -> 250 read
#   syncs/msg     fsync + fdatasync system calls of the server's processes
#                 during the run / messages, counted with `perf stat -e
#                 syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync -p`
#                 (children forked during the run inherit the counters);
#                 without perf: "-" (SYNCS=strace counts them in ONE extra
#                 short run per cell under `strace -f -c` instead).
#
# Deviations from defaults, as in inbound.sh and relay.sh: Postfix
# in_flow_delay = 0, chroot = n, smtpd_client_connection_count_limit =
# 1000, default_destination_concurrency_limit = 50 (relay); ringmx
# conn_per_ip = 1000, outbound.allow_loopback = true, dest_connections =
# 50, queue.retry_initial = 1. ringmx logs at info to a file (Postfix logs
# to syslog, which is absent here: dropped).
#
# The binaries are copied into the temp dir at the start, so a rebuild in
# the tree during the suite does not change what is measured.
#
# Needs root. Usage:
#   bench/suite.sh                       all cells (~10-15 min on 2 cores)
#   QUICK=1 bench/suite.sh               7 cells, 1 run, fewer messages
#   CELLS="in-4k-s50-m1 relay-4k-s50" RUNS=5 MSGS=5000 bench/suite.sh
# env: RUNS=3 MSGS=(per cell) CELLS=(all) WORKERS=2 TIMEOUT=120
#      RINGMX=build/ringmx LOAD=build/bench/ringmx-load
#      SINK=build/bench/ringmx-sink PLUG=build/plugins SYNCS=perf|strace|off
#      OUT=file (also write the markdown table there) KEEP=1 (keep temp dir)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."

QUICK=${QUICK:-}
RUNS=${RUNS:-$([ -n "$QUICK" ] && echo 1 || echo 3)}
WORKERS=${WORKERS:-2}
TIMEOUT=${TIMEOUT:-120}
RINGMX=${RINGMX:-build/ringmx}
LOAD=${LOAD:-build/bench/ringmx-load}
SINK=${SINK:-build/bench/ringmx-sink}
PLUG=${PLUG:-build/plugins}
SYNCS=${SYNCS:-perf}
OUT=${OUT:-}
KEEP=${KEEP:-}

ALL_CELLS=""
for size in 1k 4k 100k; do
	for s in 1 10 50; do
		for m in 1 100; do
			ALL_CELLS="$ALL_CELLS in-$size-s$s-m$m"
		done
	done
done
ALL_CELLS="$ALL_CELLS relay-4k-s50 relay-dkim-4k-s50 tls-4k-s50 rcpt10-4k-s50"
QUICK_CELLS="in-4k-s50-m1 in-4k-s50-m100 in-100k-s10-m1 relay-4k-s50 relay-dkim-4k-s50 tls-4k-s50 rcpt10-4k-s50"
if [ -n "${CELLS:-}" ]; then
	:
elif [ -n "$QUICK" ]; then
	CELLS=$QUICK_CELLS
else
	CELLS=$ALL_CELLS
fi

[ "$(id -u)" -eq 0 ] || die "must run as root (Postfix runs as user postfix)"
for b in "$RINGMX" "$LOAD" "$SINK"; do
	[ -x "$b" ] || die "$b not built (make all bench-tools)"
done
for p in route_table dkim_sign; do
	[ -f "$PLUG/$p.so" ] || die "$PLUG/$p.so not built (make)"
done
need_tools openssl postconf /usr/lib/postfix/sbin/master

T=$(mktemp -d /tmp/ringmx-bench-suite.XXXXXX)
chmod 755 "$T" # the postfix user must reach its queue below it
SINK_PID=""
PERF_PID=""
PF_MODE=""
OD_PID=""
OD_PORT=""
HAVE_OPENDKIM=""
command -v opendkim >/dev/null && HAVE_OPENDKIM=1
cleanup() {
	stop_pid PERF_PID
	stop_pid OD_PID
	stop_ringmx
	stop_postfix
	stop_pid SINK_PID
	if [ -n "$KEEP" ]; then echo "suite.sh: kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# a private copy of what is measured
mkdir -p "$T/bin" "$T/plugins"
cp "$RINGMX" "$T/bin/ringmx"
cp "$LOAD" "$T/bin/ringmx-load"
cp "$SINK" "$T/bin/ringmx-sink"
cp "$PLUG/route_table.so" "$PLUG/dkim_sign.so" "$T/plugins/"
RINGMX=$T/bin/ringmx
LOAD=$T/bin/ringmx-load
SINK=$T/bin/ringmx-sink
PLUG=$T/plugins

if [ "$SYNCS" = perf ] && ! perf stat -e syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync \
    -x, -o /dev/null -- true 2>/dev/null; then
	echo "suite.sh: perf syscall tracepoints unavailable; syncs by strace in an extra run" >&2
	SYNCS=strace
fi
if [ "$SYNCS" = strace ] && ! command -v strace >/dev/null; then
	SYNCS=off
fi

openssl req -x509 -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
    -keyout "$T/key.pem" -out "$T/cert.pem" -days 2 \
    -subj /CN=bench.ringmx.test 2>/dev/null
openssl genpkey -algorithm ed25519 -out "$T/ed.pem" 2>/dev/null
chmod 644 "$T/key.pem" "$T/cert.pem"
chmod 600 "$T/ed.pem"

# ------------------------------------------------------------------- sink
SINK_PORT=$(free_port)
"$SINK" -p "$SINK_PORT" -q </dev/null >"$T/sink.out" 2>"$T/sink.err" &
SINK_PID=$!
wait_port "$SINK_PORT" "$SINK_PID" "ringmx-sink did not start"
SINK_EXPECT=0
printf '* smtp:[127.0.0.1]:%s\n' "$SINK_PORT" >"$T/routes"

# ------------------------------------------------------------------ cells
# cell name -> "mode size sessions per_conn rcpts msgs"
cell_spec() {
	local c=$1 mode size s m r=1 msgs
	case "$c" in
	in-*-s*-m*)
		mode=hold
		IFS=- read -r _ size s m <<<"$c"
		s=${s#s} m=${m#m}
		;;
	relay-4k-s50) mode=relay size=4k s=50 m=1 ;;
	relay-dkim-4k-s50) mode=dkim size=4k s=50 m=1 ;;
	tls-4k-s50) mode=tls size=4k s=50 m=1 ;;
	rcpt10-4k-s50) mode=hold size=4k s=50 m=1 r=10 ;;
	*) die "unknown cell $c (cells: $ALL_CELLS)" ;;
	esac
	case "$size" in
	1k) size=1024 ;; 4k) size=4096 ;; 100k) size=102400 ;;
	*) die "bad size in $c" ;;
	esac
	# messages: a few seconds of Postfix per run
	case "$s" in
	1) msgs=300 ;; 10) msgs=1500 ;; *) msgs=3000 ;;
	esac
	[ "$size" -gt 10000 ] && msgs=$((msgs / 2))
	[ "$mode" = tls ] && msgs=2000
	[ -n "$QUICK" ] && msgs=$((msgs / 3))
	msgs=${MSGS:-$msgs}
	echo "$mode $size $s $m $r $msgs"
}

pf_mode_of() { # cell mode -> the Postfix instance it needs
	case "$1" in
	hold) echo hold ;; tls) echo tls ;; relay) echo relay ;;
	dkim) if [ -n "$HAVE_OPENDKIM" ]; then echo dkim; else echo relay; fi ;;
	esac
}

# (Re)start the private Postfix for a mode, with a 200-message warm-up.
postfix_for() { # mode
	local want
	want=$(pf_mode_of "$1")
	[ "$PF_MODE" = "$want" ] && return 0
	stop_postfix
	stop_pid OD_PID
	rm -rf "$T/postfix"
	case "$want" in
	hold)
		start_postfix "smtpd_recipient_restrictions = check_client_access static:HOLD,
    permit_mynetworks, reject_unauth_destination"
		;;
	tls)
		start_postfix "smtpd_recipient_restrictions = check_client_access static:HOLD,
    permit_mynetworks, reject_unauth_destination
smtpd_tls_cert_file = $T/cert.pem
smtpd_tls_key_file = $T/key.pem
smtpd_tls_security_level = may
smtpd_tls_session_cache_database ="
		;;
	relay)
		start_postfix "relayhost = [127.0.0.1]:$SINK_PORT
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
default_destination_concurrency_limit = 50"
		;;
	dkim)
		start_opendkim
		start_postfix "relayhost = [127.0.0.1]:$SINK_PORT
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
default_destination_concurrency_limit = 50
smtpd_milters = inet:127.0.0.1:$OD_PORT
milter_default_action = tempfail"
		;;
	esac
	PF_MODE=$want
	local tflag="" to=to@localhost
	[ "$want" = tls ] && tflag=-T
	local from=load@localhost
	case "$want" in relay | dkim) to=to@relay.test ;; esac
	[ "$want" = dkim ] && from=bench@example.test
	# shellcheck disable=SC2086
	"$LOAD" -q $tflag -s 10 -m 200 -f "$from" -t "$to" "127.0.0.1:$PF_PORT" >/dev/null ||
	    die "postfix warm-up ($want) failed"
	if [ "$want" = relay ] || [ "$want" = dkim ]; then
		SINK_EXPECT=$((SINK_EXPECT + 200))
		pf_drained 60 >/dev/null || die "postfix warm-up: queue not empty after 60 s"
	else
		find "$PF/spool/hold" -type f -delete
	fi
}

# OpenDKIM for Postfix: a signing milter with the same Ed25519 key
start_opendkim() {
	OD_PORT=$(free_port)
	install -o opendkim -m 600 "$T/ed.pem" "$T/ed-opendkim.pem"
	cat >"$T/opendkim.conf" <<-EOF
		Syslog no
		Mode s
		Domain example.test
		Selector s1
		KeyFile $T/ed-opendkim.pem
		SignatureAlgorithm ed25519-sha256
		Canonicalization relaxed/relaxed
		Socket inet:$OD_PORT@127.0.0.1
		UserID opendkim
		InternalHosts 127.0.0.0/8
		RequireSafeKeys false
	EOF
	opendkim -f -x "$T/opendkim.conf" </dev/null >"$T/opendkim.out" 2>&1 &
	OD_PID=$!
	for _ in $(seq 1 100); do
		"$PY" -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' \
		    "$OD_PORT" 2>/dev/null && return 0
		kill -0 "$OD_PID" 2>/dev/null || break
		sleep 0.05
	done
	die "opendkim did not start: $(cat "$T/opendkim.out")"
}

srv_ticks() { # ringmx|postfix: server CPU ticks so far (+ OpenDKIM's)
	local t
	t=$(server_ticks "$1")
	if [ "$1" = postfix ] && [ -n "$OD_PID" ]; then
		t=$((t + $(ticks "$OD_PID")))
	fi
	echo "$t"
}

pf_drained() { # timeout: wait until Postfix's queue is empty; prints when
	"$PY" - "$PF/spool" "$1" <<-'EOF'
		import os, sys, time
		spool, timeout = sys.argv[1], float(sys.argv[2])
		dirs = [os.path.join(spool, d) for d in
		        ("maildrop", "incoming", "active", "deferred", "hold")]
		def busy():
		    for d in dirs:
		        for root, _, files in os.walk(d):
		            if files:
		                return True
		    return False
		end = time.monotonic() + timeout
		while busy():
		    if time.monotonic() > end:
		        sys.exit(1)
		    time.sleep(0.003)
		print("%.6f" % time.time())
	EOF
}

METRICS_PORT=$(free_port)
RMX_PORT=$(free_port)
ringmx_conf() { # dir mode
	local d=$1 extra=""
	case "$2" in
	hold) extra='hold = true;' ;;
	tls)
		extra='hold = true;'
		;;
	relay | dkim)
		local dk=""
		[ "$2" = dkim ] && dk=", { name = \"dkim_sign\"; path = \"$PLUG/dkim_sign.so\"; key = [ \"example.test:s1:ed25519-sha256:$T/ed.pem\" ]; }"
		extra="relay_networks = [ \"127.0.0.0/8\" ];
outbound = { allow_loopback = true; dest_connections = 50; };
queue = { retry_initial = 1; };
metrics = { listen = \"127.0.0.1:$METRICS_PORT\"; };
plugins = ( { name = \"route_table\"; path = \"$PLUG/route_table.so\"; table = \"$T/routes\"; }$dk );"
		;;
	esac
	local tls=""
	[ "$2" = tls ] && tls="tls = { certificates = ( { cert = \"$T/cert.pem\"; key = \"$T/key.pem\"; } ); };"
	cat >"$d/ringmx.conf" <<-EOF
		hostname = "bench.ringmx.test";
		workers = $WORKERS;
		state_dir = "$d/var";
		maildir_root = "$d/var/mail";
		log_level = "info";
		listeners = ( { address = "127.0.0.1:$RMX_PORT"; mode = "smtp"; $tls } );
		local_domains = [ "localhost" ];
		limits = { conn_per_ip = 1000; };
		$extra
	EOF
}

ringmx_delivered() { # wait until the metrics say >= $1 delivered; prints when
	"$PY" - "$METRICS_PORT" "$1" "$2" <<-'EOF'
		import re, socket, sys, time
		port, want, timeout = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
		end = time.monotonic() + timeout
		n = d = 0
		while time.monotonic() < end:
		    try:
		        with socket.create_connection(("127.0.0.1", port), 1) as s:
		            s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
		            data = b""
		            while chunk := s.recv(65536):
		                data += chunk
		        t = data.decode(errors="replace")
		        n = sum(int(v) for v in re.findall(r'^ringmx_delivered_total\{[^}]*\} (\d+)', t, re.M))
		        d = sum(int(v) for v in re.findall(r'^ringmx_(?:deferred|bounced)_total\{[^}]*\} (\d+)', t, re.M))
		        if n >= want:
		            print("%.6f" % time.time())
		            sys.exit(0)
		    except OSError:
		        pass
		    time.sleep(0.003)
		print("timeout delivered=%d deferred+bounced=%d" % (n, d), file=sys.stderr)
		sys.exit(1)
	EOF
}

server_pids() { # ringmx|postfix: the pids to count syscalls of
	if [ "$1" = ringmx ]; then
		echo "$RMX_PID"
	else
		echo "$PF_PID" $(children "$PF_PID") $OD_PID | tr ' ' ','
	fi
}

perf_start() { # server outfile
	PERF_PID=""
	[ "$SYNCS" = perf ] || return 0
	perf stat -x, -o "$2" -e syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync \
	    -p "$(server_pids "$1")" </dev/null >/dev/null 2>&1 &
	PERF_PID=$!
	sleep 0.3 # attached
}

perf_stop() { # outfile: sets NSYNCS to the fsync+fdatasync calls (-1: none)
	NSYNCS=-1
	[ -n "$PERF_PID" ] || return 0
	kill -INT "$PERF_PID" 2>/dev/null || true
	wait "$PERF_PID" 2>/dev/null || true
	PERF_PID=""
	NSYNCS=$(awk -F, '/sys_enter_f(data)?sync/ { n += $1 } END { print n + 0 }' "$1")
}

results=$T/results
: >"$results"

# One run: server, cell, run number. Appends
# "cell server run msgs_per_s cpu_ms_per_msg p99_ms syncs_per_msg ok"
run_one() { # server cell i
	local srv=$1 cell=$2 i=$3 mode size s m r msgs
	read -r mode size s m r msgs <<<"$(cell_spec "$cell")"
	local d=$T/run port tflag="" to=to@localhost from=load@localhost
	[ "$mode" = tls ] && tflag=-T
	case "$mode" in relay | dkim) to=to@relay.test ;; esac
	[ "$mode" = dkim ] && from=bench@example.test
	if [ "$srv" = ringmx ]; then
		rm -rf "$d"
		mkdir -p "$d"
		ringmx_conf "$d" "$mode"
		start_ringmx_conf "$d" "$RMX_PORT" "ringmx did not start ($d/ringmx.log)"
		port=$RMX_PORT
	else
		postfix_for "$mode"
		port=$PF_PORT
	fi
	local c0 c1 t0 t1 out rc=0 ok=ok syncs
	perf_start "$srv" "$T/perf.out"
	c0=$(srv_ticks "$srv")
	t0=$(now)
	# shellcheck disable=SC2086
	out=$("$LOAD" -q --json $tflag -s "$s" -m "$msgs" -M "$m" -r "$r" \
	    -l "$size" -f "$from" -t "$to" "127.0.0.1:$port" | tail -n 1) || rc=$?
	t1=$(now)
	[ "$rc" -eq 0 ] || ok="loader-exit-$rc"
	case "$mode" in
	relay | dkim)
		if [ "$srv" = ringmx ]; then
			t1=$(ringmx_delivered "$msgs" "$TIMEOUT") || { ok=undelivered; t1=$(now); }
		else
			t1=$(pf_drained "$TIMEOUT") || { ok=undelivered; t1=$(now); }
		fi
		SINK_EXPECT=$((SINK_EXPECT + msgs))
		;;
	esac
	c1=$(srv_ticks "$srv")
	perf_stop "$T/perf.out"
	syncs=$NSYNCS
	if [ "$srv" = ringmx ]; then
		stop_ringmx
		local q
		q=$(grep -c 'event=queued' "$d/ringmx.log" || true)
		[ "$q" -eq "$msgs" ] || { ok="queued-$q"; echo "warning: ringmx logged $q queued, not $msgs" >&2; }
		if [ "$mode" = dkim ]; then
			q=$(grep -c 'dkim=signed' "$d/ringmx.log" || true)
			[ "$q" -eq "$msgs" ] || { ok="signed-$q"; echo "warning: ringmx signed $q, not $msgs" >&2; }
		fi
		[ -n "$KEEP" ] || rm -rf "$d"
	elif [ "$mode" != relay ] && [ "$mode" != dkim ]; then
		local h
		h=$(find "$PF/spool/hold" -type f | wc -l)
		[ "$h" -eq "$msgs" ] || { ok="held-$h"; echo "warning: postfix held $h, not $msgs" >&2; }
		find "$PF/spool/hold" -type f -delete
	fi
	echo "$out" | "$PY" -c '
import json, sys
cell, srv, i, msgs, t0, t1, c0, c1, hz, syncs, ok, mode = sys.argv[1:]
msgs = int(msgs)
try:
    j = json.loads(sys.stdin.read())
except ValueError:
    j = {"msgs_per_s": 0, "latency_ms": {"p99": 0}, "accepted": 0, "loader_cpu_ms_per_msg": 0}
if j.get("accepted", 0) != msgs and ok == "ok":
    ok = "accepted-%d" % j.get("accepted", 0)
rate = j["msgs_per_s"] if mode in ("hold", "tls") else msgs / (float(t1) - float(t0))
cpu = (int(c1) - int(c0)) * 1000.0 / int(hz) / msgs
sy = int(syncs) / msgs if int(syncs) >= 0 else -1
print(cell, srv, i, "%.1f" % rate, "%.4f" % cpu, "%.3f" % j["latency_ms"]["p99"],
      "%.3f" % sy, "%.4f" % j.get("loader_cpu_ms_per_msg", 0), ok)
' "$cell" "$srv" "$i" "$msgs" "$t0" "$t1" "$c0" "$c1" "$HZ" "$syncs" "$ok" "$mode" |
	    tee -a "$results"
}

# strace fallback: one extra short run per server and cell, syncs only
strace_syncs() { # cell
	local cell=$1 srv mode size s m r msgs n pids
	read -r mode size s m r msgs <<<"$(cell_spec "$cell")"
	msgs=$(((msgs + 4) / 5))
	for srv in ringmx postfix; do
		local d=$T/run port tflag="" to=to@localhost
		[ "$mode" = tls ] && tflag=-T
		case "$mode" in relay | dkim) to=to@relay.test ;; esac
		if [ "$srv" = ringmx ]; then
			rm -rf "$d"; mkdir -p "$d"; ringmx_conf "$d" "$mode"
			start_ringmx_conf "$d" "$RMX_PORT"; port=$RMX_PORT
		else
			postfix_for "$mode"; port=$PF_PORT
		fi
		pids=$(server_pids "$srv" | tr ',' ' ')
		# shellcheck disable=SC2046
		strace -f -c -e trace=fsync,fdatasync -o "$T/strace.out" $(printf -- '-p %s ' $pids) &
		local sp=$!
		sleep 0.5
		# shellcheck disable=SC2086
		"$LOAD" -q $tflag -s "$s" -m "$msgs" -M "$m" -r "$r" -l "$size" \
		    -t "$to" "127.0.0.1:$port" >/dev/null || true
		case "$mode" in relay | dkim)
			SINK_EXPECT=$((SINK_EXPECT + msgs))
			if [ "$srv" = ringmx ]; then ringmx_delivered "$msgs" "$TIMEOUT" >/dev/null || true
			else pf_drained "$TIMEOUT" >/dev/null || true; fi ;;
		esac
		kill -INT "$sp"; wait "$sp" 2>/dev/null || true
		n=$(awk '$NF ~ /^f(data)?sync$/ { n += $4 } END { print n + 0 }' "$T/strace.out")
		echo "$cell $srv $n $msgs" >>"$T/strace.results"
		[ "$srv" = ringmx ] && { stop_ringmx; rm -rf "$d"; }
		[ "$srv" = postfix ] && [ "$mode" != relay ] && [ "$mode" != dkim ] &&
		    find "$PF/spool/hold" -type f -delete
	done
}

# hold cells first, then tls, relay, dkim: one Postfix instance per mode
ordered=""
for want in hold tls relay dkim; do
	for c in $CELLS; do
		read -r mode _ <<<"$(cell_spec "$c")"
		[ "$(pf_mode_of "$mode")" = "$want" ] && ordered="$ordered $c"
	done
done

echo "suite: $(echo $ordered | wc -w) cells, $RUNS runs per server, alternating;" \
    "$(nproc) CPUs, ringmx workers=$WORKERS, syncs by $SYNCS"
echo "per run: cell server run msgs/s CPU-ms/msg p99-ms syncs/msg loader-CPU-ms/msg status"
start=$(now)
for c in $ordered; do
	read -r mode size s m r msgs <<<"$(cell_spec "$c")"
	echo "# $c: mode=$mode size=$size sessions=$s per_conn=$m rcpts=$r msgs=$msgs"
	for i in $(seq 1 "$RUNS"); do
		run_one ringmx "$c" "$i"
		run_one postfix "$c" "$i"
	done
	[ "$SYNCS" = strace ] && strace_syncs "$c"
done

# the sink must have got every relayed message exactly once
stop_pid SINK_PID
got=$(grep -o 'messages=[0-9]*' "$T/sink.out" | tail -n 1 | cut -d= -f2)
if [ -n "$got" ] && [ "$got" -ne "$SINK_EXPECT" ]; then
	echo "warning: the sink got ${got} messages, expected $SINK_EXPECT" >&2
fi
echo "suite: done in $(awk -v a="$start" -v b="$(now)" 'BEGIN { printf "%.0f", b - a }') s;" \
    "sink got ${got:-?} of $SINK_EXPECT relayed messages"
echo

[ -f "$T/strace.results" ] || : >"$T/strace.results"
"$PY" - "$results" "$T/strace.results" "$ordered" "$HAVE_OPENDKIM" <<-'EOF' | tee ${OUT:+"$OUT"}
	import statistics as st, sys
	rows, order, have_od = {}, sys.argv[3].split(), sys.argv[4] != ""
	for line in open(sys.argv[1]):
	    f = line.split()
	    cell, srv = f[0], f[1]
	    rows.setdefault((cell, srv), []).append(
	        (float(f[3]), float(f[4]), float(f[5]), float(f[6]), f[8]))
	strace = {}
	for line in open(sys.argv[2]):
	    c, s, n, m = line.split()
	    strace[(c, s)] = int(n) / int(m)
	def med(cell, srv, k):
	    v = [r[k] for r in rows.get((cell, srv), [])]
	    return st.median(v) if v else None
	def fmt(x, spec):
	    return "-" if x is None or x < 0 else format(x, spec)
	print("| cell | ringmx msgs/s | Postfix msgs/s | ratio | ringmx CPU ms/msg"
	      " | Postfix CPU ms/msg | ringmx p99 ms | Postfix p99 ms"
	      " | syncs/msg ringmx | syncs/msg Postfix |")
	print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for c in order:
	    r, p = med(c, "ringmx", 0), med(c, "postfix", 0)
	    ratio = r / p if r and p else None
	    sr, sp = med(c, "ringmx", 3), med(c, "postfix", 3)
	    if (c, "ringmx") in strace:
	        sr, sp = strace[(c, "ringmx")], strace.get((c, "postfix"))
	    bad = [x[4] for k in ("ringmx", "postfix") for x in rows.get((c, k), []) if x[4] != "ok"]
	    c_label = c
	    if c.startswith("relay-dkim") and not have_od:
	        c_label = c + " (Postfix unsigned: no opendkim)"
	    print("| %s%s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
	        c_label, " (!" + ",".join(bad) + ")" if bad else "",
	        fmt(r, ".0f"), fmt(p, ".0f"), fmt(ratio, ".2f") + ("x" if ratio else ""),
	        fmt(med(c, "ringmx", 1), ".3f"), fmt(med(c, "postfix", 1), ".3f"),
	        fmt(med(c, "ringmx", 2), ".2f"), fmt(med(c, "postfix", 2), ".2f"),
	        fmt(sr, ".3f"), fmt(sp, ".3f")))
EOF
