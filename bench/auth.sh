#!/bin/bash
# auth.sh - what inbound sender authentication costs: ringmx (release
# build, hold = true, 2 workers) accepting DKIM-signed mail from Postfix's
# smtp-source (MSGS messages, SESSIONS sessions, one message per
# connection), in two configurations run alternately (A B A B ...):
#   none   no plugins
#   auth   spf + dkim_verify + dmarc: every message gets an SPF check of its
#          MAIL FROM (bench.test: "v=spf1 ip4:127.0.0.0/8 -all"), an
#          RSA-2048 DKIM-SHA256 verification (key in DNS) and a DMARC
#          evaluation (p=reject), all passing.
# DNS is NSD on loopback (tests/integration/dnsserver.py, DNSSEC-signed
# zone "test."); answers are cached by each worker's libunbound after the
# first messages, which is the case the target speaks of: auth within 25%
# of none. Before the runs, one message is delivered (hold = false) and its
# Authentication-Results checked, so the runs measure real verifications.
# Usage: bench/auth.sh  (env: MSGS=20000 SESSIONS=50 RUNS=3)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."

MSGS=${MSGS:-20000}
SESSIONS=${SESSIONS:-50}
RUNS=${RUNS:-3}
RINGMX=${RINGMX:-build/ringmx}
PLUG=${PLUG:-build/plugins}

[ -x "$RINGMX" ] || die "$RINGMX not built (make)"
for p in spf dkim_verify dmarc; do
	[ -f "$PLUG/$p.so" ] || die "$PLUG/$p.so not built (make)"
done
need_tools smtp-source nsd ldns-signzone openssl

