#!/bin/sh
# Load soak: consentd under a steady mixed load at half its measured peak
# for SOAK_SECONDS, watching for memory and descriptor leaks and errors.
# Run by "make soak" from the root (not in CI: 10 minutes by default).
#
#   1. A temporary dev data dir (consentctl init --dev), consentd on
#      127.0.0.1 (free port, THREADS workers), the "bench-transfer"
#      agreement approved by dia and ird, and consents for SUBJECTS
#      citizens s-0 .. s-(SUBJECTS-1): the same set-up as bench_issue.sh
#      (bench/lib.sh), except that the agreement's tokens live TOKEN_TTL
#      seconds (60), so that the store reaches its steady state early
#      (below).
#   2. Peak: POST /oauth2/token, closed loop, PEAK_CONN connections for
#      PEAK_SECONDS (10 s).
#   3. Soak, open loop at a fixed total rate R = peak / 2, for SOAK_SECONDS:
#        - token requests (ird) for s-*, at R * (1 - GRANT_SHARE);
#        - consent grants (fresh citizens g-*, one ID token each), at
#          R * GRANT_SHARE;
#        - consent grant + revoke pairs (citizens r-*, curl: POST
#          /v1/consents then DELETE /v1/consents/{id}), one pair every
#          REVOKE_INTERVAL seconds.
#      loadgen runs in chunks of at most CHUNK seconds (it stops at 600 s),
#      reconnecting between chunks; the first chunk ends 20 s before the
#      warm-up does, so that one reconnect is in the warm-up and the
#      rest in the measured window.
#   4. Every SAMPLE_S (10) seconds: consentd's VmRSS, RssAnon and RssFile
#      (/proc/PID/status) and its open descriptors (/proc/PID/fd).
#   5. Verdict after the warm-up (the first 60 s, or 10 % of the run, or
#      TOKEN_TTL + 90 s, whichever is longest; half of a run shorter than
#      that): the baseline is the median of the samples in the first
#      60 s after the warm-up (one sample alone may land just after one of
#      consentd's periodic heap trims); the max is over every sample. The
#      store is in its steady state only once the first tokens have
#      expired and are pruned as new ones are issued (60 s after their
#      expiry): from then on every write also deletes, and the writer's
#      working memory steps up once, by about 1 MB;
#        - max RSS growth over the baseline <= RSS_LIMIT_PCT (10 %), on
#          RssAnon by default (SOAK_RSS_METRIC=anon): the process's own
#          memory, where a leak shows. VmRSS adds RssFile, which here is
#          mostly LMDB pages mapped read-only (no MDB_WRITEMAP) as the store is read, growing
#          with the store by design (every token and grant is a record);
#          SOAK_RSS_METRIC=vm gates on VmRSS instead. All three, and the
#          size of data.mdb, are reported;
#        - descriptors: with no load, 2 s after it stopped, at most
#          FD_NOISE (8) more than with no load before it started (the
#          leak test: every client connection is gone by then); under
#          load, the max after the warm-up at most 2 x SOAK_CONN (the
#          loadgens' connections) + FD_NOISE over the baseline;
#        - reported, not gated: RssAnon's median over the last 60 s of
#          the run, against the baseline (where the run settled; a
#          one-sample transient can set the max);
#        - errors (non-2xx replies, failed or abandoned transfers, failed
#          grant/revoke pairs) == 0. Requests loadgen could not send on
#          time ("unsent": all its connections busy, i.e. consentd fell
#          behind) and the worst p99 are reported, not gated.
#      a table on stdout, $CB_BUILD/soak.json; exit 1 if one fails.
#   6. consentd's request log, second by second (replies, 5xx, the slowest
#      reply, replies over 100 ms), in $CB_BUILD/soak-timeline.tsv, so that
#      a stall can be placed; a failed run also keeps the whole log, in
#      $CB_BUILD/soak-consentd.log.gz.
#
# Environment (defaults): CB_BUILD (build), SOAK_SECONDS (600), SOAK_THREADS
# (2), SOAK_PEAK_SECONDS (10), SOAK_PEAK_CONN (32), SOAK_CONN (32, open-loop
# connections per loadgen), SOAK_GRANT_SHARE (0.1), SOAK_REVOKE_INTERVAL
# (0.5), SOAK_RSS_LIMIT_PCT (10), SOAK_RSS_METRIC (anon, or vm),
# SOAK_FD_NOISE (8), SOAK_MAP_MB (1024 + 8 per second of soak),
# SOAK_TOKEN_TTL (60, from 10 to 600), SOAK_WRAP (none). The data directory
# is in $TMPDIR and needs about 3 MB per second of soak.
#
# SOAK_WRAP is a command (split on blanks) that consentd is started under,
# to profile it under the same load, e.g.
#   SOAK_WRAP="heaptrack -o /tmp/consentd"       (heap profile over time)
#   SOAK_WRAP="valgrind --tool=massif --massif-out-file=/tmp/massif.out"
#   SOAK_WRAP="env MALLOC_ARENA_MAX=2"           (allocator settings)
# The figures are then those of the consentd process found under the
# wrapper (the wrapper itself or its deepest descendant running consentd);
# the peak is measured under the wrapper too, so the soak rate follows it.
# consentd gets SIGTERM at the end (a clean exit, so profilers write their
# output); the script waits up to 60 s for the wrapper to finish.
#
# Every process is killed on exit (trap); a watchdog kills consentd within a
# second if this script is killed outright.
set -eu

