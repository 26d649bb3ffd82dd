#!/usr/bin/env bash
# make bench: performance figures, one "name=value" line each.
#
# Probe cost (issues: cheaper probes, benchmarks): a TLS client reads a fast
# SSE stream with one SSL_read_ex per record (tests/bench/tls_reader.c) and
# reports its CPU time per SSL call, with
#   none     no probes
#   symbol   bare counting uprobe+uretprobe on SSL_read/_ex, SSL_write/_ex
#   auto     the same counting probes where llmobsd places them
#   llmobsd  the daemon itself (default placement)
# Rounds interleave the conditions so drift hits them alike; each figure is
# the median over the rounds. Floors and overheads are costs above "none":
#   probe_floor_ratio    = (auto - none) / (symbol - none)     goal <= 0.5
#   probe_overhead_ratio = (llmobsd - none) / (auto - none)    goal <= 1.10
# The same for the stacks without symbols (stack_part below): a stripped Go
# reader and Bun, go_/bun_probe_overhead_ratio                 goal <= 1.10
#
# Replay (the user-space pipeline alone, one core): a synthetic recording
# (tests/bench/make_recording.py: 100 connections x 20 calls x 500 SSE
# events) through `llmobsd --replay`, median of REPLAY_ROUNDS:
#   replay_events_per_sec (default guardrail policy)           goal >= 1,000,000
#   h2_replay_events_per_sec: the same calls over HTTP/2 (tests/bench/
#   make_recording.py --proto h2), and h2_vs_http1_replay_ratio  goal >= 0.8
#   http1_idle_conn_kib, h2_idle_conn_kib: memory per idle connection
#   (IDLE_CONNS of them, HPACK tables included), from the daemon's RSS
# History store (store_part below; sinks/store_sqlite.c): tests/bench/
# store_bench.c drives the backend as the daemon's writer thread does
# (batches of 512 calls and their windows, one transaction each) with
# synthetic calls: ~1.5 KB of call JSON, ~1 KB of prompt and ~400 B of
# completion text, 4 models, 3 comms, starts 5 ms apart. Text words come
# from a made-up 20,000-word vocabulary drawn Zipf (s = 1, as prose) and,
# one word in 75, from 50,000 made-up names drawn uniformly (rare words).
#   store_calls_per_sec   STORE_CALLS into a new file, per second of the
#                         writer's work (window batch + put)  goal >= 20,000
#   store_bytes_per_call  the file after a WAL checkpoint, per call
#   store_fill_calls_per_sec  the same on, up to SEARCH_CALLS
#   store_file_mib        the file at SEARCH_CALLS
#   search_p50_ms, search_p95_ms  200 one-word searches (q=, limit 50, as
#                         GET /api/v1/calls?q=) over SEARCH_CALLS calls,
#                         query mix: 80% rare words (names, each in 10..100
#                         calls), 20% mid-frequency (vocabulary words each in
#                         0.7..1.4% of calls); search_rare_p95_ms and
#                         search_mid_p95_ms apart            goal p95 < 50
#   replay_events_per_sec_store_off, _store_on: the replay part's recording
#                         replayed (--keep 2000) with --store off and with a
#                         new file, interleaved, medians of REPLAY_ROUNDS, per
#                         CPU second of the pipeline's thread (the daemon's
#                         log; the capture thread in a live daemon), and
#   replay_store_on_vs_off_ratio                               goal >= 0.9
#   replay_store_process_cpu_ratio  the same runs' whole-process CPU (start,
#                         replay, and the writer's last commit at exit), on / off
#   replay_store_calls    the fewest calls a file held after a run (all 2000;
#                         the part fails on a store warning in the log)
# Load, memory and accuracy with the real daemon: tests/bench/load.py
# (load_*, rss_per_stream_kib, idle_rss_mib, ttft_abs_err_ms_p99).
#
# Environment: BUILD (build), ROUNDS (5), RECORDS (20000), LIBSSL (the
# libssl tls_reader loads), REPLAY_ROUNDS (5), LOAD_STREAMS (1000),
# LOAD_RATE (20), LOAD_SECONDS (60), TTFT_STREAMS (200), IDLE_CONNS (2000), STACK_RECORDS
# (3000), BUN (the npm-installed bun), STORE_CALLS (200000), SEARCH_CALLS
# (1000000), ONLY (probe, stack, replay, store or load: one part).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
ROUNDS=${ROUNDS:-5}
RECORDS=${RECORDS:-20000}
LIBSSL=${LIBSSL:-$(ldd "$BUILD/bench/tls_reader" | awk '/libssl\.so/ {print $3; exit}')}
LIBSSL=$(readlink -f "$LIBSSL")
tmp=$(mktemp -d /tmp/llmobs-bench.XXXXXX)
bg=""
bg_srv=""
cleanup() {
	[ -n "$bg" ] && kill "$bg" 2>/dev/null && wait "$bg" 2>/dev/null
	[ -n "$bg_srv" ] && kill "$bg_srv" 2>/dev/null && wait "$bg_srv" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || { echo "bench: needs root (BPF)" >&2; exit 1; }
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
	-subj /CN=localhost -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>/dev/null

reader() {
	"$BUILD/bench/tls_reader" "$tmp/cert.pem" "$tmp/key.pem" "$RECORDS" |
		sed -n 's/.*cpu_us_per_call=//p'
}

with_counter() { # placement
	"$BUILD/bench/count_probes" "$1" "$LIBSSL" >"$tmp/count.out" 2>"$tmp/count.err" &
	bg=$!
	for _ in $(seq 100); do grep -q ready "$tmp/count.out" 2>/dev/null && break; sleep 0.05; done
	grep -q ready "$tmp/count.out" || { cat "$tmp/count.err" >&2; exit 1; }
	reader
	kill "$bg"; wait "$bg" 2>/dev/null || true; bg=""
}

with_daemon() {
	local port=$((20000 + RANDOM % 20000))
	"$BUILD/llmobsd" --listen "127.0.0.1:$port" --libssl "$LIBSSL" 2>"$tmp/daemon.log" &
	bg=$!
	for _ in $(seq 200); do
		curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
		sleep 0.05
	done
	reader
	kill "$bg"; wait "$bg" 2>/dev/null || true; bg=""
}

median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

probe_part() {
: >"$tmp/none"; : >"$tmp/symbol"; : >"$tmp/auto"; : >"$tmp/llmobsd"
for _ in $(seq "$ROUNDS"); do
	reader >>"$tmp/none"
	with_counter symbol >>"$tmp/symbol"
	with_counter auto >>"$tmp/auto"
	with_daemon >>"$tmp/llmobsd"
done
none=$(median <"$tmp/none")
symbol=$(median <"$tmp/symbol")
auto=$(median <"$tmp/auto")
daemon=$(median <"$tmp/llmobsd")
awk -v n="$none" -v s="$symbol" -v a="$auto" -v d="$daemon" -v lib="$LIBSSL" \
	-v r="$ROUNDS" -v k="$RECORDS" 'BEGIN {
	printf "probe_bench_libssl=%s\nprobe_bench_rounds=%d\nprobe_bench_records=%d\n", lib, r, k
	printf "probe_cost_none_us=%.3f\n", n
	printf "probe_cost_symbol_us=%.3f\nprobe_cost_auto_us=%.3f\nprobe_cost_llmobsd_us=%.3f\n", s, a, d
	printf "probe_floor_symbol_us=%.3f\nprobe_floor_auto_us=%.3f\n", s - n, a - n
	printf "probe_floor_ratio=%.3f\n", (a - n) / (s - n)
	printf "probe_overhead_us=%.3f\n", d - n
	printf "probe_overhead_ratio=%.3f\n", (d - n) / (a - n)
}'
}

