#!/bin/sh
# Issuance benchmark: consentd against the floor server (bench/floor.c, our
# HTTP stack with one ES256 signature per request and nothing else), both
# driven by bench/loadgen.c on this machine, plus durable consent grants/s
# and one core's raw crypto rates. Run by "make bench-issue" from the root.
#
# One run, in this order (about 2 to 3 minutes):
#   1. floor --bench-crypto: ES256 sign/verify, jws_sign_es256, SHA-256.
#   2. A temporary dev data dir (consentctl init --dev); the floor server
#      and consentd start on 127.0.0.1 (free ports), THREADS workers each.
#   3. The registrar submits "bench-transfer" (consent required, no daily
#      limit), dia and ird approve it.
#   4. Consent grants: GRANTS citizen ID tokens are minted in advance
#      (loadgen mint-citizen), then POST /v1/consents, one token each,
#      closed loop, GRANT_CONN connections: each 201 is a durable commit.
#      Then consent revokes: DELETE /v1/consents/{id} by the same citizens,
#      each consent the grant run made except those of the first SUBJECTS
#      citizens (the issuance runs need them), closed loop, GRANT_CONN
#      connections: each 200 is a durable commit.
#   5. Issuance, closed loop: ROUNDS rounds of {floor, broker} x CONNS
#      connections, interleaved so that other load on the machine falls on
#      both alike; the median of the rounds is reported.
#   6. Latency against offered load, open loop: each server at FRACTIONS of
#      its own closed-loop peak (the broker's 0.5 point is "p99 at half the
#      peak rate").
#   7. Optionally (BENCH_PERF=1) perf record -g of consentd under a closed
#      loop for PERF_SECONDS, into $CB_BUILD/bench-perf.txt
#      (bench-perf-tmpfs.txt with BENCH_STORE=tmpfs).
#   8. bench/plot.py prints the table, merges $CB_BUILD/bench.json, writes
#      $CB_BUILD/bench-plot.svg, copied to docs/img/performance.svg.
#
# BENCH_STORE=tmpfs is a diagnostic, not a result: consentd's data dir goes
# on a tmpfs (BENCH_TMPFS, /dev/shm), where fdatasync returns at once and
# page writes are memory copies, so the write path costs CPU and nothing
# else. Nothing is durable there. It shows what the broker does with the
# disk taken out (docs/performance.md, "With the disk taken out"); its
# table says so, and it writes $CB_BUILD/bench-tmpfs.json,
# bench-plot-tmpfs.svg and bench-issue-tmpfs.jsonl instead, leaving
# bench.json and docs/img alone.
#
# Environment (defaults): CB_BUILD (build), BENCH_SECONDS (3) per run,
# BENCH_ROUNDS (3), BENCH_THREADS (2), BENCH_CONNS ("16 32"), BENCH_GRANTS
# (40000), BENCH_GRANT_CONN (64), BENCH_OPEN_CONN (32), BENCH_FRACTIONS
# ("0.1 0.25 0.5 0.75 1.0 1.25"), BENCH_PERF (0), BENCH_PERF_SECONDS (10),
# BENCH_STORE (disk, or tmpfs), BENCH_TMPFS (/dev/shm).
# Every server is killed on exit (trap); if this script is killed outright,
# a watchdog kills them within a second (and the floor has --lifetime).
set -eu

B=${CB_BUILD:-build}
SECS=${BENCH_SECONDS:-3}
ROUNDS=${BENCH_ROUNDS:-3}
THREADS=${BENCH_THREADS:-2}
CONNS=${BENCH_CONNS:-16 32}
GRANTS=${BENCH_GRANTS:-40000}
GRANT_CONN=${BENCH_GRANT_CONN:-64}
OPEN_CONN=${BENCH_OPEN_CONN:-32}
FRACTIONS=${BENCH_FRACTIONS:-0.1 0.25 0.5 0.75 1.0 1.25}
PERF=${BENCH_PERF:-0}
PERF_SECONDS=${BENCH_PERF_SECONDS:-10}
STORE=${BENCH_STORE:-disk}
WARMUP=1
SUBJECTS=1000            # token requests cycle through this many subjects
ISSUER=https://127.0.0.1:8443
# shellcheck disable=SC2034  # used by lib.sh's url_of
START_TIMEOUT=15         # seconds for a server to say it listens

