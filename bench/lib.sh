# shellcheck shell=bash
# lib.sh - helpers shared by the benchmark scripts (inbound.sh, plugins.sh,
# relay.sh); sourced, not run: . "$(dirname "$0")/lib.sh" (before the
# script's cd, so that the path still resolves).
#
# What a script sets for these helpers:
#   T        its temp dir (start_postfix puts the private Postfix below it)
#   RINGMX   the ringmx binary (start_ringmx_conf)
#   MSGS     messages per run (results_table)
# What they set: PY, HZ; RMX_PID (start_ringmx_conf, stop_ringmx);
# PF, PF_PORT, PF_PID (start_postfix, stop_postfix).
# Measurements ("ticks") are utime+stime from /proc/PID/stat in clock ticks.

PY=/usr/bin/python3
HZ=$(getconf CLK_TCK)
RMX_PID=""
PF_PID=""

die() { echo "${0##*/}: $*" >&2; exit 1; }

need_tools() { # command...: die unless each is on PATH
	local t
	for t; do
		command -v "$t" >/dev/null || die "$t missing (tools/install-deps.sh --bench)"
	done
}

now() { date +%s.%N; }

free_port() {
	"$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Wait until the server on 127.0.0.1:port greets with 220 (20 s at most);
# die with the message (default: "server on port N did not start") if it
# does not, or if pid exits first.
wait_port() { # port pid [message]
	"$PY" - "$1" "$2" <<-'EOF' || die "${3:-server on port $1 did not start}"
		import os, socket, sys, time
		port, pid = int(sys.argv[1]), int(sys.argv[2])
		for _ in range(2000):
		    try:
		        os.kill(pid, 0)
		    except OSError:
		        sys.exit(1)
		    try:
		        with socket.create_connection(("127.0.0.1", port), 1) as s:
		            if s.recv(512).startswith(b"220"):
		                sys.exit(0)
		    except OSError:
		        pass
		    time.sleep(0.01)
		sys.exit(1)
	EOF
}

children() { # pids whose parent is $1
	local f s
	for f in /proc/[0-9]*/stat; do
		{ read -r s <"$f"; } 2>/dev/null || continue
		s=${s##*) }	# drop "pid (comm) "
		s=${s#* }	# and the state
		if [ "${s%% *}" = "$1" ]; then
			f=${f#/proc/}
			echo "${f%/stat}"
		fi
	done
}

# utime+stime (+cutime+cstime with "all") of a pid, in ticks
ticks() {
	awk -v all="${2:-}" '{ sub(/^.*\) /, "");
	    t = $12 + $13; if (all != "") t += $14 + $15; print t }' \
	    "/proc/$1/stat" 2>/dev/null || echo 0
}

postfix_ticks() { # the master with reaped children, plus live children
	local sum k
	sum=$(ticks "$PF_PID" all)
	for k in $(children "$PF_PID"); do
		sum=$((sum + $(ticks "$k")))
	done
	echo "$sum"
}

server_ticks() { # ringmx|postfix: the CPU ticks of that server so far
	if [ "$1" = ringmx ]; then ticks "$RMX_PID"; else postfix_ticks; fi
}

stop_pid() { # stop the background job whose pid is in the named variable
	local pid=${!1}
	if [ -n "$pid" ]; then
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		printf -v "$1" '%s' ""
	fi
}

stop_ringmx() { stop_pid RMX_PID; }

stop_postfix() {
	if [ -n "$PF_PID" ]; then
		# the master runs in its own process group (setsid) and takes
		# its children down with it; the group kill catches stragglers
		kill -TERM "$PF_PID" 2>/dev/null || true
		wait "$PF_PID" 2>/dev/null || true
		kill -TERM -- "-$PF_PID" 2>/dev/null || true
		PF_PID=""
	fi
}

# Start $RINGMX on the config dir/ringmx.conf, logging to dir/ringmx.log,
# and wait for its greeting on port.
start_ringmx_conf() { # dir port [message]
	"$RINGMX" -c "$1/ringmx.conf" </dev/null 2>"$1/ringmx.log" &
	RMX_PID=$!
	wait_port "$2" "$RMX_PID" "${3:-}"
}

# Start a private Postfix (the Debian package) on its own loopback port,
# config, queue and data under $T/postfix, every service unchrooted; main.cf
# gets the lines given as $1 between the common settings. Sets PF, PF_PORT,
# PF_PID and waits for the greeting.
start_postfix() { # extra-main.cf-lines
	PF_PORT=$(free_port)
	PF=$T/postfix
	mkdir -p "$PF/etc" "$PF/spool" "$PF/lib"
	chown postfix "$PF/lib"
	awk -v port="$PF_PORT" '
		/^smtp[ \t]+inet/ { print "127.0.0.1:" port "  inet  n  -  n  -  -  smtpd"; next }
		/^[a-z]/ && NF >= 8 { $5 = "n" }
		{ print }' /etc/postfix/master.cf >"$PF/etc/master.cf"
	cp /etc/postfix/dynamicmaps.cf "$PF/etc/" 2>/dev/null || true
	cat >"$PF/etc/main.cf" <<-EOF
		compatibility_level = 3.6
		queue_directory = $PF/spool
		data_directory = $PF/lib
		myhostname = bench.postfix.test
		inet_interfaces = 127.0.0.1
		inet_protocols = ipv4
		mydestination = localhost
		mynetworks = 127.0.0.0/8
		local_recipient_maps =
		alias_maps =
		alias_database =
		$1
		smtpd_client_connection_count_limit = 1000
		in_flow_delay = 0
	EOF
	postfix -c "$PF/etc" check || die "postfix check failed"
	/usr/lib/postfix/sbin/master -c "$PF/etc" -d </dev/null >"$T/postfix.out" 2>&1 &
	PF_PID=$!
	wait_port "$PF_PORT" "$PF_PID"
}

# Print the results file (a line a run: cell t0 t1 ticks0 ticks1
# [client-end]) as one line a run, then the mean msgs/s and CPU ms/message
# of each cell, in the order given. With basecell, an extra column: the
# throughput against basecell's. With both a ringmx and a postfix cell, a
# ratio line. A 6th field adds when the client finished to the run's line.
results_table() { # results-file label "cell..." [basecell]
	awk -v msgs="$MSGS" -v hz="$HZ" -v label="$2" -v cells="$3" \
	    -v basecell="${4:-}" '
	{
		s = $1; wall = $3 - $2; cpu = ($5 - $4) * 1000 / hz / msgs
		n[s]++; rate[s] += msgs / wall; ms[s] += cpu
		printf "run %d  %-8s %10.0f msgs/s %8.3f CPU ms/msg", n[s], s, msgs / wall, cpu
		if (NF >= 6)
			printf "  (client done %.2fs, last delivery %.2fs)", $6 - $2, wall
		printf "\n"
	}
	END {
		print ""
		k = split(cells, order, " ")
		if (basecell == "") {
			printf "%-8s %12s %16s\n", label, "msgs/s", "CPU ms/message"
			for (i = 1; i <= k; i++)
				if (n[s = order[i]])
					printf "%-8s %12.0f %16.3f\n", s, rate[s] / n[s], ms[s] / n[s]
		} else {
			printf "%-8s %12s %16s %14s\n", label, "msgs/s", "CPU ms/message", "vs " basecell
			base = rate[basecell] / n[basecell]
			for (i = 1; i <= k; i++)
				if (n[s = order[i]])
					printf "%-8s %12.0f %16.3f %13.1f%%\n", s, rate[s] / n[s],
					    ms[s] / n[s], 100 * (rate[s] / n[s] - base) / base
		}
		if (n["postfix"] && n["ringmx"]) {
			r = (rate["ringmx"] / n["ringmx"]) / (rate["postfix"] / n["postfix"])
			c = (ms["postfix"] / n["postfix"]) / (ms["ringmx"] / n["ringmx"])
			printf "ratio    %11.2fx %15.2fx   (ringmx vs postfix: throughput, CPU efficiency)\n", r, c
		}
	}' "$1"
}