# TLS stacks without symbols (issue: the TLS stacks real clients use): a Go
# crypto/tls reader and Bun (BoringSSL built in) read records a paced TLS
# server sends one at a time, three ways, interleaved:
#   none      no probes
#   count     bare counting probes where llmobsd probes that file (entry,
#             and return: uretprobe, or Go's RET sites)
#   llmobsd   the daemon, which finds the file itself
# cpu per record (user + system of the reader) gives
#   STACK_probe_overhead_ratio = (llmobsd - none) / (count - none)
STACK_RECORDS=${STACK_RECORDS:-3000}
BUN=${BUN:-tests/e2e/node/node_modules/bun/bin/bun.exe}

paced_server() {
	python3 tests/bench/paced_server.py "$tmp/cert.pem" "$tmp/key.pem" "$STACK_RECORDS" 300 \
		>"$tmp/paced.port" 2>"$tmp/paced.err" &
	bg_srv=$!
	for _ in $(seq 100); do grep -q PORT "$tmp/paced.port" 2>/dev/null && break; sleep 0.05; done
	port=$(awk '/^PORT/ {print $2}' "$tmp/paced.port")
}

stack_reader() { # go|bun
	if [ "$1" = go ]; then
		"$BUILD/bench/go_reader" "$port" "$STACK_RECORDS"
	else
		"$BUN" tests/bench/bun_reader.mjs "$port" "$STACK_RECORDS"
	fi | sed -n 's/.*cpu_us_per_record=//p'
}