T=$(mktemp -d /tmp/ringmx-bench-auth.XXXXXX)
DNS_PID=""
cleanup() {
	stop_ringmx
	stop_pid DNS_PID
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The key, the signed message (smtp-source -F adds the CRLFs), the zone.
openssl genpkey -algorithm rsa -pkeyopt rsa_keygen_bits:2048 \
    -out "$T/rsa.pem" 2>/dev/null
"$PY" - "$T" <<'EOF'
import base64, subprocess, sys, dkim
t = sys.argv[1]
key = open(f"{t}/rsa.pem", "rb").read()
der = subprocess.run(["openssl", "pkey", "-in", f"{t}/rsa.pem", "-pubout",
                      "-outform", "DER"], capture_output=True,
                     check=True).stdout
p = base64.b64encode(der).decode()
line = "The quick brown fox jumps over the lazy dog, once more. 0123456789\r\n"
body = (line * 60).encode()
msg = (b"From: Bench <bench@bench.test>\r\nTo: <to@localhost>\r\n"
       b"Subject: auth bench\r\nMessage-ID: <bench@bench.test>\r\n"
       b"Date: Sun, 29 Nov 2026 00:00:00 +0000\r\n\r\n" + body)
sig = dkim.sign(msg, b"s1", b"bench.test", key,
                include_headers=[b"from", b"to", b"subject", b"message-id",
                                 b"date"])
open(f"{t}/msg.eml", "wb").write(sig + msg)
open(f"{t}/msg.lf", "wb").write((sig + msg).replace(b"\r\n", b"\n"))
# TXT character-strings are at most 255 octets: split the key
chunks = " ".join(f'"{p[i:i + 200]}"' for i in range(0, len(p), 200))
open(f"{t}/zone.txt", "w").write("\n".join([
    'bench.test. TXT "v=spf1 ip4:127.0.0.0/8 -all"',
    f's1._domainkey.bench.test. TXT "v=DKIM1; k=rsa; p=" {chunks}',
    '_dmarc.bench.test. TXT "v=DMARC1; p=reject"',
    "bench.test. A 127.0.0.1",
]) + "\n")
EOF

# NSD with the zone, kept up by a python process until stdin closes.
mkfifo "$T/dns.in"
cat >"$T/dns.py" <<'EOF'
import pathlib, sys
sys.path.insert(0, "tests/integration")
from dnsserver import DNSServer, Zone
t = pathlib.Path(sys.argv[1])
recs = t.joinpath("zone.txt").read_text().splitlines()
with DNSServer(t / "dns", {"test.": Zone("secure", recs)}) as srv:
    print(srv.trust_anchor, srv.unbound_conf, flush=True)
    sys.stdin.read()  # until the script closes the fifo (fd 9)
EOF
"$PY" "$T/dns.py" "$T" <"$T/dns.in" >"$T/dns.out" 2>"$T/dns.err" &
DNS_PID=$!
exec 9>"$T/dns.in"
for _ in $(seq 1 200); do
	[ -s "$T/dns.out" ] && break
	sleep 0.1
done
[ -s "$T/dns.out" ] || die "DNS server did not start: $(cat "$T/dns.err")"
read -r ANCHOR UBCONF <"$T/dns.out"

PORT=$(free_port)
plugins_for() {
	[ "$1" = auth ] || return 0
	echo "plugins = ( { name = \"spf\"; path = \"$PWD/$PLUG/spf.so\"; },
	  { name = \"dkim_verify\"; path = \"$PWD/$PLUG/dkim_verify.so\"; },
	  { name = \"dmarc\"; path = \"$PWD/$PLUG/dmarc.so\"; } );"
}

start() { # cell run [hold]
	local d=$T/$1.$2
	mkdir -p "$d"
	cat >"$d/ringmx.conf" <<-EOF
		hostname = "bench.ringmx.test";
		workers = 2;
		state_dir = "$d/var";
		hold = ${3:-true};
		log_level = "notice";
		listeners = ( { address = "127.0.0.1:$PORT"; mode = "smtp"; } );
		local_domains = [ "localhost" ];
		limits = { conn_per_ip = 1000; };
		dns = { mode = "recursive"; trust_anchor = "$ANCHOR"; unbound_conf = "$UBCONF"; };
		$(plugins_for "$1")
	EOF
	start_ringmx_conf "$d" "$PORT" "ringmx did not start ($d/ringmx.log)"
}

# The check: one message through the plugins, delivered, results read.
start auth check false
"$PY" - "$PORT" "$T/msg.eml" "$T/auth.check/var/mail" <<'EOF' ||
import glob, smtplib, sys, time
port, msg, mail = int(sys.argv[1]), open(sys.argv[2], "rb").read(), sys.argv[3]
with smtplib.SMTP("127.0.0.1", port) as s:
    s.sendmail("bench@bench.test", ["to@localhost"], msg)
for _ in range(200):
    files = glob.glob(mail + "/**/new/*", recursive=True)
    if files:
        break
    time.sleep(0.05)
raw = open(files[0], "rb").read().decode()
ar = [l for l in raw.split("\r\n\r\n")[0].replace("\r\n\t", " ").split("\r\n")
      if l.lower().startswith("authentication-results:")]
print("check:", ar[0] if ar else "no Authentication-Results")
ok = ar and all(f"{m}=pass" in ar[0] for m in ("spf", "dkim", "dmarc"))
sys.exit(0 if ok else 1)
EOF
	die "the plugins did not pass the signed message ($T/auth.check/ringmx.log)"
stop_ringmx

results=$T/results
: >"$results"
echo "auth: $MSGS signed messages of $(wc -c <"$T/msg.eml") bytes, $SESSIONS sessions, $RUNS runs each, $(nproc) CPUs"
for i in $(seq 1 "$RUNS"); do
	for cell in none auth; do
		start "$cell" "$i"
		c0=$(ticks "$RMX_PID")
		t0=$(now)
		smtp-source -s "$SESSIONS" -m "$MSGS" -F "$T/msg.lf" \
		    -f bench@bench.test -t to@localhost "127.0.0.1:$PORT" ||
		    die "smtp-source failed ($cell)"
		t1=$(now)
		c1=$(ticks "$RMX_PID")
		stop_ringmx
		echo "$cell $t0 $t1 $c0 $c1" >>"$results"
		rm -rf "$T/$cell.$i"
	done
done

results_table "$results" auth "none auth" none
