#!/bin/sh
# Scale benchmark: token issuance on an empty store against the same store
# bulk-loaded with a million consents and ten million audit log entries,
# consentd's memory on both, and its memory cost per idle connection. Run
# by "make bench-scale" from the root.
#
#   1. A temporary dev data dir EMPTY (consentctl init --dev, map_size_mb
#      MAP_MB); consentd starts on 127.0.0.1 (free port, THREADS workers);
#      the registrar submits "bench-transfer" and dia and ird approve it,
#      and citizens s-0 .. s-999 grant consent (POST /v1/consents): the
#      set-up of bench_issue.sh (bench/lib.sh). consentd stops.
#   2. LOADED is a copy of EMPTY, filled by build/bench/bulkload (stopped
#      broker) with CONSENTS consents (citizens b-0 ..) and ENTRIES log
#      entries in all (the grants, then tokens for ird); timed, with the
#      size of data.mdb.
#   3. Unless BENCH_SCALE_VERIFY=0: the loaded log is exported (consentctl
#      log export) and verified (consent-audit verify: every entry replayed,
#      the root against the signed checkpoint).
#   4. consentd starts on both (request_timeout_s raised so that idle
#      connections stay open in step 7); a loaded citizen's consent must
#      give a token (POST /oauth2/token, checked by introspection).
#   5. Issuance, closed loop (build/bench/loadgen, ird's certificate),
#      after one untimed WARM_S run per store: ROUNDS rounds of {empty,
#      loaded, loaded-same} x CONNS connections, interleaved so that other
#      load on the machine falls on all alike. The empty store is asked
#      for s-0 .. s-999, "loaded" for 1,000 loaded citizens spread over
#      the whole range, "loaded-same" is the loaded store asked for
#      s-0 .. s-999 (what the store's size costs when the requests touch
#      the same few index pages); each in one fixed shuffled order
#      (token_bodies, bench/lib.sh). Medians of the rounds, their ratios to
#      the empty store, consentd's CPU and bytes written per token.
#   6. consentd's VmRSS, RssAnon and RssFile (/proc/PID/status) on both,
#      after start and after the rounds.
#   7. Idle connections: a small Python client opens IDLE levels of mutual
#      TLS keep-alive connections (ird's certificate, one GET each) to the
#      loaded consentd and holds them; RssAnon at each level gives the
#      bytes per connection.
#   8. A table on stdout, $CB_BUILD/bench-scale.json.
#
# Environment (defaults): CB_BUILD (build), BENCH_SCALE_CONSENTS (1000000),
# BENCH_SCALE_ENTRIES (10000000), BENCH_SCALE_BATCH (20000 entries per
# write transaction), BENCH_SCALE_MAP_MB (sized from the counts),
# BENCH_SCALE_VERIFY (1), BENCH_SCALE_IDLE ("0 100 500 1000"),
# BENCH_SCALE_WARM_SECONDS (5), BENCH_SECONDS (5) per run, BENCH_ROUNDS
# (5), BENCH_THREADS (2), BENCH_CONNS ("16 32"), BENCH_PERF (0; 1: a perf
# profile of each consentd under 32 connections for BENCH_PERF_SECONDS,
# 10, after the rounds, into $CB_BUILD/bench-scale-perf.txt). The full
# size needs about 25 GB free in $TMPDIR (data.mdb and the export file)
# and takes 15 to 20 minutes, most of it the load.
# Every server is killed on exit (trap); if this script is killed outright,
# a watchdog kills them within a second.
set -eu