stack_with_counter() { # go|bun file
	"$BUILD/bench/count_probes" stack "$2" >"$tmp/count.out" 2>"$tmp/count.err" &
	bg=$!
	for _ in $(seq 400); do grep -q ready "$tmp/count.out" 2>/dev/null && break; sleep 0.05; done
	grep -q ready "$tmp/count.out" || { cat "$tmp/count.err" >&2; exit 1; }
	stack_reader "$1"
	kill "$bg"; wait "$bg" 2>/dev/null || true; bg=""
	# probe hits per record read, to read the per-record figures by
	sed -n 's/^entries=\([0-9]*\) returns=\([0-9]*\)/\1 \2/p' "$tmp/count.out" >"$tmp/hits"
}

stack_with_daemon() { # go|bun
	local dport=$((20000 + RANDOM % 20000))
	"$BUILD/llmobsd" --listen "127.0.0.1:$dport" 2>"$tmp/daemon.log" &
	bg=$!
	for _ in $(seq 200); do
		curl -sf "http://127.0.0.1:$dport/healthz" >/dev/null 2>&1 && break
		sleep 0.05
	done
	stack_reader "$1"
	kill "$bg"; wait "$bg" 2>/dev/null || true; bg=""
}

stack_part() {
	local name file none count daemon
	paced_server
	for name in go bun; do
		file=$BUILD/bench/go_reader
		[ "$name" = bun ] && file=$(readlink -f "$BUN")
		if [ ! -x "$file" ]; then
			echo "${name}_probe_bench=skipped ($file missing: make deps)"
			continue
		fi
		: >"$tmp/s_none"; : >"$tmp/s_count"; : >"$tmp/s_daemon"
		for _ in $(seq "$ROUNDS"); do
			stack_reader "$name" >>"$tmp/s_none"
			stack_with_counter "$name" "$file" >>"$tmp/s_count"
			stack_with_daemon "$name" >>"$tmp/s_daemon"
		done
		none=$(median <"$tmp/s_none")
		count=$(median <"$tmp/s_count")
		daemon=$(median <"$tmp/s_daemon")
		read -r entries returns <"$tmp/hits"
		awk -v p="$name" -v e="$entries" -v r="$returns" -v k="$STACK_RECORDS" 'BEGIN {
			printf "%s_probe_hits_per_record=%.2f entries + %.2f returns\n", p, e / k, r / k
		}'
		awk -v p="$name" -v n="$none" -v c="$count" -v d="$daemon" 'BEGIN {
			printf "%s_probe_cost_none_us=%.3f\n", p, n
			printf "%s_probe_cost_count_us=%.3f\n%s_probe_cost_llmobsd_us=%.3f\n", p, c, p, d
			printf "%s_probe_floor_us=%.3f\n%s_probe_overhead_us=%.3f\n", p, c - n, p, d - n
			printf "%s_probe_overhead_ratio=%.3f\n", p, (d - n) / (c - n)
		}'
	done
	kill "$bg_srv" 2>/dev/null; wait "$bg_srv" 2>/dev/null || true
}

replay_part() {
	local events secs
	events=$(python3 tests/bench/make_recording.py "$tmp/http1.rec.gz" --conns 100 --calls 20 \
		--events 500 | sed -n 's/^sse_events=//p')
	python3 tests/bench/make_recording.py "$tmp/h2.rec.gz" --proto h2 --conns 100 --calls 20 \
		--events 500 >/dev/null
	: >"$tmp/replay_http1"
	: >"$tmp/replay_off"
	: >"$tmp/replay_h2"
	for _ in $(seq "${REPLAY_ROUNDS:-5}"); do
		# per CPU second of the one thread that replays (steal time on a VM
		# is not the pipeline's); with the default guardrail policy, without
		# any for comparison, and the same calls over HTTP/2, interleaved
		for run in http1:default http1:off h2:default; do
			secs=$(taskset -c 1 "$BUILD/llmobsd" --policy "${run#*:}" \
				--replay "$tmp/${run%%:*}.rec.gz" --keep 2000 2>&1 |
				sed -n 's/.*replayed [0-9]* records in [0-9.]* s, \([0-9.]*\) s of CPU.*/\1/p')
			out="$tmp/replay_${run%%:*}"
			[ "$run" = http1:off ] && out="$tmp/replay_off"
			awk -v e="$events" -v s="$secs" 'BEGIN {printf "%.0f\n", e / s}' >>"$out"
		done
	done
	local http1 h2
	http1=$(median <"$tmp/replay_http1")
	h2=$(median <"$tmp/replay_h2")
	echo "replay_sse_events=$events"
	echo "replay_events_per_sec=$http1"
	echo "replay_events_per_sec_no_guardrails=$(median <"$tmp/replay_off")"
	echo "h2_replay_events_per_sec=$h2"
	awk -v a="$h2" -v b="$http1" 'BEGIN {printf "h2_vs_http1_replay_ratio=%.3f\n", a / b}'
	idle_part
}

