#!/bin/bash
# tls.sh - inbound STARTTLS: ringmx vs a stock Postfix, and ringmx's TLS
# handshake cost against wolfSSL's own in-memory handshake.
#
# bench/ringmx-load sends MSGS messages of SIZE bytes, one message per
# connection, SESSIONS sessions, STARTTLS on every connection (TLS 1.3,
# X25519, no certificate verification), alternately (A B A B ...) to
#   ringmx  (release build, hold = true, 2 workers, an ECDSA P-256
#           certificate, or RSA-2048 with CERT=rsa)
#   postfix (the Debian package, same certificate, smtpd_tls_security_level
#           = may, hold as in inbound.sh)
# and once to ringmx without STARTTLS (plain): server CPU per message with
# TLS minus without it is the server's cost of one handshake (plus the
# record layer of a 4 KB message). The reference is bench/tls-handshake:
# wolfSSL's server side of a full handshake in a memory-to-memory loop on
# this machine. Prints msgs/s, server CPU ms/message and p99 latency of
# the 250 after the data for each, the ratio to Postfix, and the
# handshakes per second one core can do for ringmx vs the reference.
# Usage: bench/tls.sh  (env: MSGS=5000 SESSIONS=50 SIZE=4096 RUNS=3
#                       CERT=ec|rsa RINGMX=build/ringmx)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."

MSGS=${MSGS:-5000}
SESSIONS=${SESSIONS:-50}
SIZE=${SIZE:-4096}
RUNS=${RUNS:-3}
CERT=${CERT:-ec}
RINGMX=${RINGMX:-build/ringmx}
LOAD=${LOAD:-build/bench/ringmx-load}
HS=${HS:-build/bench/tls-handshake}

[ "$(id -u)" -eq 0 ] || die "must run as root (Postfix runs as user postfix)"
for b in "$RINGMX" "$LOAD" "$HS"; do
	[ -x "$b" ] || die "$b not built (make all bench-tools)"
done
need_tools openssl postconf /usr/lib/postfix/sbin/master

T=$(mktemp -d /tmp/ringmx-bench-tls.XXXXXX)
chmod 755 "$T"
cleanup() {
	stop_ringmx
	stop_postfix
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$CERT" = rsa ]; then
	alg=(-newkey rsa:2048)
else
	alg=(-newkey ec -pkeyopt ec_paramgen_curve:P-256)
fi
openssl req -x509 -nodes "${alg[@]}" -keyout "$T/key.pem" -out "$T/cert.pem" \
    -days 2 -subj /CN=bench.ringmx.test 2>/dev/null
chmod 644 "$T/key.pem" "$T/cert.pem"

start_postfix "smtpd_recipient_restrictions = check_client_access static:HOLD,
    permit_mynetworks, reject_unauth_destination
smtpd_tls_cert_file = $T/cert.pem
smtpd_tls_key_file = $T/key.pem
smtpd_tls_security_level = may
smtpd_tls_session_cache_database ="
"$LOAD" -q -T -s 10 -m 200 -l "$SIZE" -t to@localhost \
    "127.0.0.1:$PF_PORT" >/dev/null || die "postfix STARTTLS warm-up failed"

RMX_PORT=$(free_port)
start_ringmx() { # dir tls?
	local d=$T/$1
	mkdir -p "$d"
	local tls=""
	[ "$2" = yes ] && tls="tls = { certificates = ( { cert = \"$T/cert.pem\"; key = \"$T/key.pem\"; } ); };"
	cat >"$d/ringmx.conf" <<-EOF
		hostname = "bench.ringmx.test";
		workers = 2;
		state_dir = "$d/var";
		hold = true;
		log_level = "notice";
		listeners = ( { address = "127.0.0.1:$RMX_PORT"; mode = "smtp"; $tls } );
		local_domains = [ "localhost" ];
		limits = { conn_per_ip = 1000; };
	EOF
	start_ringmx_conf "$d" "$RMX_PORT"
}

results=$T/results
lat=$T/latency
: >"$results"
: >"$lat"
run() { # cell server port tls-flag
	local t0 t1 c0 c1 out
	c0=$(server_ticks "$2")
	t0=$(now)
	out=$("$LOAD" -q --json $4 -s "$SESSIONS" -m "$MSGS" -l "$SIZE" \
	    -t to@localhost "127.0.0.1:$3" | tail -n 1) ||
	    die "ringmx-load against $1 failed"
	t1=$(now)
	c1=$(server_ticks "$2")
	echo "$1 $t0 $t1 $c0 $c1" >>"$results"
	echo "$1 $(echo "$out" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["latency_ms"]["p99"])')" >>"$lat"
}

echo "tls: $MSGS messages x $SIZE bytes, $SESSIONS sessions, STARTTLS on" \
    "every connection, $CERT certificate, $RUNS runs each, $(nproc) CPUs"
for i in $(seq 1 "$RUNS"); do
	start_ringmx "r$i" yes
	run ringmx ringmx "$RMX_PORT" -T
	stop_ringmx
	rm -rf "$T/r$i"
	find "$PF/spool/hold" -type f -delete
	run postfix postfix "$PF_PORT" -T
	find "$PF/spool/hold" -type f -delete
done
start_ringmx plain no
run plain ringmx "$RMX_PORT" ""
stop_ringmx
# the handshake alone: tiny messages (300 bytes) with and without TLS
SIZE0=$SIZE
SIZE=300
start_ringmx hs no
run hs-plain ringmx "$RMX_PORT" ""
stop_ringmx
start_ringmx hs-tls yes
run hs-tls ringmx "$RMX_PORT" -T
stop_ringmx
SIZE=$SIZE0

results_table "$results" server "ringmx postfix plain hs-plain hs-tls"
echo
awk '{ n[$1]++; s[$1] += $2 } END { for (k in n) printf "p99 of the 250 after data: %-8s %.2f ms\n", k, s[k] / n[k] }' "$lat" | sort

# Handshake cost: (ringmx TLS - plain) CPU per message, against wolfSSL.
ref=$("$HS" -c "$T/cert.pem" -k "$T/key.pem" -n 1000 --json)
awk -v msgs="$MSGS" -v hz="$HZ" -v ref="$ref" -v size="$SIZE" '
	{ cpu = ($5 - $4) * 1000 / hz / msgs; n[$1]++; ms[$1] += cpu }
	END {
		match(ref, /"server_cpu_us":[0-9.]+/)
		r = substr(ref, RSTART + 16, RLENGTH - 16) / 1000
		t = ms["ringmx"] / n["ringmx"]; p = ms["plain"] / n["plain"]
		h = ms["hs-tls"] / n["hs-tls"] - ms["hs-plain"] / n["hs-plain"]
		printf "\nTLS cost per %d-byte message: %.3f ms CPU (handshake, STARTTLS round trips, record layer)\n", size, t - p
		printf "handshake (300-byte messages, TLS minus plain): ringmx %.3f ms CPU per connection (%.0f/s per core); wolfSSL in memory (server side incl. its object) %.3f ms (%.0f/s per core); ringmx at %.0f%% of the reference rate\n", h, 1 / h * 1000, r, 1 / r * 1000, 100 * r / h
	}' "$results"
