#!/bin/sh
# run-all.sh - run ringmx's tests and print one summary.
# Usage (from the repo root): tests/run-all.sh [unit|integration|all]
#   unit         build/asan/tests/test_* (cmocka, TAP) and the fuzz corpus
#                replays build/asan/replay/fuzz_* (one test per target)
#   integration  pytest tests/integration against $RINGMX_BIN
#                (default build/asan/ringmx)
# The last line is always "N passed, N failed"; exit status 1 if any
# failed. Build first: make test-build (make test does both).
set -u

what="${1:-all}"
case "$what" in
unit | integration | all) ;;
*)
	echo "usage: $0 [unit|integration|all]" >&2
	exit 2
	;;
esac

# ASan: stop at the first error; LeakSanitizer on. The daemon under pytest
# keeps leak detection on as well: it exits normally on SIGTERM, so a leak
# at exit fails that test's teardown. Only the futex test turns it off
# (LeakSanitizer cannot run under ptrace/strace).
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export PYTHONDONTWRITEBYTECODE=1
PY=/usr/bin/python3	# Debian's python3-* packages import only here
BS=build/asan
passed=0
failed=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT
trap 'exit 130' INT TERM

pass() { passed=$((passed + $1)); }
fail() { failed=$((failed + $1)); }
section_start() { echo "== $1"; p0=$passed; f0=$failed; }
section_end() { echo "  -- $1: $((passed - p0)) passed, $((failed - f0)) failed"; }

run_unit() {
	section_start "unit tests (cmocka)"
	found=0
	for t in "$BS"/tests/test_*; do
		[ -x "$t" ] || continue
		found=1
		CMOCKA_MESSAGE_OUTPUT=TAP timeout 300 "$t" >"$out" 2>&1
		rc=$?
		ok=$(grep -c '^ok ' "$out")
		nok=$(grep -c '^not ok ' "$out")
		if [ "$rc" -ne 0 ] && [ "$nok" -eq 0 ]; then
			nok=1	# crashed or failed outside any test
		fi
		pass "$ok"
		fail "$nok"
		printf '  %-40s %4d ok %4d not ok%s\n' "$(basename "$t")" \
		    "$ok" "$nok" "$([ "$rc" -ne 0 ] && echo " (exit $rc)")"
		if [ "$nok" -ne 0 ]; then
			grep -v '^ok ' "$out" | tail -n 40 | sed 's/^/    /'
		fi
	done
	[ "$found" -eq 1 ] || echo "  (no $BS/tests/test_* binaries)"
	section_end "unit tests"

	section_start "fuzz corpus replays"
	found=0
	for f in "$BS"/replay/fuzz_*; do
		[ -x "$f" ] || continue
		found=1
		n=$(basename "$f")
		corpus="tests/fuzz/corpus/$n"
		if [ -d "$corpus" ]; then
			timeout 600 "$f" "$corpus" >"$out" 2>&1
		else
			timeout 600 "$f" >"$out" 2>&1	# no corpus yet: 0 inputs
		fi
		rc=$?
		if [ "$rc" -eq 0 ]; then
			pass 1
			printf '  %-40s ok   (%s)\n' "$n" "$(tail -n 1 "$out")"
		else
			fail 1
			printf '  %-40s FAIL (exit %d)\n' "$n" "$rc"
			tail -n 40 "$out" | sed 's/^/    /'
		fi
	done
	[ "$found" -eq 1 ] || echo "  (no $BS/replay/fuzz_* binaries)"
	section_end "fuzz corpus replays"
}

run_integration() {
	section_start "integration tests (pytest)"
	run_pytest
	section_end "integration tests"
}

run_pytest() {
	bin="${RINGMX_BIN:-$BS/ringmx}"
	if [ ! -x "$bin" ]; then
		echo "  $bin not built"
		fail 1
		return
	fi
	mkdir -p build
	rm -f build/pytest.xml
	RINGMX_BIN="$bin" timeout -k 10 780 \
	    "$PY" -m pytest -q tests/integration --junitxml=build/pytest.xml
	rc=$?
	if [ ! -s build/pytest.xml ]; then
		echo "  pytest produced no report (exit $rc)"
		fail 1
		return
	fi
	counts=$("$PY" - build/pytest.xml <<-'EOF'
		import sys, xml.etree.ElementTree as ET
		root = ET.parse(sys.argv[1]).getroot()
		suites = [root] if root.tag == "testsuite" else root.iter("testsuite")
		t = f = s = 0
		for su in suites:
		    t += int(su.get("tests", 0))
		    f += int(su.get("failures", 0)) + int(su.get("errors", 0))
		    s += int(su.get("skipped", 0))
		print(t - f - s, f, s)
		EOF
	)
	set -- $counts
	pass "$1"
	fail "$2"
	echo "  pytest: $1 passed, $2 failed, $3 skipped"
	if [ "$rc" -ne 0 ] && [ "$2" -eq 0 ]; then
		echo "  pytest exited $rc without a failed test"
		fail 1
	fi
}

case "$what" in
unit) run_unit ;;
integration) run_integration ;;
all)
	run_unit
	run_integration
	;;
esac

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
