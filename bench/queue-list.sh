#!/bin/bash
# queue-list.sh - queue inspection benchmark (storage/queue_query.c):
# runs build/bench/queue-list, which fills one LMDB queue shard with
# MSGS messages over DOMAINS recipient domains (batched write
# transactions, small bodies), then times QUERIES queries
# "domain = random domain, limit 100" (p50/p99/max; target p99 < 100 ms),
# a few other filters, the per-domain summary and the per-state counts.
#
# Builds nothing: build/bench/queue-list must exist (`make
# build/bench/queue-list`). Filling 1,000,000 messages takes about a
# minute on the 2-core VM; KEEP=DIR keeps the shard there and reuses it on
# the next run (a directory holding another number of messages is
# refused). Without KEEP a temp directory is used and removed.
#
# Usage: bench/queue-list.sh   (env: MSGS=1000000 DOMAINS=10000
#                               QUERIES=1000 BATCH=4000 KEEP=DIR
#                               BIN=build/bench/queue-list)
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-build/bench/queue-list}
MSGS=${MSGS:-1000000}
DOMAINS=${DOMAINS:-10000}
QUERIES=${QUERIES:-1000}
BATCH=${BATCH:-4000}

if [ ! -x "$BIN" ]; then
	echo "queue-list.sh: $BIN missing: make build/bench/queue-list" >&2
	exit 1
fi
args=(-n "$MSGS" -d "$DOMAINS" -q "$QUERIES" -b "$BATCH")
if [ -n "${KEEP:-}" ]; then
	args+=(-k "$KEEP")
fi
echo "== queue-list: $MSGS messages, $DOMAINS domains, $QUERIES queries"
exec "$BIN" "${args[@]}"