for t in consentd consentctl bench/floor bench/loadgen; do
	[ -x "$B/$t" ] || { echo "bench_issue: $B/$t missing (make bench-issue)" >&2; exit 1; }
done
for t in curl jq python3; do
	command -v $t >/dev/null 2>&1 || { echo "bench_issue: needs $t (scripts/deps.sh)" >&2; exit 1; }
done

case $STORE in
disk)
	root=${TMPDIR:-/tmp}
	SUFFIX= ;;
tmpfs)
	root=${BENCH_TMPFS:-/dev/shm}
	fs=$(stat -f -c %T "$root" 2>/dev/null || true)
	if [ "$fs" != tmpfs ]; then
		echo "bench_issue: BENCH_STORE=tmpfs needs BENCH_TMPFS ($root) on a tmpfs; it is ${fs:-missing}" >&2
		exit 1
	fi
	SUFFIX=-tmpfs ;;
*)
	echo "bench_issue: BENCH_STORE is disk or tmpfs, not '$STORE'" >&2
	exit 1 ;;
esac
tmp=$(mktemp -d "$root/cb-bench.XXXXXX")
floor_pid=
broker_pid=
watchdog_pid=
cleanup() {
	[ -z "$watchdog_pid" ] || kill "$watchdog_pid" 2>/dev/null || true
	for p in $floor_pid $broker_pid; do
		kill "$p" 2>/dev/null || true
	done
	for p in $floor_pid $broker_pid; do
		stop "$p"
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '%s\n' "bench_issue: $*" >&2; }

# the set-up (bench_init, watchdog, start_consentd, stop, url_of,
# bench_agreement, mint_citizens, token_bodies) and the runs' records
# (lg_run, lg_record, results_jq)
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

D=$tmp/data
RES=$tmp/results.jsonl
: >"$RES"

# ---- 1. one core's crypto ---------------------------------------------------
say "crypto rates on one core"
"$B/bench/floor" --bench-crypto 1 >"$tmp/crypto.json"

