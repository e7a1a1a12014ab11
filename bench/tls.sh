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
# TLS minus without it is what TLS costs per 4 KB message (handshake,
# STARTTLS round trips, record layer). Then the handshake alone: ringmx-load
# -H connections (connect, [TLS,] greeting, QUIT) to a 1-worker ringmx
# with a plain, an implicit-TLS and a STARTTLS listener, against
# bench/tls-handshake, wolfSSL's server side of the same handshake in a
# memory-to-memory loop on this machine, alternated RUNS times. Prints
# msgs/s, server CPU ms/message and p99 latency of the 250 after the data
# for each server, the ratio to Postfix, and the handshakes per second one
# core can do for ringmx vs the reference.
# Usage: bench/tls.sh  (env: MSGS=5000 SESSIONS=50 SIZE=4096 RUNS=3
#                       HS_CONNS=4000 CERT=ec|rsa RINGMX=build/ringmx)
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
results_table "$results" server "ringmx postfix plain"
echo
awk '{ n[$1]++; s[$1] += $2 } END { for (k in n) printf "p99 of the 250 after data: %-8s %.2f ms\n", k, s[k] / n[k] }' "$lat" | sort

# TLS cost per message: (ringmx STARTTLS - plain) CPU per message.
awk -v msgs="$MSGS" -v hz="$HZ" -v size="$SIZE" '
	{ cpu = ($5 - $4) * 1000 / hz / msgs; n[$1]++; ms[$1] += cpu }
	END {
		t = ms["ringmx"] / n["ringmx"]; p = ms["plain"] / n["plain"]
		printf "\nTLS cost per %d-byte message: %.3f ms CPU (handshake, STARTTLS round trips, record layer)\n", size, t - p
	}' "$results"

# The handshake alone: connections that only connect, [do TLS,] read the
# greeting and QUIT (ringmx-load -H), to one ringmx with 1 worker and three
# listeners: plain, implicit TLS (submissions) and STARTTLS (after EHLO).
# Server CPU per connection with TLS minus plain is what one handshake
# costs ringmx (wolfSSL plus the ring, the kernel's TCP work for the
# handshake's flights and the encrypted greeting/QUIT). The reference is
# bench/tls-handshake: wolfSSL's server side of the same handshake (TLS 1.3,
# X25519, same certificate) in a memory-to-memory loop. Alternated
# (plain, implicit, STARTTLS, reference) RUNS times; medians.
HS_CONNS=${HS_CONNS:-4000}
P_PLAIN=$(free_port)
P_IMPL=$(free_port)
P_STLS=$(free_port)
d=$T/hs
mkdir -p "$d"
tlsg="tls = { certificates = ( { cert = \"$T/cert.pem\"; key = \"$T/key.pem\"; } ); };"
cat >"$d/ringmx.conf" <<-EOF
	hostname = "bench.ringmx.test";
	workers = 1;
	state_dir = "$d/var";
	hold = true;
	log_level = "notice";
	listeners = ( { address = "127.0.0.1:$P_PLAIN"; mode = "smtp"; },
	    { address = "127.0.0.1:$P_IMPL"; mode = "submissions"; $tlsg },
	    { address = "127.0.0.1:$P_STLS"; mode = "smtp"; $tlsg } );
	local_domains = [ "localhost" ];
	limits = { conn_per_ip = 1000; };
EOF
start_ringmx_conf "$d" "$P_PLAIN"
hs=$T/hs.results
: >"$hs"
hs_run() { # label port n flags...
	local l=$1 port=$2 n=$3 c0 c1
	shift 3
	c0=$(ticks "$RMX_PID")
	"$LOAD" -q -H -s 20 -m "$n" "$@" "127.0.0.1:$port" >/dev/null ||
	    die "ringmx-load -H $* failed"
	c1=$(ticks "$RMX_PID")
	echo "$l $(awk -v a="$c0" -v b="$c1" -v n="$n" -v hz="$HZ" \
	    'BEGIN { printf "%.4f", (b - a) * 1000 / hz / n }')" >>"$hs"
}
"$LOAD" -q -H -I -s 10 -m 200 "127.0.0.1:$P_IMPL" >/dev/null ||
    die "implicit TLS warm-up failed"
for i in $(seq 1 "$RUNS"); do
	hs_run plain "$P_PLAIN" $((HS_CONNS * 2))
	hs_run implicit "$P_IMPL" "$HS_CONNS" -I
	hs_run starttls "$P_STLS" "$HS_CONNS" -T
	ref=$("$HS" -c "$T/cert.pem" -k "$T/key.pem" -n 1000 --json)
	echo "ref $("$PY" -c 'import json,sys; print(json.loads(sys.argv[1])["server_cpu_us"] / 1000)' "$ref")" >>"$hs"
done
stop_ringmx
"$PY" - "$hs" <<-'EOF'
	import statistics as st, sys
	v = {}
	for line in open(sys.argv[1]):
	    k, x = line.split()
	    v.setdefault(k, []).append(float(x))
	m = {k: st.median(x) for k, x in v.items()}
	hi = m["implicit"] - m["plain"]
	hs = m["starttls"] - m["plain"]
	r = m["ref"]
	print()
	print("handshake alone (ringmx-load -H, 1 worker, medians of %d runs), server CPU ms per connection:" % len(v["plain"]))
	print("  plain connect/greeting/QUIT %.3f; implicit TLS %.3f; STARTTLS (EHLO, STARTTLS, handshake, QUIT) %.3f"
	      % (m["plain"], m["implicit"], m["starttls"]))
	print("  handshake = implicit TLS - plain: %.3f ms (%.0f/s per core); with STARTTLS: %.3f ms (%.0f/s per core)"
	      % (hi, 1000 / hi, hs, 1000 / hs))
	print("  wolfSSL in memory (server side incl. its object): %.3f ms (%.0f/s per core)" % (r, 1000 / r))
	print("  ringmx handshake rate at %.0f%% of wolfSSL's own (implicit TLS), %.0f%% with STARTTLS (aim: >= 80%%)"
	      % (100 * r / hi, 100 * r / hs))
EOF