B=${CB_BUILD:-build}
NCONS=${BENCH_SCALE_CONSENTS:-1000000}
NENT=${BENCH_SCALE_ENTRIES:-10000000}
BATCH=${BENCH_SCALE_BATCH:-20000}
VERIFY=${BENCH_SCALE_VERIFY:-1}
IDLE=${BENCH_SCALE_IDLE:-0 100 500 1000}
SECS=${BENCH_SECONDS:-5}
ROUNDS=${BENCH_ROUNDS:-5}
THREADS=${BENCH_THREADS:-2}
CONNS=${BENCH_CONNS:-16 32}
PERF=${BENCH_PERF:-0}
PERF_SECONDS=${BENCH_PERF_SECONDS:-10}
WARM_S=${BENCH_SCALE_WARM_SECONDS:-5}
WARMUP=1
SUBJECTS=1000            # token requests cycle through this many subjects
ISSUER=https://127.0.0.1:8443
# shellcheck disable=SC2034  # used by lib.sh's url_of
START_TIMEOUT=60         # seconds for consentd to say it listens
IDLE_TIMEOUT_S=900       # request_timeout_s: idle connections stay open

for v in "$NCONS" "$NENT" "$BATCH"; do
	case $v in ''|*[!0-9]*) echo "bench_scale: sizes must be whole numbers" >&2; exit 2;; esac
done
if [ "$NCONS" -lt 1 ] || [ "$NENT" -lt "$NCONS" ]; then
	echo "bench_scale: need 1 <= BENCH_SCALE_CONSENTS <= BENCH_SCALE_ENTRIES" >&2
	exit 2
fi
for t in consentd consentctl consent-audit bench/loadgen bench/bulkload; do
	[ -x "$B/$t" ] || { echo "bench_scale: $B/$t missing (make bench-scale)" >&2; exit 1; }
done
for t in curl jq python3 awk; do
	command -v $t >/dev/null 2>&1 || { echo "bench_scale: needs $t (scripts/deps.sh)" >&2; exit 1; }
done

