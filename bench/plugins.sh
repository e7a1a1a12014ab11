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
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."

MSGS=${MSGS:-20000}
SESSIONS=${SESSIONS:-50}
SIZE=${SIZE:-4096}
RUNS=${RUNS:-3}
RINGMX=${RINGMX:-build/ringmx}
PLUG=${PLUG:-build/plugins}

[ -x "$RINGMX" ] || die "$RINGMX not built (make)"
for p in rcpt_table dkim_sign; do
	[ -f "$PLUG/$p.so" ] || die "$PLUG/$p.so not built (make)"
done
need_tools smtp-source

T=$(mktemp -d /tmp/ringmx-bench-plugins.XXXXXX)
cleanup() {
	stop_ringmx
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

openssl genpkey -algorithm ed25519 -out "$T/ed.pem" 2>/dev/null
openssl genpkey -algorithm rsa -pkeyopt rsa_keygen_bits:2048 \
    -out "$T/rsa.pem" 2>/dev/null
printf '@localhost\n' >"$T/recipients"
PORT=$(free_port)

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
	start_ringmx_conf "$d" "$PORT" "ringmx did not start ($d/ringmx.log)"
}

results=$T/results
: >"$results"
echo "plugins: $MSGS messages x $SIZE bytes, $SESSIONS sessions, $RUNS runs each, $(nproc) CPUs"
for i in $(seq 1 "$RUNS"); do
	for cell in none ed25519 rsa; do
		start "$cell" "$i"
		c0=$(ticks "$RMX_PID")
		t0=$(now)
		smtp-source -s "$SESSIONS" -m "$MSGS" -l "$SIZE" \
		    -f bench@example.test -t to@localhost "127.0.0.1:$PORT" ||
		    die "smtp-source failed ($cell)"
		t1=$(now)
		c1=$(ticks "$RMX_PID")
		kill -TERM "$RMX_PID"
		wait "$RMX_PID" || true
		RMX_PID=""
		echo "$cell $t0 $t1 $c0 $c1" >>"$results"
		rm -rf "$T/$cell.$i"
	done
done

results_table "$results" plugins "none ed25519 rsa" none