# ---- 2. data dir and servers ------------------------------------------------
say "data dir in $tmp"
bench_init "$D"
SIGN_KEY=$(ls "$D"/keys/signing/*.key | head -1)

# If this script is killed outright, the servers go within a second.
watchdog
"$B/bench/floor" --cert "$PKI/broker.crt" --key "$PKI/broker.key" \
    --ca "$PKI/ca.crt" --listen 127.0.0.1:0 --threads "$THREADS" \
    --sign-key "$SIGN_KEY" --lifetime 900 2>"$tmp/floor.log" &
floor_pid=$!
echo "$floor_pid" >>"$tmp/pids"
start_consentd "$D" "$tmp/consentd.log"
broker_pid=$consentd_pid
FLOOR=$(url_of "$tmp/floor.log")
BROKER=$(url_of "$tmp/consentd.log")
say "floor $FLOOR (pid $floor_pid), consentd $BROKER (pid $broker_pid), $THREADS threads each"

# ---- 3. the bench agreement -------------------------------------------------
HASH=$(bench_agreement "$BROKER" "$PKI" "$tmp")
say "agreement bench-transfer $HASH active"

# served SERVER: replies per worker thread so far, as a JSON array: the
# floor's /floor-stats, or consentd's request log ("thread" of each line).
served() {
	if [ "$1" = floor ]; then
		$CURL --cert "$PKI/ird.crt" --key "$PKI/ird.key" \
		    "$FLOOR/floor-stats" | jq -c .served
	else
		i=0 sep= a=
		while [ $i -lt "$THREADS" ]; do
			a="$a$sep$(grep -ac "\"thread\":$i[,}]" "$tmp/consentd.log" || true)"
			sep=,
			i=$((i + 1))
		done
		echo "[$a]"
	fi
}

# run_lg SERVER KIND EXTRA-JSON LOADGEN-ARGS...: one loadgen run, its JSON
# line with the server's CPU use and the machine's CPU pressure added.
run_lg() {
	srv=$1 kind=$2 extra=$3
	shift 3
	if [ "$srv" = floor ]; then pid=$floor_pid; else pid=$broker_pid; fi
	s0=$(served "$srv")
	lg_run "$pid" "{\"label\":\"$srv-$kind\",\"requests\":0,\"rps\":0,\"errors\":1,\"connections\":0,\"offered_rps\":0,\"seconds\":0,\"cpu_s\":0,\"latency_ms\":{\"p50\":0,\"p99\":0,\"p999\":0}}" \
	    --label "$srv-$kind" "$@" ||
	    say "loadgen: no successful request: $srv $kind $*"
	s1=$(served "$srv")
	# shellcheck disable=SC2016  # jq's variables
	lg_record '"  \(.label) c=\(.connections) offered=\(.offered_rps): \(.rps)/s p50=\(.latency_ms.p50) p99=\(.latency_ms.p99) ms errors=\(.errors) server_cores=\(.server_cores) per-worker=\(.worker_replies)"' \
	    '{server: $s, kind: $k}' \
	    '{worker_replies: [range($s1 | length) | $s1[.] - $s0[.]]} + $x' \
	    --arg s "$srv" --arg k "$kind" --argjson x "$extra" \
	    --argjson s0 "$s0" --argjson s1 "$s1"
}

# ---- 4. consent grants ------------------------------------------------------
say "minting $GRANTS citizen ID tokens"
mint_citizens "$D" s- "$GRANTS" >"$tmp/citizens"
say "consent grants: POST /v1/consents, $GRANT_CONN connections"
run_lg broker grant '{}' --url "$BROKER/v1/consents" \
    --connections "$GRANT_CONN" --seconds "$((SECS + 1))" --warmup 0.5 \
    --body-file "$tmp/grant.body" --content-type application/json \
    --bearer-file "$tmp/citizens" --replies "$tmp/grant.replies"

# Revokes: the grant run's replies give each consent's id beside the number
# of the request that made it, which is the line of its citizen's ID token.
jq -R -r 'split("\t") | [.[0], (.[1] | fromjson | .id)] | @tsv' \
    "$tmp/grant.replies" |
    awk -F '\t' -v s="$SUBJECTS" -v u="$BROKER/v1/consents/" \
	-v urls="$tmp/revoke.urls" -v bearers="$tmp/revoke.bearers" '
	NR == FNR { tok[NR - 1] = $0; next }
	$1 >= s { print u $2 > urls; print tok[$1] > bearers; n++ }
	END { if (n == 0) exit 1 }' "$tmp/citizens" - ||
    { say "no consents to revoke (the grant run made too few)"; exit 1; }
say "consent revokes: DELETE /v1/consents/{id}, $GRANT_CONN connections, $(wc -l <"$tmp/revoke.urls") consents"
run_lg broker revoke '{}' --url-file "$tmp/revoke.urls" --method DELETE \
    --connections "$GRANT_CONN" --seconds "$SECS" --warmup 0.5 \
    --bearer-file "$tmp/revoke.bearers"

# ---- 5. issuance, closed loop -----------------------------------------------
# Token requests for subjects s-0 .. s-(SUBJECTS-1), whose consents the
# grant run made first (the warm-up uses tokens too, all in order).
token_bodies s- "$SUBJECTS" >"$tmp/token.bodies"
TOKEN_ARGS="--body-file $tmp/token.bodies --body-lines --content-type application/x-www-form-urlencoded"
say "issuance, closed loop: $ROUNDS rounds x {floor, broker} x {$CONNS} connections, ${SECS}s each"
r=1
while [ $r -le "$ROUNDS" ]; do
	for c in $CONNS; do
		for srv in floor broker; do
			if [ $srv = floor ]; then u=$FLOOR; else u=$BROKER; fi
			# shellcheck disable=SC2086
			run_lg $srv closed "{\"round\": $r}" --url "$u/oauth2/token" \
			    --connections "$c" --seconds "$SECS" --warmup "$WARMUP" \
			    $TOKEN_ARGS
		done
	done
	r=$((r + 1))
done

# peak SERVER: the best of the per-connection-count medians.
peak() {
	# shellcheck disable=SC2016  # jq's variables
	results_jq '[.[] | select(.server == $s and .kind == "closed")]
	    | group_by(.connections) | map([.[].rps] | med) | max // 0' \
	    --arg s "$1"
}
PEAK_FLOOR=$(peak floor)
PEAK_BROKER=$(peak broker)
say "peaks: floor $PEAK_FLOOR/s, broker $PEAK_BROKER/s"

# ---- 6. latency against offered load, open loop ------------------------------
say "open loop at {$FRACTIONS} x each server's peak, up to $OPEN_CONN connections"
for f in $FRACTIONS; do
	for srv in floor broker; do
		if [ $srv = floor ]; then u=$FLOOR p=$PEAK_FLOOR; else u=$BROKER p=$PEAK_BROKER; fi
		rate=$(echo "$p $f" | awk '{r = $1 * $2; printf "%.0f", r < 1 ? 1 : r}')
		# shellcheck disable=SC2086
		run_lg $srv open "{\"fraction\": $f}" --url "$u/oauth2/token" \
		    --connections "$OPEN_CONN" --rate "$rate" --seconds "$SECS" \
		    --warmup "$WARMUP" $TOKEN_ARGS
	done
done

# ---- 7. optional profile ----------------------------------------------------
if [ "$PERF" = 1 ]; then
	if command -v perf >/dev/null 2>&1; then
		say "perf record -g of consentd for ${PERF_SECONDS}s (32 connections)"
		# cpu-clock: this VM has no hardware counters ("perf stat -e
		# instructions" says <not supported>); DWARF stacks, as the
		# binaries have no frame pointers.
		perf record -e cpu-clock -F 299 --call-graph dwarf,16384 \
		    -p "$broker_pid" -o "$tmp/perf.data" -- sleep "$PERF_SECONDS" \
		    >/dev/null 2>"$tmp/perf.err" &
		perf_pid=$!
		# shellcheck disable=SC2086
		run_lg broker perf '{}' --url "$BROKER/oauth2/token" \
		    --connections 32 --seconds "$PERF_SECONDS" --warmup 0.5 \
		    $TOKEN_ARGS
		wait "$perf_pid" || true
		{
			echo "# consentd under POST /oauth2/token, 32 connections, ${PERF_SECONDS}s"
			echo "# per thread (the writer is the one in writer_main):"
			perf report -i "$tmp/perf.data" --no-children --sort pid \
			    --stdio -g none 2>/dev/null | grep -E '^ +[0-9]'
			echo "# inclusive (children), by function:"
			perf report -i "$tmp/perf.data" --children --sort sym \
			    --stdio -g none --percent-limit 2 2>/dev/null |
			    grep -E '^ +[0-9]' | grep -v ' 0x0000'
			echo "# self, by library and function:"
			perf report -i "$tmp/perf.data" --no-children --sort dso,sym \
			    --stdio -g none --percent-limit 0.7 2>/dev/null |
			    grep -E '^ +[0-9]'
		} >"$B/bench-perf$SUFFIX.txt"
		say "profile in $B/bench-perf$SUFFIX.txt"
	else
		say "perf not found; skipping the profile"
	fi
fi

# ---- 8. report ----------------------------------------------------------------
kill "$floor_pid" "$broker_pid" 2>/dev/null || true
wait "$floor_pid" "$broker_pid" 2>/dev/null || true
floor_pid= broker_pid=
if [ "$STORE" = disk ]; then
	python3 bench/plot.py --results "$RES" --crypto "$tmp/crypto.json" \
	    --json "$B/bench.json" --svg "$B/bench-plot.svg" \
	    --threads "$THREADS" --save-results "$B/bench-issue.jsonl"
	mkdir -p docs/img
	cp "$B/bench-plot.svg" docs/img/performance.svg
	say "plot: $B/bench-plot.svg (and docs/img/performance.svg); raw runs: $B/bench-issue.jsonl"
else
	python3 bench/plot.py --results "$RES" --crypto "$tmp/crypto.json" \
	    --json "$B/bench-tmpfs.json" --svg "$B/bench-plot-tmpfs.svg" \
	    --threads "$THREADS" --save-results "$B/bench-issue-tmpfs.jsonl" \
	    --store tmpfs
	say "store on tmpfs (a diagnostic, not durable): $B/bench-tmpfs.json, plot $B/bench-plot-tmpfs.svg; raw runs: $B/bench-issue-tmpfs.jsonl"
fi
