# Set-up shared by the benchmark scripts (bench_issue.sh, bench_scale.sh),
# sourced from POSIX sh. The caller defines say() (its messages) and sets
# START_TIMEOUT (seconds for a server to say it listens); bench_agreement
# uses the caller's $CURL (curl with the data dir's CA).

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

# bench_agreement URL PKI DIR: the registrar submits "bench-transfer" (an
# agreement that requires consent but has no daily limit; the agreement
# file goes to DIR), dia and ird approve it; prints its hash.
bench_agreement() {
	cat >"$3/agreement.json" <<'EOF'
{"id": "bench-transfer", "version": 1, "title": "Benchmark transfer",
 "description": "Benchmark only: consent required, no daily limit.",
 "provider": "dia", "recipients": ["ird"], "purposes": ["benchmark"],
 "fields": [
  {"name": "child.given_names", "description": "Given names."},
  {"name": "child.family_name", "description": "Family name."},
  {"name": "child.birth_date", "description": "Date of birth."}],
 "legal_basis": {"type": "consent"}, "consent": {"required": true},
 "token_ttl_seconds": 300, "retention": {"days": 1, "disposal": "delete"},
 "onward_sharing": {"allowed": false}}
EOF
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

# token_bodies PREFIX N [STEP]: POST /oauth2/token bodies, one per line, in
# which ird asks for the three fields of bench-transfer (purpose
# "benchmark") about subjects PREFIX0, PREFIX(STEP), ... (N of them; STEP
# defaults to 1).
token_bodies() {
	tb_d=$(jq -rn '[{type: "consented_transfer", agreement: "bench-transfer",
	    subject: "SUBJ", fields: ["child.given_names", "child.family_name",
	    "child.birth_date"], purpose: "benchmark"}] | tojson | @uri')
	awk -v p="$1" -v n="$2" -v step="${3:-1}" -v d="$tb_d" 'BEGIN {
		for (i = 0; i < n; i++) {
			s = d
			sub(/SUBJ/, p (i * step), s)
			print "grant_type=client_credentials&authorization_details=" s
		}
	}'
}
