#!/bin/sh
# Runs each libFuzzer target for a while from its committed seed corpus
# and prints per target its executions, exec/s and coverage.
#
#   sh tests/fuzz/run.sh DIR SECONDS TARGET...
#
# DIR is the fuzz build directory: DIR/bin/<target> are the binaries; new
# corpus entries go to DIR/corpus/<target> (never into tests/fuzz/corpus),
# crash inputs and logs to DIR/artifacts/<target>/. Exits non-zero when a
# target crashed (or failed to start).
set -u

dir=$1
secs=$2
shift 2

# Longest input per target: enough for the biggest seed and the format's
# own bound, small enough to keep executions fast.
max_len() {
	case $1 in
	fuzz_agreement) echo 16384 ;;  # AGR_MAX_DOC_BYTES is 65536
	fuzz_jws) echo 4096 ;;
	fuzz_verifier) echo 4096 ;;
	fuzz_tokreq) echo 8192 ;;
	fuzz_citizen) echo 4096 ;;
	fuzz_log) echo 9000 ;;         # NOTE_MAX 8192, LE_MAX 4096
	fuzz_status) echo 16384 ;;
	fuzz_http) echo 8192 ;;
	*) echo 4096 ;;
	esac
}

# Dictionary per target (tests/fuzz/*.dict).
dict_of() {
	case $1 in
	fuzz_agreement) echo agreement ;;
	fuzz_jws|fuzz_verifier|fuzz_citizen) echo jwt ;;
	fuzz_tokreq|fuzz_http) echo http ;;
	fuzz_log) echo log ;;
	esac
}

failed=0
printf '%-16s %12s %10s %8s %8s  %s\n' target executions exec/s cov ft result
for t in "$@"; do
	bin=$dir/bin/$t
	corpus=$dir/corpus/$t
	art=$dir/artifacts/$t
	log=$art/fuzz.log
	mkdir -p "$corpus" "$art"
	dict=
	d=$(dict_of "$t")
	[ -n "$d" ] && dict="-dict=tests/fuzz/$d.dict"
	# shellcheck disable=SC2086
	"$bin" -max_total_time="$secs" -rss_limit_mb=1024 -malloc_limit_mb=1024 \
		-timeout=10 -max_len="$(max_len "$t")" -print_final_stats=1 \
		-artifact_prefix="$art/" $dict \
		"$corpus" "tests/fuzz/corpus/$t" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	# Coverage from libFuzzer's last status line ("#N ... cov: C ft: F").
	cov=$(grep -E '^#[0-9]+.* cov: ' "$log" | tail -n 1 |
		sed -n 's/.* cov: \([0-9]*\).*/\1/p')
	ft=$(grep -E '^#[0-9]+.* ft: ' "$log" | tail -n 1 |
		sed -n 's/.* ft: \([0-9]*\).*/\1/p')
	if [ "$rc" -eq 0 ]; then
		result=ok
	else
		result="CRASH (exit $rc; see $log)"
		failed=1
	fi
	printf '%-16s %12s %10s %8s %8s  %s\n' "$t" "${execs:-?}" "${rate:-?}" \
		"${cov:-?}" "${ft:-?}" "$result"
done
[ "$failed" -eq 0 ] || { echo "fuzz: a target crashed" >&2; exit 1; }
