#!/usr/bin/env bash
# Runs every test suite from the repository root: the cmocka unit binaries
# build/tests/test_* (ASan/UBSan), tests/e2e/test_*.py, then the fuzz
# targets briefly (tests/fuzz/run.sh --short). One line per
# suite, then the total as the last line: "N passed, N failed" (", N skipped"
# when any). Exit 1 when a test failed or a suite crashed or timed out (a
# non-zero exit without failed tests counts as one failure).
#
# Usage: tests/run.sh [-v] [SUBSTRING...]
#   -v          print every suite's full output
#   SUBSTRING   run only the suites whose path contains one of them
# Environment: BUILD (build), PYTHON (python3), SUITE_TIMEOUT (600 seconds),
#   CI=true (e2e skips become failures).
set -u
cd "$(dirname "$0")/.." || exit 1

BUILD=${BUILD:-build}
PYTHON=${PYTHON:-python3}
SUITE_TIMEOUT=${SUITE_TIMEOUT:-600}
LOGDIR=$BUILD/test-logs
# cmocka's default report format is what parse_cmocka reads.
export CMOCKA_MESSAGE_OUTPUT=stdout
export PYTHONDONTWRITEBYTECODE=1
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

verbose=0
filters=()
for arg in "$@"; do
	case $arg in
	-v) verbose=1 ;;
	-h | --help)
		sed -n '2,15s/^# \{0,1\}//p' "$0"
		exit 0
		;;
	*) filters+=("$arg") ;;
	esac
done

total_pass=0 total_fail=0 total_skip=0 nowire_skip=0 suites=0 bad_suites=()
mkdir -p "$LOGDIR"

