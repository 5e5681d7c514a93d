# Set-up shared by the benchmark scripts (bench_issue.sh, bench_scale.sh,
# soak.sh), sourced from POSIX sh. The caller defines say() (its
# messages) and sets B (the build directory), tmp (its temporary
# directory), ISSUER, START_TIMEOUT (seconds for a server to say it
# listens) and, for start_consentd, THREADS; bench_init sets PKI, CURL
# (curl with the data dir's CA) and LG (loadgen with ird's certificate),
# which the functions after it use. The results functions (lg_run,
# lg_record, results_jq) use the caller's RES, its results file.

# Variables set here for the caller, and the caller's own:
# shellcheck disable=SC2034,SC2154

# bench_init DIR: a development data dir DIR (consentctl init --dev, its
# output in $tmp/init.log, shown if it fails, and the script exits 1); sets
# PKI, CURL and LG.
bench_init() {
	"$B/consentctl" init --dev --data "$1" --issuer "$ISSUER" \
	    >"$tmp/init.log" 2>&1 || { cat "$tmp/init.log" >&2; exit 1; }
	PKI=$1/pki
	CURL="curl -sS --fail-with-body --max-time 10 --cacert $PKI/ca.crt"
	LG="$B/bench/loadgen --cert $PKI/ird.crt --key $PKI/ird.key --ca $PKI/ca.crt"
}

# watchdog: if this script is killed outright, the processes whose pids
# are in $tmp/pids at that moment (start_consentd adds each consentd) are
# killed within a second; sets watchdog_pid.
watchdog() {
	: >"$tmp/pids"
	# shellcheck disable=SC2046
	(while kill -0 $$ 2>/dev/null; do sleep 1; done
	    kill $(cat "$tmp/pids") 2>/dev/null) >/dev/null 2>&1 &
	watchdog_pid=$!
}

# start_consentd DATA LOG [ARGS...]: consentd on DATA in the background,
# 127.0.0.1 on a free port, THREADS workers, --dev and ARGS, its log in
# LOG; under the command $consentd_wrap (split on blanks; soak.sh's
# SOAK_WRAP) when that is set. Sets consentd_pid (the wrapper's pid, with
# one) and adds it to $tmp/pids; url_of LOG then gives its URL.
consentd_wrap=
start_consentd() {
	sc_data=$1 sc_log=$2
	shift 2
	# shellcheck disable=SC2086
	$consentd_wrap "$B/consentd" --data "$sc_data" --listen 127.0.0.1:0 \
	    --threads "$THREADS" --dev "$@" 2>"$sc_log" &
	consentd_pid=$!
	echo "$consentd_pid" >>"$tmp/pids"
}

# stop PID: SIGTERM, then SIGKILL after 15 s (consentd's grace is 10 s).
stop() {
	[ -n "$1" ] || return 0
	kill "$1" 2>/dev/null || true
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt 150 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -9 "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# url_of LOG: waits (bounded) for the {"event":"listening","url":...} line.
url_of() {
	i=0
	while [ $i -lt $((START_TIMEOUT * 10)) ]; do
		u=$(grep -o '"url":"https://127.0.0.1:[0-9]*' "$1" 2>/dev/null |
		    head -1 | sed 's/"url":"//')
		[ -n "$u" ] && { echo "$u"; return 0; }
		sleep 0.1
		i=$((i + 1))
	done
	say "no listening line in $1:"
	tail -5 "$1" >&2
	return 1
}

# bench_agreement URL PKI DIR [TTL]: the registrar submits "bench-transfer"
# (an agreement that requires consent but has no daily limit, its tokens
# living TTL seconds, 300 by default; the agreement file goes to DIR, and
# DIR/grant.body is the body of a consent grant for it), dia and ird
# approve it; prints its hash.
bench_agreement() {
	cat >"$3/agreement.json" <<EOF
{"id": "bench-transfer", "version": 1, "title": "Benchmark transfer",
 "description": "Benchmark only: consent required, no daily limit.",
 "provider": "dia", "recipients": ["ird"], "purposes": ["benchmark"],
 "fields": [
  {"name": "child.given_names", "description": "Given names."},
  {"name": "child.family_name", "description": "Family name."},
  {"name": "child.birth_date", "description": "Date of birth."}],
 "legal_basis": {"type": "consent"}, "consent": {"required": true},
 "token_ttl_seconds": ${4:-300}, "retention": {"days": 1, "disposal": "delete"},
 "onward_sharing": {"allowed": false}}
EOF
	printf '{"agreement": "bench-transfer"}' >"$3/grant.body"
	ba_hash=$($CURL --cert "$2/registrar.crt" --key "$2/registrar.key" \
	    -H 'Content-Type: application/json' --data-binary @"$3/agreement.json" \
	    "$1/v1/agreements" | jq -r .hash)
	for ba_p in dia ird; do
		$CURL --cert "$2/$ba_p.crt" --key "$2/$ba_p.key" \
		    -H 'Content-Type: application/json' \
		    -d "{\"version\": 1, \"hash\": \"$ba_hash\"}" \
		    "$1/v1/agreements/bench-transfer/approve" >/dev/null
	done
	echo "$ba_hash"
}

# mint_citizens DATA PREFIX COUNT [TTL]: COUNT development citizen ID
# tokens (subjects PREFIX0, PREFIX1, ...) signed with DATA's dev issuer
# key, one per line on stdout, living TTL seconds (loadgen's default, an
# hour, without it).
mint_citizens() {
	"$B/bench/loadgen" mint-citizen --key "$1/keys/dev-issuer.key" \
	    --iss "$ISSUER/dev" --prefix "$2" --count "$3" ${4:+--ttl "$4"}
}

# grant_consents DATA URL N [TTL]: citizens s-0 .. s-(N-1) (ID tokens from
# mint_citizens DATA, TTL passed on, in $tmp/citizens) consent to
# bench-transfer at URL (POST /v1/consents, $tmp/grant.body from
# bench_agreement, 16 connections); the script exits 1 unless all N are
# granted.
grant_consents() {
	mint_citizens "$1" s- "$3" ${4:+"$4"} >"$tmp/citizens"
	# shellcheck disable=SC2086
	$LG --label setup-grants --url "$2/v1/consents" --connections 16 \
	    --seconds 60 --warmup 0 --body-file "$tmp/grant.body" \
	    --content-type application/json --bearer-file "$tmp/citizens" \
	    >"$tmp/setup.json"
	gc_n=$(jq .requests "$tmp/setup.json")
	[ "$gc_n" -eq "$3" ] || {
		say "setup: $gc_n of $3 consents granted"
		cat "$tmp/setup.json" >&2
		exit 1
	}
	say "$3 consents granted (s-0 .. s-$(($3 - 1)))"
}

# token_bodies PREFIX N [STEP]: POST /oauth2/token bodies, one per line, in
# which ird asks for the three fields of bench-transfer (purpose
# "benchmark") about subjects PREFIX0, PREFIX(STEP), ... (N of them; STEP
# defaults to 1), in a fixed shuffled order: loadgen sends the lines in
# turn, and in real traffic neighbouring requests are not about
# neighbouring citizens (whose transfer-list records share a page).
token_bodies() {
	tb_d=$(jq -rn '[{type: "consented_transfer", agreement: "bench-transfer",
	    subject: "SUBJ", fields: ["child.given_names", "child.family_name",
	    "child.birth_date"], purpose: "benchmark"}] | tojson | @uri')
	awk -v p="$1" -v n="$2" -v step="${3:-1}" -v d="$tb_d" 'BEGIN {
		srand(1)
		for (i = 0; i < n; i++)
			o[i] = i
		for (i = n - 1; i > 0; i--) {
			j = int(rand() * (i + 1))
			t = o[i]; o[i] = o[j]; o[j] = t
		}
		for (i = 0; i < n; i++) {
			s = d
			sub(/SUBJ/, p (o[i] * step), s)
			print "grant_type=client_credentials&authorization_details=" s
		}
	}'
}