B=${CB_BUILD:-build}
SOAK=${SOAK_SECONDS:-600}
THREADS=${SOAK_THREADS:-2}
PEAK_SECONDS=${SOAK_PEAK_SECONDS:-10}
PEAK_CONN=${SOAK_PEAK_CONN:-32}
CONN=${SOAK_CONN:-32}
GRANT_SHARE=${SOAK_GRANT_SHARE:-0.1}
REVOKE_INTERVAL=${SOAK_REVOKE_INTERVAL:-0.5}
RSS_LIMIT_PCT=${SOAK_RSS_LIMIT_PCT:-10}
FD_NOISE=${SOAK_FD_NOISE:-8}
RSS_METRIC=${SOAK_RSS_METRIC:-anon}
WRAP=${SOAK_WRAP:-}
TOKEN_TTL=${SOAK_TOKEN_TTL:-60}
SAMPLE_S=10
BASE_S=60
CHUNK=300
SUBJECTS=1000
ISSUER=https://127.0.0.1:8443
START_TIMEOUT=15
[ -z "$WRAP" ] || START_TIMEOUT=120

case $SOAK in ''|*[!0-9]*) echo "soak: SOAK_SECONDS must be a whole number" >&2; exit 2;; esac
[ "$SOAK" -ge 30 ] || { echo "soak: SOAK_SECONDS must be at least 30" >&2; exit 2; }
[ "$SOAK" -le 86400 ] || { echo "soak: SOAK_SECONDS at most 86400" >&2; exit 2; }
case $TOKEN_TTL in ''|*[!0-9]*) echo "soak: SOAK_TOKEN_TTL must be a whole number" >&2; exit 2;; esac
[ "$TOKEN_TTL" -ge 10 ] && [ "$TOKEN_TTL" -le 600 ] ||
    { echo "soak: SOAK_TOKEN_TTL must be from 10 to 600" >&2; exit 2; }
# Warm-up: the first 60 s, or 10 % of the run, or until the store is in
# its steady state, whichever is longest. Each token issued prunes up to
# four expired tokens' records (status_prune, 60 s after they expired):
# from TOKEN_TTL + 60 s after the first tokens (the peak's, issued up to
# 20 s before the soak starts) every write also deletes, and the writer's
# working memory steps up once, by about 1 MB (docs/security.md, "Load
# soak").
WARM=$((SOAK / 10))
[ "$WARM" -ge 60 ] || WARM=60
[ "$WARM" -ge $((TOKEN_TTL + 90)) ] || WARM=$((TOKEN_TTL + 90))
[ "$WARM" -lt "$SOAK" ] || WARM=$((SOAK / 2))
# The first chunk ends 20 s before the baseline (chunk_len below).
FIRST_CHUNK=$((WARM - 20))
[ "$FIRST_CHUNK" -ge 10 ] || FIRST_CHUNK=$CHUNK