selected() {
	((${#filters[@]} == 0)) && return 0
	local f
	for f in "${filters[@]}"; do
		[[ $1 == *"$f"* ]] && return 0
	done
	return 1
}

# Whether $1 is a unit test binary built from a tests/unit/ source: one
# left in the build directory by a test file since removed is not run.
unit_binary() {
	[[ -f $1 && -x $1 && -f tests/unit/$(basename "$1").c ]]
}

# Sets pass/fail/skip from a cmocka log (one report per test group).
parse_cmocka() {
	local counts
	counts=$(awk '
		/^\[  PASSED  \] [0-9]+ test\(s\)/ { p += $4 }
		/^\[  FAILED  \] [0-9]+ test\(s\)/ { f += $4 }
		/^\[  SKIPPED \] [0-9]+ test\(s\)/ { s += $4 }
		/^\[==========\] [0-9]+ test\(s\) run\./ { seen = 1 }
		END { if (seen) print p + 0, f + 0, s + 0 }' "$1")
	[[ -n $counts ]] || return 1
	read -r pass fail skip <<<"$counts"
}

# Sets pass/fail/skip from the e2e runner's last summary line.
parse_e2e() {
	local line
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' "$1" | tail -n 1)
	[[ -n $line ]] || return 1
	pass=$(sed -E 's/^([0-9]+) passed.*/\1/' <<<"$line")
	fail=$(sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$line")
	skip=0
	[[ $line == *skipped ]] && skip=$(sed -E 's/.* ([0-9]+) skipped$/\1/' <<<"$line")
	return 0
}

# Lines worth showing without -v: failures, errors and (loud) skips.
notable_lines() {
	grep -E '^(FAIL |SKIP |\[  FAILED  \] [^0-9]|\[  SKIPPED \] [^0-9]|\[  ERROR   \]|\[   LINE   \])' "$1" |
		awk '!seen[$0]++' | head -n 40 | sed 's/^/        /'
}

# run_suite KIND NAME CMD...: runs one suite, prints its line, adds its counts.
run_suite() {
	local kind=$1 name=$2
	shift 2
	local log start rc secs verdict note=""
	log=$LOGDIR/$(basename "${name// \[no wire\]/.nowire}").log
	start=$EPOCHREALTIME
	timeout -k 10 "$SUITE_TIMEOUT" "$@" >"$log" 2>&1 </dev/null
	rc=$?
	secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
	pass=0 fail=0 skip=0
	if ! "parse_$kind" "$log"; then
		fail=1
		note="no test report, exit $rc"
	elif ((rc != 0 && fail == 0)); then
		fail=1
		note="exit $rc with no failed test: counted as 1 failure"
	fi
	((rc == 124 || rc == 137)) && note="timed out after ${SUITE_TIMEOUT}s; $note"
	suites=$((suites + 1))
	total_pass=$((total_pass + pass))
	total_fail=$((total_fail + fail))
	total_skip=$((total_skip + skip))
	[[ $name == *"[no wire]" ]] && nowire_skip=$((nowire_skip + skip))
	verdict=PASS
	((skip > 0)) && verdict=SKIP
	((fail > 0)) && verdict=FAIL && bad_suites+=("$name")
	printf '  %-4s  %-46s %4d passed, %d failed' "$verdict" "$name" "$pass" "$fail"
	((skip > 0)) && printf ', %d skipped' "$skip"
	printf '  (%ss)\n' "$secs"
	[[ -n $note ]] && printf '        !! %s\n' "$note"
	if ((verbose)); then
		sed 's/^/      | /' "$log"
	elif [[ $name == *"[no wire]" ]]; then
		notable_lines "$log" | grep -v -e 'SKIP' # the skips are the point here
		[[ -n $note ]] && tail -n 30 "$log" | sed 's/^/      | /'
	else
		notable_lines "$log"
		[[ -n $note ]] && tail -n 30 "$log" | sed 's/^/      | /'
	fi
	[[ $verdict == FAIL || ($verdict == SKIP && $name != *"[no wire]") ]] &&
		printf '        full log: %s\n' "$log"
	return 0
}

echo "== layer check (tests/check_layers.sh: includes follow the data flow)"
run_suite e2e "tests/check_layers.sh" tests/check_layers.sh

echo "== unit tests ($BUILD/tests/test_*, cmocka + ASan/UBSan)"
for bin in "$BUILD"/tests/test_*; do
	unit_binary "$bin" || continue
	selected "$bin" || continue
	run_suite cmocka "$bin" "$bin"
done

# A user's clone has no ../shared: every unit suite must pass without the
# shared wire captures too (only the conformance tests skip there).
echo "== unit tests again as in a clone without ../shared (LLMOBS_WIRE_DIR=none)"
for bin in "$BUILD"/tests/test_*; do
	unit_binary "$bin" || continue
	selected "$bin" || continue
	run_suite cmocka "$bin [no wire]" env LLMOBS_WIRE_DIR=none "$bin"
done

echo "== e2e tests (tests/e2e/test_*.py, $("$PYTHON" --version 2>&1))"
for script in tests/e2e/test_*.py; do
	[[ -f $script ]] || continue
	selected "$script" || continue
	run_suite e2e "$script" "$PYTHON" "$script"
done

# Every parser's libFuzzer harness, briefly, on its seeds and on the inputs
# of the defects found once (tests/fuzz/regress/): `make fuzz` runs long.
if selected tests/fuzz/run.sh; then
	echo "== fuzz targets (tests/fuzz/run.sh --short: 6 s each, seeds + regression inputs)"
	run_suite e2e "tests/fuzz/run.sh --short" tests/fuzz/run.sh --short
fi

echo "=="
if ((suites == 0)); then
	echo "no test suites found (build first: make all unit)"
	total_fail=$((total_fail + 1))
elif ((${#bad_suites[@]})); then
	echo "failed suites: ${bad_suites[*]}"
fi
((nowire_skip > 0)) &&
	echo "($nowire_skip of the skips are the wire conformance tests in the pass without ../shared, on purpose)"
summary="$total_pass passed, $total_fail failed"
((total_skip > 0)) && summary+=", $total_skip skipped"
echo "$summary"
((total_fail == 0))