# The store: about 3.5 KiB per consent and 2 KiB per token (data.mdb),
# with room to spare; the export file about 0.3 KiB per entry.
TOKENS=$((NENT - NCONS))
MAP_MB=${BENCH_SCALE_MAP_MB:-$((1024 + (NCONS * 4 + TOKENS * 3) / 1024))}
NEED_MB=$(((NCONS * 4 + TOKENS * 2) / 1024 + 512))
[ "$VERIFY" = 0 ] || NEED_MB=$((NEED_MB + NENT * 4 / 10240))
FREE_MB=$(df -Pm "${TMPDIR:-/tmp}" | awk 'NR == 2 {print $4}')
[ "$FREE_MB" -gt "$NEED_MB" ] || {
	echo "bench_scale: about $NEED_MB MB needed in ${TMPDIR:-/tmp}, $FREE_MB MB free" >&2
	exit 1
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cb-scale.XXXXXX")
empty_pid=
loaded_pid=
hold_pid=
watchdog_pid=
cleanup() {
	[ -z "$watchdog_pid" ] || kill "$watchdog_pid" 2>/dev/null || true
	[ -z "$hold_pid" ] || kill "$hold_pid" 2>/dev/null || true
	for p in $empty_pid $loaded_pid; do
		kill "$p" 2>/dev/null || true
	done
	for p in $empty_pid $loaded_pid; do
		stop "$p"
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '%s\n' "bench_scale: $*" >&2; }

# the set-up (bench_init, watchdog, start_consentd, stop, url_of,
# bench_agreement, grant_consents, token_bodies) and the runs' records
# (lg_run, lg_record, results_jq)
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

# If this script is killed outright, its servers go within a second.
watchdog

# start NAME: starts consentd on $tmp/NAME (its log in $tmp/NAME.K.log,
# K counting the starts); sets start_pid, start_url and start_log.
nstart=0
start() {
	nstart=$((nstart + 1))
	start_log=$tmp/$1.$nstart.log
	start_consentd "$tmp/$1" "$start_log" \
	    --set "request_timeout_s=$IDLE_TIMEOUT_S"
	start_pid=$consentd_pid
	start_url=$(url_of "$start_log")
}

# mem PID: "VmRSS RssAnon RssFile" in kB.
mem() {
	awk '/^VmRSS:/ {r = $2} /^RssAnon:/ {a = $2} /^RssFile:/ {f = $2}
	    END {print r + 0, a + 0, f + 0}' "/proc/$1/status"
}
# mem_json PID: the same as a JSON object.
mem_json() {
	mem "$1" | awk '{printf "{\"vmrss_kb\":%d,\"rss_anon_kb\":%d,\"rss_file_kb\":%d}\n", $1, $2, $3}'
}
# store_kb NAME: data.mdb's allocated and apparent size, JSON.
store_json() {
	f=$tmp/$1/store/data.mdb
	printf '{"allocated_kb":%d,"apparent_bytes":%d}\n' \
	    "$(du -k "$f" | awk '{print $1}')" "$(stat -c %s "$f")"
}

# issued LOG: tokens consentd issued so far (its request log).
issued() { grep -c '"path":"/oauth2/token","status":200' "$1" || true; }
# io PID: bytes the process read from and wrote to storage so far.
io() { awk '/^read_bytes:/ {r = $2} /^write_bytes:/ {w = $2} END {print r + 0, w + 0}' "/proc/$1/io" 2>/dev/null || echo "0 0"; }
RES=$tmp/results.jsonl
: >"$RES"

# ---- 1. the empty store -------------------------------------------------------
say "data dirs in $tmp; map_size_mb=$MAP_MB"
bench_init "$tmp/empty"
printf 'map_size_mb = %s\n' "$MAP_MB" >>"$tmp/empty/consentd.conf"
start empty
empty_pid=$start_pid
HASH=$(bench_agreement "$start_url" "$PKI" "$tmp")
say "agreement bench-transfer $HASH active"
grant_consents "$tmp/empty" "$start_url" "$SUBJECTS"
stop "$empty_pid"
empty_pid=

# ---- 2. the loaded store --------------------------------------------------------
cp -a "$tmp/empty" "$tmp/loaded"
say "bulk load: $NCONS consents, $NENT log entries in all ($TOKENS tokens)"
w0=$(date +%s.%N)
"$B/bench/bulkload" --data "$tmp/loaded" --consents "$NCONS" \
    --entries "$NENT" --batch "$BATCH" >"$tmp/bulkload.json" ||
    { say "bulk load failed"; exit 1; }
w1=$(date +%s.%N)
LOAD_S=$(echo "$w0 $w1" | awk '{printf "%.1f", $2 - $1}')
say "loaded in ${LOAD_S}s: $(cat "$tmp/bulkload.json")"

# ---- 3. the loaded log verifies --------------------------------------------------
VERIFY_JSON='{"checked": false}'
if [ "$VERIFY" != 0 ]; then
	VK=$("$B/consentctl" log vkey --data "$tmp/loaded")
	w0=$(date +%s.%N)
	"$B/consentctl" log export --data "$tmp/loaded" --out "$tmp/log.export" \
	    >/dev/null 2>&1 || { say "log export failed"; exit 1; }
	if "$B/consent-audit" verify --log "$tmp/log.export" --vkey "$VK" \
	    >"$tmp/verify.out" 2>&1; then
		vok=true
	else
		vok=false
	fi
	w1=$(date +%s.%N)
	rm -f "$tmp/log.export"
	sed 's/^/  /' "$tmp/verify.out" >&2
	VERIFY_JSON=$(jq -n --argjson ok "$vok" \
	    --arg summary "$(grep -E '^(entries|tokens checked|root|result):' "$tmp/verify.out")" \
	    --argjson s "$(echo "$w0 $w1" | awk '{printf "%.1f", $2 - $1}')" \
	    '{checked: true, ok: $ok, seconds: $s, summary: ($summary | split("\n"))}')
	[ "$vok" = true ] || { say "consent-audit verify failed on the loaded log"; exit 1; }
fi

# ---- 4. both brokers; a loaded citizen's consent works ----------------------------
start empty
empty_pid=$start_pid EMPTY=$start_url EMPTY_LOG=$start_log
start loaded
loaded_pid=$start_pid LOADED=$start_url LOADED_LOG=$start_log
say "consentd: empty $EMPTY (pid $empty_pid), loaded $LOADED (pid $loaded_pid), $THREADS threads each"
sleep 2
MEM_START_EMPTY=$(mem_json "$empty_pid")
MEM_START_LOADED=$(mem_json "$loaded_pid")
PROBE=b-$((NCONS / 2))
DETAILS="[{\"type\":\"consented_transfer\",\"agreement\":\"bench-transfer\",\"subject\":\"$PROBE\",\"fields\":[\"child.given_names\",\"child.family_name\",\"child.birth_date\"],\"purpose\":\"benchmark\"}]"
TOK=$($CURL --cert "$PKI/ird.crt" --key "$PKI/ird.key" "$LOADED/oauth2/token" \
    --data-urlencode grant_type=client_credentials \
    --data-urlencode "authorization_details=$DETAILS" | jq -r .access_token)
ACTIVE=$($CURL --cert "$PKI/dia.crt" --key "$PKI/dia.key" \
    "$LOADED/oauth2/introspect" --data-urlencode "token=$TOK" |
    jq -c '{active, sub, consent_id}')
echo "$ACTIVE" | jq -e '.active == true' >/dev/null ||
    { say "no token for loaded citizen $PROBE: $ACTIVE"; exit 1; }
say "loaded citizen $PROBE: token issued, introspection $ACTIVE"

# ---- 5. issuance, interleaved ------------------------------------------------------
token_bodies s- "$SUBJECTS" >"$tmp/empty.bodies"
STEP=$((NCONS / SUBJECTS))
[ "$STEP" -ge 1 ] || STEP=1
NB=$SUBJECTS
[ "$NB" -le "$NCONS" ] || NB=$NCONS
token_bodies b- "$NB" "$STEP" >"$tmp/loaded.bodies"
cp "$tmp/empty.bodies" "$tmp/loaded-same.bodies"

# run_lg STORE EXTRA-JSON LOADGEN-ARGS...: one loadgen run, its JSON line
# with the server's CPU use, disk bytes and tokens issued (its request log)
# and the machine's CPU pressure added. STORE: empty (citizens s-*),
# loaded (loaded citizens b-*, spread over all of them) or loaded-same
# (the loaded store, citizens s-* as on the empty one).
run_lg() {
	st=$1 extra=$2
	shift 2
	if [ "$st" = empty ]; then
		pid=$empty_pid u=$EMPTY lf=$EMPTY_LOG
	else
		pid=$loaded_pid u=$LOADED lf=$LOADED_LOG
	fi
	n0=$(issued "$lf") io0=$(io "$pid")
	lg_run "$pid" "{\"label\":\"$st\",\"requests\":0,\"rps\":0,\"errors\":1,\"connections\":0,\"latency_ms\":{\"p50\":0,\"p99\":0}}" \
	    --label "$st" --url "$u/oauth2/token" \
	    --body-file "$tmp/$st.bodies" --body-lines \
	    --content-type application/x-www-form-urlencoded "$@" ||
	    say "loadgen: no successful request: $st $*"
	io1=$(io "$pid") n1=$(issued "$lf")
	# shellcheck disable=SC2016  # jq's variables
	lg_record '"  \(.store) c=\(.connections): \(.rps)/s p50=\(.latency_ms.p50) p99=\(.latency_ms.p99) ms errors=\(.errors) server_cores=\(.server_cores) psi=\(.cpu_pressure_pct)% disk: read \(.server_io_kb.read_kb) kB, written \(.server_io_kb.write_kb) kB"' \
	    '{store: $s}' \
	    '{server_cpu_s: $cpu_s, server_io_kb: $io, tokens_issued: $issued} + $x' \
	    --arg s "$st" --argjson x "$extra" \
	    --argjson issued "$((n1 - n0))" --argjson cpu_s "$lg_cpu_s" \
	    --argjson io "$(echo "$io0 $io1" | awk '{printf "{\"read_kb\":%d,\"write_kb\":%d}", ($3 - $1) / 1024, ($4 - $2) / 1024}')"
}

# Warm-up: each store once (page cache, allocator), not counted.
for st in empty loaded loaded-same; do
	run_lg "$st" '{"warmup": true}' --connections 32 --seconds "$WARM_S" \
	    --warmup 0.5
done
say "issuance, closed loop: $ROUNDS rounds x {empty, loaded, loaded-same} x {$CONNS} connections, ${SECS}s each"
r=1
while [ $r -le "$ROUNDS" ]; do
	for c in $CONNS; do
		# Alternate which store goes first, so neither always follows
		# the other's writes.
		if [ $((r % 2)) = 1 ]; then
			order="empty loaded loaded-same"
		else
			order="loaded-same loaded empty"
		fi
		for st in $order; do
			run_lg "$st" "{\"round\": $r}" --connections "$c" \
			    --seconds "$SECS" --warmup "$WARMUP"
		done
	done
	r=$((r + 1))
done

# Optionally, a profile of each consentd under the same load.
if [ "$PERF" = 1 ]; then
	if command -v perf >/dev/null 2>&1; then
		: >"$B/bench-scale-perf.txt"
		for st in empty loaded; do
			if [ "$st" = empty ]; then pid=$empty_pid; else pid=$loaded_pid; fi
			say "perf record of the $st store's consentd for ${PERF_SECONDS}s (32 connections)"
			# cpu-clock and DWARF stacks: see bench_issue.sh.
			perf record -e cpu-clock -F 299 --call-graph dwarf,16384 \
			    -p "$pid" -o "$tmp/perf.data" -- sleep "$PERF_SECONDS" \
			    >/dev/null 2>"$tmp/perf.err" &
			perf_pid=$!
			run_lg "$st" '{"perf": true}' --connections 32 \
			    --seconds "$PERF_SECONDS" --warmup 0.5
			wait "$perf_pid" || true
			{
				echo "# $st store: consentd under POST /oauth2/token, 32 connections, ${PERF_SECONDS}s"
				echo "# inclusive (children), by function:"
				perf report -i "$tmp/perf.data" --children --sort sym \
				    --stdio -g none --percent-limit 2 2>/dev/null |
				    grep -E '^ +[0-9]' | grep -v ' 0x0000'
				echo "# self, by library and function:"
				perf report -i "$tmp/perf.data" --no-children --sort dso,sym \
				    --stdio -g none --percent-limit 0.7 2>/dev/null |
				    grep -E '^ +[0-9]'
			} >>"$B/bench-scale-perf.txt"
			rm -f "$tmp/perf.data"
		done
		say "profiles in $B/bench-scale-perf.txt"
	else
		say "perf not found; skipping the profiles"
	fi
fi

# ---- 6. memory after the rounds ------------------------------------------------------
MEM_AFTER_EMPTY=$(mem_json "$empty_pid")
MEM_AFTER_LOADED=$(mem_json "$loaded_pid")
STORE_EMPTY=$(store_json empty)
STORE_LOADED=$(store_json loaded)

# ---- 7. idle connections ---------------------------------------------------------------
# hold.py HOST PORT CA CERT KEY LEVEL...: opens keep-alive mutual TLS
# connections up to each level in turn (one GET each, answer read, left
# open), prints "ready N" and waits for a line on stdin before the next
# level; after the last, closes them all.
cat >"$tmp/hold.py" <<'EOF'
import http.client, resource, ssl, sys
host, port, ca, cert, key = sys.argv[1:6]
levels = [int(x) for x in sys.argv[6:]]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = max(levels) + 64
if soft < want:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
ctx = ssl.create_default_context(cafile=ca)
ctx.load_cert_chain(cert, key)
conns = []
for n in levels:
    while len(conns) < n:
        c = http.client.HTTPSConnection(host, int(port), context=ctx, timeout=30)
        c.request("GET", "/.well-known/consent-broker")
        r = c.getresponse()
        r.read()
        if r.status != 200 or r.getheader("Connection", "").lower() == "close":
            sys.exit("connection %d: status %d" % (len(conns), r.status))
        conns.append(c)
    print("ready", n, flush=True)
    if not sys.stdin.readline():
        break
for c in conns:
    c.close()
EOF
say "idle keep-alive connections to the loaded consentd: {$IDLE}"
mkfifo "$tmp/hold.in"
HP=${LOADED#https://}
# shellcheck disable=SC2086
python3 "$tmp/hold.py" "${HP%:*}" "${HP##*:}" "$PKI/ca.crt" "$PKI/ird.crt" \
    "$PKI/ird.key" $IDLE <"$tmp/hold.in" >"$tmp/hold.out" 2>"$tmp/hold.err" &
hold_pid=$!
exec 3>"$tmp/hold.in"
: >"$tmp/idle"
for n in $IDLE; do
	i=0
	while ! grep -q "^ready $n\$" "$tmp/hold.out" 2>/dev/null; do
		kill -0 "$hold_pid" 2>/dev/null || { say "connection holder failed:"; cat "$tmp/hold.err" >&2; exit 1; }
		[ $i -lt 1200 ] || { say "connection holder: no 'ready $n' in 120 s"; exit 1; }
		sleep 0.1
		i=$((i + 1))
	done
	sleep 2  # the last replies are flushed and the buffers given back
	fds=$(find "/proc/$loaded_pid/fd" -mindepth 1 -maxdepth 1 | wc -l)
	echo "$n $(mem "$loaded_pid") $fds" >>"$tmp/idle"
	awk -v n="$n" '{printf "  %5d connections: VmRSS %d kB, RssAnon %d kB, RssFile %d kB, %d fds\n", n, $2, $3, $4, $5}' \
	    "$tmp/idle" | tail -1 >&2
	echo next >&3
done
exec 3>&-
wait "$hold_pid" 2>/dev/null || true
hold_pid=
sleep 2
IDLE_CLOSED=$(mem "$loaded_pid" | awk '{print $2}')

# ---- 8. report ---------------------------------------------------------------------
stop "$empty_pid"
stop "$loaded_pid"
empty_pid='' loaded_pid=''

mkdir -p "$B"
# Bytes per connection over the first level, and over the level before.
IDLE_JSON=$(awk 'NR == 1 {a0 = $3; n0 = $1}
    {printf "%s{\"connections\":%d,\"vmrss_kb\":%d,\"rss_anon_kb\":%d,\"rss_file_kb\":%d,\"fds\":%d,\"anon_bytes_per_connection\":%s,\"anon_bytes_per_connection_marginal\":%s}",
	(NR > 1 ? "," : ""), $1, $2, $3, $4, $5,
	($1 > n0 ? sprintf("%.0f", ($3 - a0) * 1024 / ($1 - n0)) : "null"),
	(NR > 1 && $1 > np ? sprintf("%.0f", ($3 - ap) * 1024 / ($1 - np)) : "null")
	np = $1; ap = $3}
    BEGIN {printf "["} END {printf "]"}' "$tmp/idle")
# shellcheck disable=SC2016  # jq's variables
results_jq '
    def medr: if length == 0 then null else med | round end;
    # The median over the rounds of the ratio STORE / empty in each round:
    # the runs of one round are adjacent and share the machine load.
    def paired($runs; $st; $c): [$runs[] | select(.store == $st and
        .connections == $c) as $x | $runs[] | select(.store == "empty" and
        .connections == $c and .round == $x.round and .rps > 0) |
        $x.rps / .rps] | if length == 0 then null
        else (med * 1000 | round) / 1000 end;
    map(select(.perf != true and .warmup != true)) as $runs
    | ($runs | map(.connections) | unique) as $cs
    | {threads: $threads, seconds_per_run: $secs, rounds: $rounds,
       load: ($load + {wall_seconds: $load_wall}),
       loaded_log_verified: $verify,
       loaded_citizen_token: ($probe_ok + {subject: $probe}),
       issuance: [$cs[] as $c | {connections: $c,
         empty_rps: ([$runs[] | select(.store == "empty" and .connections == $c) | .rps] | med),
         loaded_rps: ([$runs[] | select(.store == "loaded" and .connections == $c) | .rps] | med),
         empty_p99_ms: ([$runs[] | select(.store == "empty" and .connections == $c) | .latency_ms.p99] | med),
         loaded_p99_ms: ([$runs[] | select(.store == "loaded" and .connections == $c) | .latency_ms.p99] | med),
         empty_server_cores: ([$runs[] | select(.store == "empty" and .connections == $c) | .server_cores] | med),
         loaded_server_cores: ([$runs[] | select(.store == "loaded" and .connections == $c) | .server_cores] | med),
         empty_write_bytes_per_token: ([$runs[] | select(.store == "empty" and .connections == $c and .tokens_issued > 0) | .server_io_kb.write_kb * 1024 / .tokens_issued] | medr),
         loaded_write_bytes_per_token: ([$runs[] | select(.store == "loaded" and .connections == $c and .tokens_issued > 0) | .server_io_kb.write_kb * 1024 / .tokens_issued] | medr),
         loaded_same_rps: ([$runs[] | select(.store == "loaded-same" and .connections == $c) | .rps] | med),
         loaded_same_p99_ms: ([$runs[] | select(.store == "loaded-same" and .connections == $c) | .latency_ms.p99] | med),
         loaded_same_write_bytes_per_token: ([$runs[] | select(.store == "loaded-same" and .connections == $c and .tokens_issued > 0) | .server_io_kb.write_kb * 1024 / .tokens_issued] | medr),
         loaded_read_kb: ([$runs[] | select(.store == "loaded" and .connections == $c) | .server_io_kb.read_kb] | add),
         errors: ([$runs[] | select(.connections == $c) | .errors] | add)}
         | . + {ratio_of_medians: (if .empty_rps > 0 then ((.loaded_rps / .empty_rps * 1000 | round) / 1000) else null end),
                ratio_same_of_medians: (if .empty_rps > 0 then ((.loaded_same_rps / .empty_rps * 1000 | round) / 1000) else null end),
                ratio: paired($runs; "loaded"; $c),
                ratio_same: paired($runs; "loaded-same"; $c),
                ratios_by_round: [$runs[] | select(.store == "loaded" and .connections == $c) as $x | $runs[] | select(.store == "empty" and .connections == $c and .round == $x.round and .rps > 0) | ($x.rps / .rps * 100 | round) / 100],
                loaded_same_cpu_us_per_token: ([$runs[] | select(.store == "loaded-same" and .connections == $c and .tokens_issued > 0) | .server_cpu_s * 1e6 / .tokens_issued] | medr),
                empty_cpu_us_per_token: ([$runs[] | select(.store == "empty" and .connections == $c and .tokens_issued > 0) | .server_cpu_s * 1e6 / .tokens_issued] | medr),
                loaded_cpu_us_per_token: ([$runs[] | select(.store == "loaded" and .connections == $c and .tokens_issued > 0) | .server_cpu_s * 1e6 / .tokens_issued] | medr)}],
       cpu_pressure_pct_median: ([$runs[].cpu_pressure_pct] | med),
       memory_kb: {empty: {after_start: $ms_e, after_rounds: $ma_e},
                   loaded: {after_start: $ms_l, after_rounds: $ma_l}},
       store: {empty: $st_e, loaded: $st_l},
       idle_connections: {levels: $idle, rss_anon_kb_after_close: $closed},
       runs: $runs}' \
    --argjson load "$(cat "$tmp/bulkload.json")" --argjson load_wall "$LOAD_S" \
    --argjson verify "$VERIFY_JSON" \
    --argjson ms_e "$MEM_START_EMPTY" --argjson ms_l "$MEM_START_LOADED" \
    --argjson ma_e "$MEM_AFTER_EMPTY" --argjson ma_l "$MEM_AFTER_LOADED" \
    --argjson st_e "$STORE_EMPTY" --argjson st_l "$STORE_LOADED" \
    --argjson idle "$IDLE_JSON" --argjson closed "$IDLE_CLOSED" \
    --argjson threads "$THREADS" --argjson secs "$SECS" --argjson rounds "$ROUNDS" \
    --arg probe "$PROBE" --argjson probe_ok "$ACTIVE" >"$B/bench-scale.json"

J=$B/bench-scale.json
row() { printf '%-34s %10s %10s %8s %12s %8s\n' "$1" "$2" "$3" "${4:-}" "${5:-}" "${6:-}"; }
echo
echo "bench_scale: $NCONS consents + $NENT log entries loaded in ${LOAD_S}s; $THREADS threads, median of $ROUNDS rounds of ${SECS}s"
echo "(loaded: token requests for 1,000 loaded citizens spread over all; same: the loaded store, the empty"
echo " store's 1,000 citizens; /empty: the median over the rounds of each round's ratio)"
row measure empty loaded /empty same /empty
jq -r '.issuance[] | "tokens/s, \(.connections) connections|\(.empty_rps)|\(.loaded_rps)|\(.ratio)|\(.loaded_same_rps)|\(.ratio_same)",
    "  p99 ms|\(.empty_p99_ms)|\(.loaded_p99_ms)||\(.loaded_same_p99_ms)|",
    "  consentd CPU per token, us|\(.empty_cpu_us_per_token)|\(.loaded_cpu_us_per_token)||\(.loaded_same_cpu_us_per_token)|",
    "  bytes written per token|\(.empty_write_bytes_per_token)|\(.loaded_write_bytes_per_token)||\(.loaded_same_write_bytes_per_token)|"' "$J" |
    while IFS='|' read -r a b c d e f; do row "$a" "$b" "$c" "$d" "$e" "$f"; done
jq -r '.memory_kb as $m | [["VmRSS", "vmrss_kb"], ["RssAnon", "rss_anon_kb"], ["RssFile", "rss_file_kb"]][] as [$n, $k] |
    "\($n) kB after start|\($m.empty.after_start[$k])|\($m.loaded.after_start[$k])",
    "\($n) kB after the rounds|\($m.empty.after_rounds[$k])|\($m.loaded.after_rounds[$k])"' "$J" |
    while IFS='|' read -r a b c; do row "$a" "$b" "$c"; done
jq -r '"data.mdb kB (allocated)|\(.store.empty.allocated_kb)|\(.store.loaded.allocated_kb)"' "$J" |
    while IFS='|' read -r a b c; do row "$a" "$b" "$c"; done
jq -r '.idle_connections.levels[] | "idle connections to the loaded consentd: \(.connections): RssAnon \(.rss_anon_kb) kB, \(.anon_bytes_per_connection // "-") bytes per connection over the first level (\(.anon_bytes_per_connection_marginal // "-") over the level before), \(.fds) fds"' "$J"
jq -r '"  after closing them: RssAnon \(.idle_connections.rss_anon_kb_after_close) kB"' "$J"
jq -r '"load: \(.load.seconds)s, \(.load.entries / .load.seconds | floor) entries/s; loaded log verified: \(.loaded_log_verified.ok // "not checked")"' "$J"
say "details in $J"
