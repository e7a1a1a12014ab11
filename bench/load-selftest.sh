#!/bin/bash
# load-selftest.sh - checks the benchmark tools (build/bench/ringmx-load,
# ringmx-sink, tls-handshake) against each other, and compares the
# loader's CPU cost with Postfix's smtp-source.
#
# Builds nothing: expects the binaries in $BIN (default build/bench).
# Starts ringmx-sink (with a throw-away ECDSA certificate for STARTTLS) on
# a free loopback port, then runs ringmx-load in several modes (plain,
# pipelining, -M 10, -r 10, -T, -F file, open loop -R, -j 2, IPv6 against
# a second sink on [::1] when the machine has IPv6), each of which must
# exit 0 with accepted == sent == messages; a run against a closed port
# must exit 1 and a bad option 2. Then the same parameters through
# /usr/sbin/smtp-source (Debian package postfix) and ringmx-load, printing
# both loaders' CPU ms/message (user+sys of the process, bash's `time`)
# side by side, and tls-handshake with an ECDSA P-256 and an RSA-2048
# certificate. Ends with "load-selftest: ok", or fails (exit 1).
#
# Usage: bench/load-selftest.sh   (env: BIN=build/bench MSGS=5000
#                                  SESSIONS=50 SIZE=4096)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."

BIN=${BIN:-build/bench}
MSGS=${MSGS:-5000}
SESSIONS=${SESSIONS:-50}
SIZE=${SIZE:-4096}
LOAD=$BIN/ringmx-load
SINK=$BIN/ringmx-sink
HS=$BIN/tls-handshake

for b in "$LOAD" "$SINK" "$HS"; do
	[ -x "$b" ] || die "$b not built (see bench/README.md)"
done
need_tools openssl python3

T=$(mktemp -d /tmp/ringmx-load-selftest.XXXXXX)
SINK_PID=""
SINK6_PID=""
cleanup() {
	stop_pid SINK_PID
	stop_pid SINK6_PID
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/ec.key" -out "$T/ec.crt" -days 2 -subj /CN=localhost \
    2>/dev/null || die "openssl: cannot make an ECDSA certificate"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/rsa.key" \
    -out "$T/rsa.crt" -days 2 -subj /CN=localhost 2>/dev/null ||
    die "openssl: cannot make an RSA certificate"

PORT=$(free_port)
"$SINK" -q -a 127.0.0.1 -p "$PORT" -c "$T/ec.crt" -k "$T/ec.key" \
    >"$T/sink.out" 2>&1 &
SINK_PID=$!
wait_port "$PORT" "$SINK_PID" "ringmx-sink did not start"

# A message file with LF lines, a leading dot and no final newline.
printf 'From: <a@example.test>\nTo: <b@example.test>\nSubject: file\n\n.dot line\nbody\n.\nlast' \
    >"$T/msg.txt"

check_json() { # file messages: sent == accepted == messages, no errors
	python3 - "$1" "$2" <<-'EOF'
		import json, sys
		line = [l for l in open(sys.argv[1]) if l.startswith("{")][-1]
		r = json.loads(line)
		# "warm" (warm-up runs): the counted window is what was sent
		n = r["sent"] if sys.argv[2] == "warm" else int(sys.argv[2])
		ok = (n > 0 and r["sent"] == n and r["accepted"] == n and r["rejected"] == 0
		      and r["conn_errors"] == 0 and r["failed"] == 0)
		print("%-12s sent %6d accepted %6d %9.0f msgs/s  p50 %.3f p99 %.3f ms  %.4f CPU ms/msg%s"
		      % (sys.argv[1].rsplit("/", 1)[1], r["sent"], r["accepted"],
		         r["msgs_per_s"], r["latency_ms"]["p50"], r["latency_ms"]["p99"],
		         r["loader_cpu_ms_per_msg"],
		         "  %.0f handshakes/s" % r["handshakes_per_s"] if r["tls"] else ""))
		sys.exit(0 if ok else 1)
	EOF
}

mode() { # name messages target ringmx-load-options...
	local name=$1 n=$2 target=$3 rc=0
	shift 3
	"$LOAD" -q --json -m "$n" "$@" "$target" >"$T/$name" 2>"$T/$name.err" ||
	    rc=$?
	if [ "$rc" -ne 0 ]; then
		cat "$T/$name" "$T/$name.err" >&2
		die "mode $name: ringmx-load exited $rc"
	fi
	check_json "$T/$name" "${CHECK:-$n}" || die "mode $name: accepted != sent"
}

echo "== ringmx-load modes against ringmx-sink (127.0.0.1:$PORT)"
A=127.0.0.1:$PORT
mode plain 2000 "$A" -s 20
mode pipelining 2000 "$A" -s 20 -P
mode per-conn-10 2000 "$A" -s 20 -M 10 -P
mode rcpt-10 1000 "$A" -s 20 -r 10
mode starttls 500 "$A" -s 10 -T
mode conn-only 2000 "$A" -s 20 -H
mode conn-only-tls 300 "$A" -s 10 -H -T
mode tls-pipe-big 200 "$A" -s 10 -T -P -M 5 -l 200000
mode file 500 "$A" -s 10 -F "$T/msg.txt"
mode open-loop 400 "$A" -s 10 -R 1000
mode threads-2 2000 "$A" -s 20 -j 2 -P
CHECK=warm mode warmup 3000 "$A" -s 20 -w 0.05

if python3 -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then
	PORT6=$(free_port)
	"$SINK" -q -a ::1 -p "$PORT6" >"$T/sink6.out" 2>&1 &
	# shellcheck disable=SC2034 # read by stop_pid through its name
	SINK6_PID=$!
	sleep 0.3
	mode ipv6 500 "[::1]:$PORT6" -s 10
	stop_pid SINK6_PID
else
	echo "(no IPv6 on this machine: the [::1] mode is skipped)"
fi

# Failures: a closed port exits 1, a usage error 2.
CLOSED=$(free_port)
rc=0
"$LOAD" -q -m 3 "127.0.0.1:$CLOSED" >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 1 ] || die "against a closed port: exit $rc, not 1"
rc=0
"$LOAD" -s 0 "$A" >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || die "bad option: exit $rc, not 2"
rc=0
"$LOAD" >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || die "no target: exit $rc, not 2"
echo "closed port exits 1, usage errors exit 2: ok"