# Memory an idle connection holds (buffers, parser state; for HTTP/2 both
# HPACK decoders with the dynamic tables a real SDK's headers fill): the
# daemon's RSS after replaying IDLE connections that each made one request
# that is no LLM call, less its RSS after replaying none.
rss_after_replay() { # proto count
	local port pid kib
	python3 tests/bench/make_recording.py "$tmp/idle.rec.gz" --proto "$1" --idle "$2" >/dev/null
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	"$BUILD/llmobsd" --replay "$tmp/idle.rec.gz" --serve --listen "127.0.0.1:$port" \
		>/dev/null 2>&1 &
	pid=$!
	for _ in $(seq 100); do curl -sf "127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.05; done
	kib=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	echo "$kib"
}

idle_part() {
	local n=${IDLE_CONNS:-2000} base http1 h2
	base=$(rss_after_replay http1 0)
	http1=$(rss_after_replay http1 "$n")
	h2=$(rss_after_replay h2 "$n")
	echo "idle_conns=$n"
	awk -v a="$http1" -v b="$base" -v n="$n" 'BEGIN {printf "http1_idle_conn_kib=%.2f\n", (a - b) / n}'
	awk -v a="$h2" -v b="$base" -v n="$n" 'BEGIN {printf "h2_idle_conn_kib=%.2f\n", (a - b) / n}'
}

# The history store: store_bench's figures, then replay with the store on
# and off (see the header).
store_part() {
	local events secs mode db=$tmp/replay.db calls min_calls=""
	"$BUILD/bench/store_bench" "$tmp"
	rm -f "$tmp"/store.db*
	events=$(python3 tests/bench/make_recording.py "$tmp/store.rec.gz" --conns 100 --calls 20 \
		--events 500 | sed -n 's/^sse_events=//p')
	: >"$tmp/replay_store_off"
	: >"$tmp/replay_store_on"
	: >"$tmp/process_store_off"
	: >"$tmp/process_store_on"
	for _ in $(seq "${REPLAY_ROUNDS:-5}"); do
		for mode in off on; do
			rm -f "$db" "$db-wal" "$db-shm"
			# a subshell whose one child is the daemon: `times` gives its CPU
			(
				taskset -c 1 "$BUILD/llmobsd" \
					--store "$([ $mode = on ] && echo "$db" || echo off)" \
					--replay "$tmp/store.rec.gz" --keep 2000 >"$tmp/store_replay.log" 2>&1 || exit 1
				times >"$tmp/store_replay.times"
			) || { cat "$tmp/store_replay.log" >&2; exit 1; }
			# "XmY.YYYs XmY.YYYs", user and system, on the children's line
			awk -F'[ ms]+' 'NR == 2 {printf "%.3f\n", $1 * 60 + $2 + $3 * 60 + $4}' \
				"$tmp/store_replay.times" >>"$tmp/process_store_$mode"
			secs=$(sed -n 's/.*replayed [0-9]* records in [0-9.]* s, \([0-9.]*\) s of CPU.*/\1/p' \
				"$tmp/store_replay.log")
			awk -v e="$events" -v s="$secs" 'BEGIN {printf "%.0f\n", e / s}' \
				>>"$tmp/replay_store_$mode"
			[ "$mode" = on ] || continue
			if grep -E '(warning|error): store:' "$tmp/store_replay.log" >&2; then
				echo "bench: the store warned while replaying" >&2
				exit 1
			fi
			calls=$(python3 -c 'import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM calls").fetchone()[0])' "$db")
			if [ -z "$min_calls" ] || [ "$calls" -lt "$min_calls" ]; then
				min_calls=$calls
			fi
		done
	done
	rm -f "$db" "$db-wal" "$db-shm"
	local off on
	off=$(median <"$tmp/replay_store_off")
	on=$(median <"$tmp/replay_store_on")
	echo "replay_events_per_sec_store_off=$off"
	echo "replay_events_per_sec_store_on=$on"
	awk -v a="$on" -v b="$off" 'BEGIN {printf "replay_store_on_vs_off_ratio=%.3f\n", a / b}'
	awk -v a="$(median <"$tmp/process_store_on")" -v b="$(median <"$tmp/process_store_off")" \
		'BEGIN {printf "replay_store_process_cpu_ratio=%.3f\n", a / b}'
	echo "replay_store_calls=$min_calls"
}

case "${ONLY:-all}" in
probe) probe_part ;;
stack) stack_part ;;
replay) replay_part ;;
store) store_part ;;
load) python3 tests/bench/load.py ;;
*)
	probe_part
	stack_part
	replay_part
	store_part
	python3 tests/bench/load.py
	;;
esac
