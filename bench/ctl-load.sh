#!/bin/bash
# ctl-load.sh - queue listings through the control socket cost the mail
# path nothing: ringmx (release, hold = true, 2 workers) starts on a queue
# of QUEUED messages over 10,000 recipient domains (filled beforehand by
# build/bench/queue-list into shard 0), then alternately (A B A B ...):
#   alone    bench/ringmx-load sends MSGS messages of 4 KB, 50 sessions
#   listing  the same, while a client on the control socket asks
#            `queue.list --domain <random> --limit 100` RATE times a
#            second (default 10: far more often than an operator)
# Prints inbound msgs/s (median of RUNS per cell), the difference (target:
# within 10%) and the latency of the listings under load (p50/p99, target
# p99 < 100 ms).
# Usage: bench/ctl-load.sh  (env: QUEUED=1000000 MSGS=20000 RUNS=3 RATE=10
#                            KEEP=DIR reuses a filled shard)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/.."

QUEUED=${QUEUED:-1000000}
MSGS=${MSGS:-20000}
RUNS=${RUNS:-3}
RINGMX=${RINGMX:-build/ringmx}
CTL=${CTL:-build/ringmxctl}
LOAD=${LOAD:-build/bench/ringmx-load}
FILL=${FILL:-build/bench/queue-list}
for b in "$RINGMX" "$CTL" "$LOAD" "$FILL"; do
	[ -x "$b" ] || die "$b not built (make all bench-tools)"
done

T=$(mktemp -d /tmp/ringmx-bench-ctl.XXXXXX)
LISTER=""
cleanup() {
	[ -n "$LISTER" ] && kill "$LISTER" 2>/dev/null || true
	stop_ringmx
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

SHARD=${KEEP:-$T/shard}
echo "ctl-load: filling $QUEUED messages over 10000 domains (or reusing $SHARD)"
"$FILL" -n "$QUEUED" -d 10000 -q 10 -k "$SHARD" >"$T/fill.out" ||
    die "filling the queue failed: $(tail -3 "$T/fill.out")"
mkdir -p "$T/var/queue"
cp -a "$SHARD" "$T/var/queue/shard-0"

PORT=$(free_port)
cat >"$T/ringmx.conf" <<EOF
hostname = "bench.ringmx.test";
workers = 2;
state_dir = "$T/var";
hold = true;
log_level = "notice";
listeners = ( { address = "127.0.0.1:$PORT"; mode = "smtp"; } );
local_domains = [ "localhost" ];
limits = { conn_per_ip = 1000; };
EOF
t0=$(now)
"$RINGMX" -c "$T/ringmx.conf" </dev/null 2>"$T/ringmx.log" &
RMX_PID=$!
wait_port "$PORT" "$RMX_PID" "ringmx did not start ($T/ringmx.log)"
for _ in $(seq 1 200); do
	[ -S "$T/var/control.sock" ] && break
	sleep 0.05
done
echo "start-up with the queue: $(echo "$(now) - $t0" | bc | cut -c1-5) s;" \
    "$("$CTL" -c "$T/ringmx.conf" status | grep '^queue')"

# The lister: one control connection, a `queue list --domain <random>
# --limit 100` request every 1/RATE s (back to back if slower), the
# latency of each answer (us) on stdout.
cat >"$T/lister.py" <<'EOF'
import json, random, socket, sys, time
path, rate = sys.argv[1], float(sys.argv[2])
s = socket.socket(socket.AF_UNIX)
s.connect(path)
f = s.makefile("rb")
while True:
    t0 = time.monotonic()
    req = {"v": 1, "cmd": "queue.list",
           "args": {"domain": "d%05d.example" % random.randrange(10000),
                    "limit": 100}}
    s.sendall(json.dumps(req).encode() + b"\n")
    ans = json.loads(f.readline())
    assert ans["ok"], ans
    dt = time.monotonic() - t0
    print(int(dt * 1e6), flush=True)
    time.sleep(max(0.0, 1.0 / rate - dt))
EOF
RATE=${RATE:-10}
lister() { # runs until killed; one latency (us) per line
	exec "$PY" "$T/lister.py" "$T/var/control.sock" "$RATE"
}

results=$T/results
: >"$results"
for i in $(seq 1 "$RUNS"); do
	for cell in alone listing; do
		if [ "$cell" = listing ]; then
			lister >>"$T/lat" &
			LISTER=$!
		fi
		r=$("$LOAD" -q --json -s 50 -m "$MSGS" -l 4096 -t to@localhost \
		    "127.0.0.1:$PORT" | tail -n 1 |
		    "$PY" -c 'import json,sys; print(json.load(sys.stdin)["msgs_per_s"])')
		if [ -n "$LISTER" ]; then
			kill "$LISTER" 2>/dev/null || true
			wait "$LISTER" 2>/dev/null || true
			LISTER=""
		fi
		echo "$cell $r" >>"$results"
		echo "run $i  $cell  $r msgs/s"
	done
done

"$PY" - "$results" "$T/lat" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
alone = statistics.median(float(r[1]) for r in rows if r[0] == "alone")
listing = statistics.median(float(r[1]) for r in rows if r[0] == "listing")
lat = sorted(int(x) / 1000 for x in open(sys.argv[2]) if x.strip())
print(f"\ninbound alone {alone:.0f} msgs/s, during listings {listing:.0f} "
      f"msgs/s: {100 * (listing - alone) / alone:+.1f}% (target within 10%)")
if lat:
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
    print(f"{len(lat)} listings under load (request to answer): "
          f"p50 {p(0.5):.1f} ms, p99 {p(0.99):.1f} ms (target p99 < 100 ms)")
EOF
