#!/bin/bash
# plugins.sh - what the plugin path costs: inbound acceptance of ringmx
# (release build, hold = true, 2 workers) driven by Postfix's smtp-source
# (MSGS messages of SIZE bytes, SESSIONS sessions, one message per
# connection), in three configurations run alternately (A B C A B C ...):
#   none     no plugins
#   ed25519  rcpt_table (catch-all table for localhost) + dkim_sign with an
#            Ed25519 key (signed inline on the worker)
#   rsa      rcpt_table + dkim_sign with an RSA-2048 key (signed on the
#            worker's offload thread: sessions must not stall)
# The client is in relay_networks, so every message is signed. Prints
# msgs/s, server CPU ms per message, p99 is not measured here (see
# inbound.sh); the target is ed25519 within 15% of none.
# Usage: bench/plugins.sh  (env: MSGS=20000 SESSIONS=50 SIZE=4096 RUNS=3)
set -euo pipefail
cd "$(dirname "$0")/.."

MSGS=${MSGS:-20000}
SESSIONS=${SESSIONS:-50}
SIZE=${SIZE:-4096}
RUNS=${RUNS:-3}
RINGMX=${RINGMX:-build/ringmx}
PLUG=${PLUG:-build/plugins}
PY=/usr/bin/python3
HZ=$(getconf CLK_TCK)

die() { echo "plugins.sh: $*" >&2; exit 1; }
[ -x "$RINGMX" ] || die "$RINGMX not built (make)"
for p in rcpt_table dkim_sign; do
	[ -f "$PLUG/$p.so" ] || die "$PLUG/$p.so not built (make)"
done
command -v smtp-source >/dev/null || die "smtp-source missing (tools/install-deps.sh --bench)"

T=$(mktemp -d /tmp/ringmx-bench-plugins.XXXXXX)
RMX_PID=""
cleanup() {
	[ -z "$RMX_PID" ] || { kill -TERM "$RMX_PID" 2>/dev/null; wait "$RMX_PID" 2>/dev/null; } || true
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

openssl genpkey -algorithm ed25519 -out "$T/ed.pem" 2>/dev/null
openssl genpkey -algorithm rsa -pkeyopt rsa_keygen_bits:2048 \
    -out "$T/rsa.pem" 2>/dev/null
printf '@localhost\n' >"$T/recipients"
PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

plugins_for() {
	case "$1" in
	none) echo "" ;;
	ed25519 | rsa)
		local alg=ed25519-sha256 key=$T/ed.pem
		[ "$1" = rsa ] && alg=rsa-sha256 key=$T/rsa.pem
		echo "plugins = ( { name = \"rcpt_table\"; path = \"$PWD/$PLUG/rcpt_table.so\"; table = \"$T/recipients\"; },
		  { name = \"dkim_sign\"; path = \"$PWD/$PLUG/dkim_sign.so\"; key = [ \"example.test:s1:$alg:$key\" ]; } );"
		;;
	esac
}

start() { # cell run
	local d=$T/$1.$2
	mkdir -p "$d"
	cat >"$d/ringmx.conf" <<-EOF
		hostname = "bench.ringmx.test";
		workers = 2;
		state_dir = "$d/var";
		hold = true;
		log_level = "notice";
		listeners = ( { address = "127.0.0.1:$PORT"; mode = "smtp"; } );
		local_domains = [ "localhost" ];
		relay_networks = [ "127.0.0.0/8" ];
		limits = { conn_per_ip = 1000; };
		$(plugins_for "$1")
	EOF
	"$RINGMX" -c "$d/ringmx.conf" </dev/null 2>"$d/ringmx.log" &
	RMX_PID=$!
	"$PY" - "$PORT" <<-'EOF' || die "ringmx did not start ($d/ringmx.log)"
		import socket, sys, time
		for _ in range(2000):
		    try:
		        with socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1) as s:
		            if s.recv(512).startswith(b"220"):
		                sys.exit(0)
		    except OSError:
		        time.sleep(0.01)
		sys.exit(1)
	EOF
}

ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }

results=$T/results
: >"$results"
echo "plugins: $MSGS messages x $SIZE bytes, $SESSIONS sessions, $RUNS runs each, $(nproc) CPUs"
for i in $(seq 1 "$RUNS"); do
	for cell in none ed25519 rsa; do
		start "$cell" "$i"
		c0=$(ticks "$RMX_PID")
		t0=$(date +%s.%N)
		smtp-source -s "$SESSIONS" -m "$MSGS" -l "$SIZE" \
		    -f bench@example.test -t to@localhost "127.0.0.1:$PORT" ||
		    die "smtp-source failed ($cell)"
		t1=$(date +%s.%N)
		c1=$(ticks "$RMX_PID")
		kill -TERM "$RMX_PID"
		wait "$RMX_PID" || true
		RMX_PID=""
		echo "$cell $t0 $t1 $c0 $c1" >>"$results"
		rm -rf "$T/$cell.$i"
	done
done

awk -v msgs="$MSGS" -v hz="$HZ" '
{
	s = $1; wall = $3 - $2; cpu = ($5 - $4) * 1000 / hz / msgs
	n[s]++; rate[s] += msgs / wall; ms[s] += cpu
	printf "run %d  %-8s %10.0f msgs/s %8.3f CPU ms/msg\n", n[s], s, msgs / wall, cpu
}
END {
	print ""
	printf "%-8s %12s %16s %14s\n", "plugins", "msgs/s", "CPU ms/message", "vs none"
	split("none ed25519 rsa", order, " ")
	base = rate["none"] / n["none"]
	for (i = 1; i <= 3; i++)
		if (n[s = order[i]])
			printf "%-8s %12.0f %16.3f %13.1f%%\n", s, rate[s] / n[s],
			    ms[s] / n[s], 100 * (rate[s] / n[s] - base) / base
}' "$results"