# ---- results ------------------------------------------------------------------

# ticks PID: CPU time (ticks) the process used so far; psi: the machine's
# CPU pressure so far (PSI "some" total, microseconds; 0 when the kernel
# has no PSI).
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
psi() { sed -n 's/^some .*total=\([0-9]*\)$/\1/p' /proc/pressure/cpu 2>/dev/null || echo 0; }
HZ=$(getconf CLK_TCK)

# lg_run PID FALLBACK LOADGEN-ARGS...: one run of $LG, timed against the
# server process PID's CPU time and the machine's CPU pressure. Sets lg_out
# to its JSON line (FALLBACK when it printed none with "rps"), lg_cores to
# the server's CPU use over the run in cores, lg_cpu_s to the same in
# seconds and lg_psi to the CPU pressure (%); status 1 if loadgen failed.
lg_run() {
	lr_pid=$1 lr_fb=$2
	shift 2
	lr_t0=$(ticks "$lr_pid") lr_p0=$(psi) lr_w0=$(date +%s.%N)
	lr_st=0
	# shellcheck disable=SC2086
	lg_out=$($LG "$@") || lr_st=1
	echo "$lg_out" | jq -e .rps >/dev/null 2>&1 || lg_out=$lr_fb
	lr_t1=$(ticks "$lr_pid") lr_p1=$(psi) lr_w1=$(date +%s.%N)
	lg_cores=$(echo "$lr_t0 $lr_t1 $lr_w0 $lr_w1 $HZ" |
	    awk '{printf "%.3f", ($2 - $1) / $5 / ($4 - $3)}')
	lg_psi=$(echo "$lr_p0 $lr_p1 $lr_w0 $lr_w1" |
	    awk '{printf "%.1f", ($2 - $1) / 1e4 / ($4 - $3)}')
	lg_cpu_s=$(echo "$lr_t0 $lr_t1 $HZ" | awk '{printf "%.2f", ($2 - $1) / $3}')
	return $lr_st
}

# lg_record FORMAT BEFORE AFTER [JQ-ARGS...]: appends lg_run's line to $RES
# with the objects BEFORE, {server_cores, cpu_pressure_pct} and AFTER added
# in that order (jq expressions, with JQ-ARGS), and prints it on stderr as
# the jq string FORMAT.
lg_record() {
	lc_f=$1 lc_b=$2 lc_a=$3
	shift 3
	echo "$lg_out" | jq -c "$@" --argjson cores "$lg_cores" \
	    --argjson psi "$lg_psi" \
	    ". + $lc_b + {server_cores: \$cores, cpu_pressure_pct: \$psi} + $lc_a" |
	    tee -a "$RES" | jq -r "$lc_f" >&2
}

# results_jq PROGRAM [JQ-ARGS...]: PROGRAM over the array of the runs in
# $RES, with med defined: the median of the rounds, the middle of the
# sorted values (the upper middle of an even count, as plot.py's
# median_run), so one of the measured values.
results_jq() {
	rq_p=$1
	shift
	jq -s "$@" "def med: sort | .[length / 2 | floor]; $rq_p" "$RES"
}