for t in consentd consentctl bench/loadgen; do
	[ -x "$B/$t" ] || { echo "soak: $B/$t missing (make soak)" >&2; exit 1; }
done
for t in curl jq awk; do
	command -v $t >/dev/null 2>&1 || { echo "soak: needs $t (scripts/deps.sh)" >&2; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cb-soak.XXXXXX")
broker_pid=
wrap_pid=
watchdog_pid=
bg_pids=
cleanup() {
	for p in $bg_pids; do
		kill "$p" 2>/dev/null || true
	done
	[ -z "$watchdog_pid" ] || kill "$watchdog_pid" 2>/dev/null || true
	stop "$broker_pid"
	if [ -n "$wrap_pid" ] && [ "$wrap_pid" != "$broker_pid" ]; then
		[ -n "$broker_pid" ] || kill "$wrap_pid" 2>/dev/null || true
		i=0  # a profiler writes its output after consentd exits
		while kill -0 "$wrap_pid" 2>/dev/null && [ $i -lt 600 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		kill "$wrap_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '%s\n' "soak: $*" >&2; }

# the set-up (bench_init, watchdog, start_consentd, stop, url_of,
# bench_agreement, grant_consents, mint_citizens, token_bodies)
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

# find_broker PID: the consentd process, PID itself or (under SOAK_WRAP)
# the deepest process below it whose command line runs consentd.
find_broker() {
	for p in $(ps -e -o pid= -o ppid= | awk -v r="$1" '
	    {pp[$1] = $2}
	    END {
		for (p in pp) {
			q = p; d = 0
			while (q != r && q + 0 > 1 && d < 64) {q = pp[q]; d++}
			if (q == r) print d, p
		}
	    }' | sort -rn | awk '{print $2}'); do
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null |
		    grep -q "$B/consentd " && { echo "$p"; return 0; }
	done
	return 1
}

D=$tmp/data

# ---- 1. data dir, consentd, agreement, consents ----------------------------
say "data dir in $tmp"
bench_init "$D"
# The store grows by about 2.7 MB/s at this load (every token and grant is a
# record): a map of 1 GiB + 8 MiB per second of soak keeps "store is full"
# out of the run (the file only grows as written; 80 GB free here).
MAP_MB=${SOAK_MAP_MB:-$((1024 + SOAK * 8))}
watchdog
consentd_wrap=$WRAP
start_consentd "$D" "$tmp/consentd.log" --set "map_size_mb=$MAP_MB"
wrap_pid=$consentd_pid
[ -n "$WRAP" ] || broker_pid=$wrap_pid
BROKER=$(url_of "$tmp/consentd.log")
if [ -n "$WRAP" ]; then
	broker_pid=$(find_broker "$wrap_pid") ||
	    { say "no consentd process under SOAK_WRAP ($WRAP)"; exit 1; }
	# From now on the watchdog kills consentd, not the wrapper.
	echo "$broker_pid" >"$tmp/pids"
	say "consentd under '$WRAP'"
fi
say "consentd $BROKER (pid $broker_pid), $THREADS threads, map_size_mb=$MAP_MB"

HASH=$(bench_agreement "$BROKER" "$PKI" "$tmp" "$TOKEN_TTL")
say "agreement bench-transfer $HASH active"

TTL=$((SOAK + 3600))
GRANT_ARGS="--body-file $tmp/grant.body --content-type application/json"
grant_consents "$D" "$BROKER" "$SUBJECTS" "$TTL"
token_bodies s- "$SUBJECTS" >"$tmp/token.bodies"
TOKEN_ARGS="--body-file $tmp/token.bodies --body-lines --content-type application/x-www-form-urlencoded"

# ---- 2. peak ---------------------------------------------------------------
# shellcheck disable=SC2086
$LG --label peak --url "$BROKER/oauth2/token" --connections "$PEAK_CONN" \
    --seconds "$PEAK_SECONDS" --warmup 1 $TOKEN_ARGS >"$tmp/peak.json"
PEAK=$(jq .rps "$tmp/peak.json")
RATE=$(echo "$PEAK" | awk '{r = $1 / 2; printf "%.0f", r < 2 ? 2 : r}')
TOKEN_RATE=$(echo "$RATE $GRANT_SHARE" | awk '{r = $1 * (1 - $2); printf "%.1f", r < 1 ? 1 : r}')
GRANT_RATE=$(echo "$RATE $GRANT_SHARE" | awk '{r = $1 * $2; printf "%.1f", r < 1 ? 1 : r}')
say "peak $PEAK tokens/s (closed loop, $PEAK_CONN connections, ${PEAK_SECONDS}s);" \
    "soak at $RATE/s: tokens $TOKEN_RATE/s, grants $GRANT_RATE/s, a grant+revoke pair every ${REVOKE_INTERVAL}s, ${SOAK}s"

# Fresh citizens for the grants (each used once) and the revoke pairs.
NG=$(echo "$GRANT_RATE $SOAK" | awk '{printf "%.0f", $1 * ($2 + 60) * 1.1 + 100}')
mint_citizens "$D" g- "$NG" "$TTL" >"$tmp/grant.citizens"
NR=$(echo "$REVOKE_INTERVAL $SOAK" | awk '{printf "%.0f", ($2 + 60) / $1 + 100}')
mint_citizens "$D" r- "$NR" "$TTL" >"$tmp/revoke.citizens"

# ---- 3. the soak -----------------------------------------------------------
sleep 2  # the set-up's and the peak run's connections close
FD_IDLE0=$(find "/proc/$broker_pid/fd" -mindepth 1 -maxdepth 1 | wc -l)
T0=$(date +%s)
TEND=$((T0 + SOAK))

# chunk_len K: the length of chunk K. The first ends FIRST_CHUNK seconds
# in, inside the warm-up, so that the baseline is taken after the load's
# connections have been replaced once: the workers' allocator arenas
# then already hold the most connections each has had (with a listening
# socket per worker, how many each gets changes with every reconnect).
# The reconnects after it fall inside the measured window, so a
# reconnect that kept adding memory would still show.
chunk_len() {
	if [ "$1" -eq 0 ]; then echo "$FIRST_CHUNK"; else echo "$CHUNK"; fi
}

# lg_chunks NAME LOADGEN-ARGS...: loadgen in chunks until TEND, a JSON line
# per chunk in $tmp/NAME.jsonl. With --bearer-file, each chunk gets the
# next unused tokens.
lg_chunks() {
	name=$1
	shift
	k=0
	while :; do
		left=$((TEND - $(date +%s)))
		[ "$left" -ge 2 ] || break
		[ "$left" -le "$(chunk_len "$k")" ] || left=$(chunk_len "$k")
		# shellcheck disable=SC2086
		$LG --label "$name-$k" --seconds "$((left - 1))" --warmup 0.5 "$@" \
		    >>"$tmp/$name.jsonl" 2>>"$tmp/$name.err" ||
		    echo '{"requests":0,"errors":1,"unsent":0,"rps":0,"failed":true}' >>"$tmp/$name.jsonl"
		k=$((k + 1))
	done
}

# grants in chunks: split the citizen file so that no token is used twice.
grant_chunks() {
	k=0 used=0
	while :; do
		left=$((TEND - $(date +%s)))
		[ "$left" -ge 2 ] || break
		[ "$left" -le "$(chunk_len "$k")" ] || left=$(chunk_len "$k")
		need=$(echo "$GRANT_RATE $left" | awk '{printf "%.0f", $1 * ($2 + 1) * 1.1 + 50}')
		tail -n +"$((used + 1))" "$tmp/grant.citizens" | head -n "$need" >"$tmp/grant.chunk"
		used=$((used + need))
		# shellcheck disable=SC2086
		$LG --label "grant-$k" --url "$BROKER/v1/consents" \
		    --connections "$CONN" --rate "$GRANT_RATE" \
		    --seconds "$((left - 1))" --warmup 0.5 $GRANT_ARGS \
		    --bearer-file "$tmp/grant.chunk" \
		    >>"$tmp/grant.jsonl" 2>>"$tmp/grant.err" ||
		    echo '{"requests":0,"errors":1,"unsent":0,"rps":0,"failed":true}' >>"$tmp/grant.jsonl"
		k=$((k + 1))
	done
}

# grant + revoke pairs with curl; one line per pair: "ok" or the failure.
revoke_loop() {
	i=0
	while [ "$(date +%s)" -lt "$TEND" ]; do
		tok=$(sed -n "$((i + 1))p" "$tmp/revoke.citizens")
		[ -n "$tok" ] || { echo "fail out-of-tokens"; break; }
		id=$($CURL -H "Authorization: Bearer $tok" \
		    -H 'Content-Type: application/json' \
		    --data-binary @"$tmp/grant.body" "$BROKER/v1/consents" 2>&1 |
		    jq -r '.id // empty' 2>/dev/null || true)
		if [ -z "$id" ]; then
			echo "fail grant r-$i"
		elif st=$($CURL -X DELETE -H "Authorization: Bearer $tok" \
		    "$BROKER/v1/consents/$id" 2>&1 | jq -r '.state // empty' 2>/dev/null) &&
		    [ "$st" = revoked ]; then
			echo ok
		else
			echo "fail revoke r-$i $id"
		fi
		i=$((i + 1))
		sleep "$REVOKE_INTERVAL"
	done >"$tmp/revoke.log"
}

sample() {  # elapsed rss_kb anon_kb file_kb fds store_kb
	st=/proc/$broker_pid/status
	[ -r "$st" ] || return 1
	rss=$(awk '/^VmRSS:/ {print $2}' "$st")
	anon=$(awk '/^RssAnon:/ {print $2}' "$st")
	file=$(awk '/^RssFile:/ {print $2}' "$st")
	fds=$(find "/proc/$broker_pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
	store=$(find "$D" -name data.mdb -exec du -k {} + 2>/dev/null |
	    awk '{k += $1} END {print k + 0}')
	echo "$(($(date +%s) - T0)) $rss $anon $file $fds $store"
}

: >"$tmp/tokens.jsonl"
: >"$tmp/grant.jsonl"
: >"$tmp/samples"
# shellcheck disable=SC2086
lg_chunks tokens --url "$BROKER/oauth2/token" --connections "$CONN" \
    --rate "$TOKEN_RATE" $TOKEN_ARGS &
bg_pids="$bg_pids $!"
grant_chunks &
bg_pids="$bg_pids $!"
revoke_loop &
bg_pids="$bg_pids $!"

say "sampling consentd every ${SAMPLE_S}s; warm-up ${WARM}s"
printf '%8s %10s %10s %10s %6s %10s\n' t_s VmRSS_kB RssAnon_kB RssFile_kB fds store_kB >&2
while :; do
	s=$(sample) || { say "consentd (pid $broker_pid) is gone"; tail -5 "$tmp/consentd.log" >&2; exit 1; }
	echo "$s" >>"$tmp/samples"
	echo "$s" | awk '{printf "%8s %10s %10s %10s %6s %10s\n", $1, $2, $3, $4, $5, $6}' >&2
	now=$(date +%s)
	[ "$now" -lt "$TEND" ] || break
	nxt=$((now + SAMPLE_S))
	[ "$nxt" -le "$TEND" ] || nxt=$TEND
	sleep "$((nxt - now))"
done
for p in $bg_pids; do
	wait "$p" || true
done
bg_pids=
sleep 2  # the loadgens' and curl's connections close
FD_IDLE1=$(find "/proc/$broker_pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)

# ---- 4. verdict --------------------------------------------------------------
kill -0 "$broker_pid" 2>/dev/null || { say "consentd died"; exit 1; }
# agg FILE: ok, errors, unsent beyond one per chunk, worst p99. loadgen
# counts a request due in the window's last tick as unsent (it stops at
# the window's end): one per chunk is that boundary, not a lag.
agg() {
	jq -s '[(map(.requests) | add // 0), (map(.errors) | add // 0),
	    (map([(.unsent // 0) - 1, 0] | max) | add // 0),
	    (map(.latency_ms.p99 // 0) | max // 0)]
	    | map(tostring) | join(" ")' -r "$1"
}
# shellcheck disable=SC2046
set -- $(agg "$tmp/tokens.jsonl"); TOK_N=$1 TOK_E=$2 TOK_U=$3 TOK_P99=$4
# shellcheck disable=SC2046
set -- $(agg "$tmp/grant.jsonl"); GR_N=$1 GR_E=$2 GR_U=$3 GR_P99=$4
RV_N=$(grep -c '^ok$' "$tmp/revoke.log" || true)
RV_E=$(grep -c '^fail' "$tmp/revoke.log" || true)
ERRORS=$((TOK_E + GR_E + RV_E))
S5XX=$(grep -ac '"status":5[0-9][0-9]' "$tmp/consentd.log" || true)

# consentd's request log second by second, kept in $B/soak-timeline.tsv
# (the log itself is too big to keep): replies, 5xx, the slowest reply
# and how many took over 100 ms. A stall shows as seconds with few
# replies and slow ones; SLOWEST is the second with the slowest reply.
awk '
	!/"method":/ { next }
	match($0, /"time":"[^"]*"/) { t = substr($0, RSTART + 8, RLENGTH - 9) }
	{
		ms = 0
		if (match($0, /"ms":[0-9.e+-]+/))
			ms = substr($0, RSTART + 5, RLENGTH - 5) + 0
		st = 0
		if (match($0, /"status":[0-9]+/))
			st = substr($0, RSTART + 9, RLENGTH - 9) + 0
		if (!(t in n))
			order[++k] = t
		n[t]++
		if (st >= 500)
			e[t]++
		if (ms > mx[t])
			mx[t] = ms
		if (ms > 100)
			slow[t]++
	}
	END {
		print "time\treplies\t5xx\tmax_ms\tover_100ms"
		for (i = 1; i <= k; i++) {
			t = order[i]
			printf "%s\t%d\t%d\t%.1f\t%d\n", t, n[t], e[t], mx[t],
			    slow[t]
		}
	}' "$tmp/consentd.log" >"$B/soak-timeline.tsv"
SLOWEST=$(awk -F '\t' 'NR > 1 && $4 + 0 >= m {
	m = $4 + 0; s = $1 " (" $4 " ms, " $2 " replies)" }
    END { print (s == "" ? "none" : s) }' "$B/soak-timeline.tsv")

# The median of v[1..n] (sorts v), for the awk programs below.
AWK_MEDIAN='function median(v, n,    i, j, s) {
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && v[j - 1] > v[j]; j--) {
			s = v[j]; v[j] = v[j - 1]; v[j - 1] = s
		}
	return n == 0 ? 0 : (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}'

# growth COLUMN: "baseline max growth_pct" of a column of the samples.
# The baseline is the median of the samples in the first BASE_S seconds
# after the warm-up, not the first sample alone: consentd returns free
# heap to the system every 10 s, at the same period as the sampling, so
# one sample can land just after a trim, some 5 % below the level around
# it. The max is over every sample after the warm-up.
growth() {
	awk -v w="$WARM" -v e="$((WARM + BASE_S))" -v c="$1" "$AWK_MEDIAN"'
	$1 >= w {
		if ($1 < e || n == 0) v[++n] = $c
		if ($c > m) m = $c
	} END {
		z = median(v, n)
		printf "%d %d %.2f\n", z, m, (z > 0) ? (m - z) * 100 / z : 0
	}' "$tmp/samples"
}
# settled COLUMN BASELINE: "median growth_pct" of the column over the
# last BASE_S seconds of samples, against BASELINE: the level the run
# ended at, which a one-sample transient (the max) does not move.
# Reported, not gated.
settled() {
	awk -v b="$BASE_S" -v c="$1" -v z0="$2" "$AWK_MEDIAN"'
	{ t[NR] = $1; x[NR] = $c }
	END {
		for (i = 1; i <= NR; i++)
			if (t[i] >= t[NR] - b)
				v[++n] = x[i]
		z = median(v, n)
		printf "%d %.2f\n", z, (z0 > 0) ? (z - z0) * 100 / z0 : 0
	}' "$tmp/samples"
}
# shellcheck disable=SC2046
set -- $(growth 2); RSS0=$1 RSSMAX=$2 RSS_G=$3
# shellcheck disable=SC2046
set -- $(growth 3); ANON0=$1 ANONMAX=$2 ANON_G=$3
# shellcheck disable=SC2046
set -- $(settled 3 "$ANON0"); ANON_END=$1 ANON_END_G=$2
# shellcheck disable=SC2046
set -- $(growth 4); FILE0=$1 FILEMAX=$2 FILE_G=$3
# shellcheck disable=SC2046
set -- $(growth 5); FD0=$1 FDMAX=$2
# shellcheck disable=SC2046
set -- $(growth 6); STORE0=$1 STOREMAX=$2
FDGROWTH=$((FDMAX - FD0))
FD_IDLE_G=$((FD_IDLE1 - FD_IDLE0))
FD_LOAD_LIMIT=$((2 * CONN + FD_NOISE))
case $RSS_METRIC in
vm) GATE_G=$RSS_G ;;
*) GATE_G=$ANON_G ;;
esac
RSS_OK=$(echo "$GATE_G $RSS_LIMIT_PCT" | awk '{print ($1 <= $2) ? "true" : "false"}')
FD_OK=false
[ "$FDGROWTH" -le "$FD_LOAD_LIMIT" ] && [ "$FD_IDLE_G" -le "$FD_NOISE" ] && FD_OK=true
ERR_OK=false; [ "$ERRORS" -eq 0 ] && ERR_OK=true
PASS=false
[ "$RSS_OK" = true ] && [ "$FD_OK" = true ] && [ "$ERR_OK" = true ] && PASS=true

mkdir -p "$B"
rm -f "$B/soak-consentd.log.gz"   # a passing run leaves none behind
jq -n --argjson seconds "$SOAK" --argjson warmup "$WARM" --argjson threads "$THREADS" \
    --argjson peak "$PEAK" --argjson rate "$RATE" \
    --argjson token_rate "$TOKEN_RATE" --argjson grant_rate "$GRANT_RATE" \
    --argjson revoke_interval "$REVOKE_INTERVAL" \
    --argjson tok_n "$TOK_N" --argjson tok_e "$TOK_E" --argjson tok_u "$TOK_U" --argjson tok_p99 "$TOK_P99" \
    --argjson gr_n "$GR_N" --argjson gr_e "$GR_E" --argjson gr_u "$GR_U" --argjson gr_p99 "$GR_P99" \
    --argjson rv_n "$RV_N" --argjson rv_e "$RV_E" --argjson s5xx "$S5XX" \
    --argjson rss0 "$RSS0" --argjson rssmax "$RSSMAX" --argjson rss_g "$RSS_G" \
    --argjson anon0 "$ANON0" --argjson anonmax "$ANONMAX" --argjson anon_g "$ANON_G" \
    --argjson anon_end "$ANON_END" --argjson anon_end_g "$ANON_END_G" \
    --argjson file0 "$FILE0" --argjson filemax "$FILEMAX" --argjson file_g "$FILE_G" \
    --argjson store0 "$STORE0" --argjson storemax "$STOREMAX" \
    --arg metric "$RSS_METRIC" --argjson gate_g "$GATE_G" \
    --argjson fd0 "$FD0" --argjson fdmax "$FDMAX" --argjson fdg "$FDGROWTH" \
    --argjson fdi0 "$FD_IDLE0" --argjson fdi1 "$FD_IDLE1" \
    --argjson errors "$ERRORS" \
    --argjson rss_ok "$RSS_OK" --argjson fd_ok "$FD_OK" --argjson err_ok "$ERR_OK" --argjson pass "$PASS" \
    --argjson rss_limit "$RSS_LIMIT_PCT" --argjson fd_noise "$FD_NOISE" \
    --argjson fd_load_limit "$FD_LOAD_LIMIT" \
    --rawfile samples "$tmp/samples" \
    '{seconds: $seconds, warmup_s: $warmup, threads: $threads,
      peak_tokens_rps: $peak, rate_rps: $rate,
      tokens: {offered_rps: $token_rate, ok: $tok_n, errors: $tok_e, unsent: $tok_u, max_chunk_p99_ms: $tok_p99},
      grants: {offered_rps: $grant_rate, ok: $gr_n, errors: $gr_e, unsent: $gr_u, max_chunk_p99_ms: $gr_p99},
      grant_revoke_pairs: {interval_s: $revoke_interval, ok: $rv_n, errors: $rv_e},
      server_5xx_logged: $s5xx,
      memory_kb: {
        vmrss: {after_warmup: $rss0, max: $rssmax, growth_pct: $rss_g},
        rss_anon: {after_warmup: $anon0, max: $anonmax, growth_pct: $anon_g,
          last_minute_median: $anon_end, last_minute_growth_pct: $anon_end_g},
        rss_file: {after_warmup: $file0, max: $filemax, growth_pct: $file_g},
        store_data_mdb: {after_warmup: $store0, max: $storemax}},
      rss_gate: {metric: (if $metric == "vm" then "VmRSS" else "RssAnon" end),
        growth_pct: $gate_g, limit_pct: $rss_limit, ok: $rss_ok},
      fds: {after_warmup: $fd0, max: $fdmax, growth: $fdg,
            idle_before_load: $fdi0, idle_after_load: $fdi1,
            idle_growth: ($fdi1 - $fdi0), noise: $fd_noise,
            under_load_limit: $fd_load_limit, ok: $fd_ok},
      errors: {total: $errors, ok: $err_ok},
      pass: $pass,
      samples: [$samples | split("\n")[] | select(length > 0) | split(" ")
        | map(tonumber) | {t_s: .[0], vmrss_kb: .[1], rss_anon_kb: .[2],
          rss_file_kb: .[3], fds: .[4], store_kb: .[5]}]}' >"$B/soak.json"

yn() { [ "$1" = true ] && echo pass || echo FAIL; }
GATE=RssAnon; [ "$RSS_METRIC" = vm ] && GATE=VmRSS
row() { printf '%-30s %-44s %s\n' "$1" "$2" "${3:-}"; }
echo
echo "soak: ${SOAK}s at $RATE/s (half the ${PEAK}/s closed-loop token peak), $THREADS threads, warm-up ${WARM}s"
row measure "value (after warm-up -> max)" verdict
row "token requests" "$TOK_N ok at $TOKEN_RATE/s, worst chunk p99 ${TOK_P99} ms"
row "consent grants" "$GR_N ok at $GRANT_RATE/s, worst chunk p99 ${GR_P99} ms"
row "grant+revoke pairs (curl)" "$RV_N ok"
row "VmRSS kB" "$RSS0 -> $RSSMAX (+$RSS_G %)" "$([ "$GATE" = VmRSS ] && yn "$RSS_OK")"
row "RssAnon kB (heap, stacks)" "$ANON0 -> $ANONMAX (+$ANON_G %)" "$([ "$GATE" = RssAnon ] && yn "$RSS_OK")"
row "  RssAnon at the end" "median of the last ${BASE_S}s: $ANON_END (${ANON_END_G} %)"
row "RssFile kB (LMDB map, libs)" "$FILE0 -> $FILEMAX (+$FILE_G %)"
row "store data.mdb kB" "$STORE0 -> $STOREMAX"
row "fds idle before -> after load" "$FD_IDLE0 -> $FD_IDLE1 (+$FD_IDLE_G, noise $FD_NOISE)" "$(yn "$FD_OK")"
row "fds under load" "$FD0 -> $FDMAX (+$FDGROWTH, limit $FD_LOAD_LIMIT)"
row "errors" "$ERRORS (tokens $TOK_E, grants $GR_E, pairs $RV_E)" "$(yn "$ERR_OK")"
row "unsent (consentd behind)" "tokens $TOK_U, grants $GR_U"
row "5xx in consentd's log" "$S5XX"
row "slowest second in its log" "$SLOWEST"
echo "result: $(yn "$PASS") (RSS gate on $GATE <= $RSS_LIMIT_PCT %); details in $B/soak.json,"
echo "second by second in $B/soak-timeline.tsv"
if [ "$PASS" != true ]; then
	# A failed run keeps consentd's whole log for diagnosis.
	gzip -c "$tmp/consentd.log" >"$B/soak-consentd.log.gz" &&
	    say "consentd's log kept in $B/soak-consentd.log.gz"
fi
[ "$RV_E" -eq 0 ] || grep '^fail' "$tmp/revoke.log" | head -3 >&2
[ "$ERRORS" -eq 0 ] || cat "$tmp/tokens.err" "$tmp/grant.err" 2>/dev/null | sort | uniq -c | head -5 >&2
[ "$PASS" = true ]