# ------------------------------------------------ vs Postfix's smtp-source
TIMEFORMAT='%3U %3S'
cpu_of() { # outfile command...: run it, print user+sys seconds
	local out=$1 t
	shift
	t=$({ time "$@" >"$out" 2>&1; } 2>&1) || {
		cat "$out" >&2
		die "$1 failed"
	}
	awk '{ print $1 + $2 }' <<<"$t"
}

compare() { # label "smtp-source options" "ringmx-load options"
	local a b
	# shellcheck disable=SC2086
	a=$(cpu_of "$T/ss.out" smtp-source -s "$SESSIONS" -m "$MSGS" -l "$SIZE" \
	    -f from@example.test -t to@example.test $2 "$A")
	# shellcheck disable=SC2086
	b=$(cpu_of "$T/rl.out" "$LOAD" -q --json -s "$SESSIONS" -m "$MSGS" \
	    -l "$SIZE" -f from@example.test -t to@example.test $3 "$A")
	check_json "$T/rl.out" "$MSGS" >/dev/null ||
	    die "compare $1: ringmx-load did not get every message accepted"
	awk -v l="$1" -v a="$a" -v b="$b" -v n="$MSGS" 'BEGIN {
		printf "%-34s %12.4f %12.4f %8.2fx\n", l, a * 1000 / n,
		    b * 1000 / n, (b > 0 ? a / b : 0) }'
}

if command -v smtp-source >/dev/null; then
	echo
	echo "== loader CPU ms/message: $MSGS msgs x $SIZE bytes, $SESSIONS sessions"
	printf '%-34s %12s %12s %9s\n' mode smtp-source ringmx-load ratio
	compare "1 msg/connection" "" ""
	compare "-r 10 recipients" "-r 10" "-r 10"
	compare "reuse (-d / -M $MSGS)" "-d" "-M $MSGS"
	compare "reuse, ringmx-load -P" "-d" "-M $MSGS -P"
else
	echo "(smtp-source missing: apt-get install postfix; comparison skipped)"
fi

echo
echo "== wolfSSL handshakes in memory (tls-handshake)"
"$HS" -c "$T/ec.crt" -k "$T/ec.key" -n 1000 || die "tls-handshake ECDSA failed"
"$HS" -c "$T/rsa.crt" -k "$T/rsa.key" -n 200 || die "tls-handshake RSA failed"

stop_pid SINK_PID
grep -q '^ringmx-sink: messages=' "$T/sink.out" ||
    die "ringmx-sink printed no counters on SIGTERM"
tail -1 "$T/sink.out"
echo "load-selftest: ok"
