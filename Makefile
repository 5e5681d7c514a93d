# consent-broker: the one entry point to build, test, run and install.
#
#   make            build everything into $(BUILD)/
#   make run        install missing deps, build, create $(DATA) once, start consentd
#   make test       install missing deps, build, run every test
#   make asan       the whole suite under ASan+UBSan, in $(BUILD)/asan
#   make install    PREFIX=/usr/local DESTDIR=

BUILD   ?= build
PREFIX  ?= /usr/local
DESTDIR ?=
DATA    ?= var/dev
LISTEN  ?= 127.0.0.1:8443
CC      ?= cc
SAN     ?=
VERSION := 0.1.0

PKGS := openssl libevent libevent_openssl libevent_pthreads lmdb jansson libcurl zlib libjwt
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
TEST_LIBS  := $(shell pkg-config --libs cmocka 2>/dev/null)

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wwrite-strings -Wformat=2 -Werror
OPT  := -O2 -g
ifeq ($(SAN),1)
OPT  := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=all
LDSAN := -fsanitize=address,undefined
endif

CPPFLAGS += -D_GNU_SOURCE -I. -Icommon -Ikeys -Iagreements -Ibroker -Iclient
CFLAGS   += -std=c11 $(OPT) $(WARN) -fPIC -fvisibility=hidden $(PKG_CFLAGS) -pthread
LDFLAGS  += $(LDSAN) -pthread

LIB_SRC := $(wildcard common/*.c) $(wildcard keys/*.c) agreements/agreement.c \
	client/merkle.c client/note.c client/logentry.c
BROKER_SRC := $(filter-out broker/consentd.c,$(wildcard broker/*.c))
LC_SRC := $(wildcard client/lc_*.c)
# libconsent carries the shared code it needs; its symbols other than the
# consent_* API are hidden in the shared object.
LIBCONSENT_SRC := $(LC_SRC) common/b64.c common/jsonu.c common/jtok.c \
	common/timeu.c common/fsu.c keys/jws.c keys/jwk.c
UNIT_SRC := $(wildcard tests/unit/test_*.c)
BUNIT_SRC := $(wildcard tests/unit/broker/test_*.c)
INTEG_SRC := $(wildcard tests/integration/test_*.c)
INTEG_LIB_SRC := $(filter-out $(INTEG_SRC),$(wildcard tests/integration/*.c))

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
LIB_OBJ := $(call obj,$(LIB_SRC))
BROKER_OBJ := $(call obj,$(BROKER_SRC))
LC_OBJ := $(call obj,$(LC_SRC))
LIBCONSENT_OBJ := $(call obj,$(LIBCONSENT_SRC))
UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRC)) \
	$(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(BUNIT_SRC))
INTEG_BIN := $(patsubst tests/integration/%.c,$(BUILD)/tests/integration/%,$(INTEG_SRC))

BINS := $(BUILD)/consentd $(BUILD)/consentctl $(BUILD)/demo-provider \
	$(BUILD)/consent-audit
LIBS := $(BUILD)/libconsent.a $(BUILD)/libconsent.so $(BUILD)/libconsent.pc

.PHONY: all run test check asan unit integration install clean deps lint valgrind bench
.SECONDARY:
all: $(BINS) $(LIBS)

deps:
	@sh scripts/deps.sh

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

# libcb.a: shared code (common/, keys/, agreements/); libbroker.a: broker/.
$(BUILD)/libcb.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# The citizen page's static files, embedded in the binary.
WEB_ASSETS := broker/web/site.css
$(BUILD)/gen/web_assets.c: $(WEB_ASSETS) scripts/embed.sh
	@mkdir -p $(dir $@)
	sh scripts/embed.sh $@ $(WEB_ASSETS)

$(BUILD)/obj/gen/web_assets.o: $(BUILD)/gen/web_assets.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/libbroker.a: $(BROKER_OBJ) $(BUILD)/obj/gen/web_assets.o
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/liblc.a: $(LC_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/libconsent.a: $(LIBCONSENT_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/libconsent.so: $(LIBCONSENT_OBJ)
	$(CC) $(LDFLAGS) -shared -Wl,-soname,libconsent.so.0 -o $@ $^ $(PKG_LIBS)

$(BUILD)/libconsent.pc: client/libconsent.pc.in
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' $< > $@

$(BUILD)/consentd: $(call obj,broker/consentd.c) $(BUILD)/libbroker.a $(BUILD)/libcb.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/consentctl: $(call obj,client/consentctl.c) $(call obj,client/ctl_client.c) \
		$(BUILD)/libbroker.a $(BUILD)/liblc.a $(BUILD)/libcb.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# The demo provider uses only the public header and libconsent.a.
$(BUILD)/demo-provider: $(call obj,client/demo_provider.c) $(BUILD)/libconsent.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# test_consent makes jsonu_buf_take fail on purpose (out of memory), and
# test_audit_map the auditor's mappings.
$(BUILD)/tests/unit/broker/test_consent: LDFLAGS += -Wl,--wrap=jsonu_buf_take
$(BUILD)/tests/unit/test_audit_map: LDFLAGS += -Wl,--wrap=mmap,--wrap=mremap

$(BUILD)/tests/unit/broker/%: $(call obj,tests/unit/broker/%.c) \
		$(BUILD)/libbroker.a $(BUILD)/libcb.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(TEST_LIBS)

$(BUILD)/tests/unit/%: $(call obj,tests/unit/%.c) $(BUILD)/liblc.a $(BUILD)/libcb.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(TEST_LIBS)

$(BUILD)/tests/integration/%: $(call obj,tests/integration/%.c) \
		$(call obj,$(INTEG_LIB_SRC)) $(BUILD)/liblc.a $(BUILD)/libcb.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(TEST_LIBS)

unit: $(UNIT_BIN)
	@sh tests/run.sh unit $(UNIT_BIN)

integration: $(BINS) $(INTEG_BIN)
	@CB_BUILD=$(BUILD) sh tests/run.sh integration $(INTEG_BIN)

# Everything, built and run; the summary line is "tests: N passed, N failed".
check: $(BINS) $(UNIT_BIN) $(INTEG_BIN)
	@CB_BUILD=$(BUILD) sh tests/run.sh all $(UNIT_BIN) $(INTEG_BIN)

# Static analysis (cppcheck, clang-tidy; checks in tests/lint/).
lint:
	@sh tests/lint/run.sh

# The unit tests under valgrind memcheck.
valgrind: $(UNIT_BIN)
	@sh tests/valgrind.sh $(UNIT_BIN)

# Everything: unit and integration tests, the citizen page in a browser, the
# attack and crash-durability suites, static analysis, the unit tests under
# valgrind, and every fuzz target for a short run.
CI_FUZZ_SECONDS ?= 30
test: deps
	@$(MAKE) --no-print-directory check
	@$(MAKE) --no-print-directory browser-test
	@$(MAKE) --no-print-directory attacks
	@$(MAKE) --no-print-directory durability
	@$(MAKE) --no-print-directory lint
	@$(MAKE) --no-print-directory valgrind
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(CI_FUZZ_SECONDS)

# The suites again with AddressSanitizer and UndefinedBehaviorSanitizer
# (-fno-sanitize-recover=all: the first report fails the run).
asan: deps
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/asan SAN=1 check
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/asan SAN=1 browser-test
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/asan SAN=1 durability
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/asan SAN=1 attacks

run: deps
	@$(MAKE) --no-print-directory all
	@sh scripts/run-dev.sh $(BUILD) $(DATA) $(LISTEN)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig \
		$(DESTDIR)$(PREFIX)/include \
		$(DESTDIR)$(PREFIX)/share/consent-broker/agreements
	install -m 0755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 $(BUILD)/libconsent.a $(DESTDIR)$(PREFIX)/lib/
	install -m 0755 $(BUILD)/libconsent.so $(DESTDIR)$(PREFIX)/lib/libconsent.so.0
	ln -sf libconsent.so.0 $(DESTDIR)$(PREFIX)/lib/libconsent.so
	install -m 0644 $(BUILD)/libconsent.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/
	install -m 0644 client/consent.h $(DESTDIR)$(PREFIX)/include/
	install -m 0644 agreements/examples/*.json \
		$(DESTDIR)$(PREFIX)/share/consent-broker/agreements/

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# make bench: single-thread verifier throughput against raw OpenSSL ES256
# (BENCH_SECONDS per line, default 2); results also in $(BUILD)/bench.json.
$(BUILD)/bench/bench_verify: $(call obj,bench/bench_verify.c) $(BUILD)/liblc.a \
		$(BUILD)/libcb.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

bench: $(BUILD)/bench/bench_verify $(BUILD)/bench/bench_audit
	$(BUILD)/bench/bench_verify $(BUILD)/bench.json
	$(BUILD)/bench/bench_audit $(BUILD)/bench.json
	@$(MAKE) --no-print-directory bench-revocation
	@$(MAKE) --no-print-directory bench-issue

# consent-audit: the auditor's tool (docs/audit-log.md).
$(BUILD)/consent-audit: $(call obj,client/audit.c) $(BUILD)/libcb.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# make browser-test: the citizen web page in Debian's headless chromium
# (tests/browser, playwright-core and axe-core from its package-lock.json,
# installed by scripts/deps.sh); screenshots go to $(BUILD)/test-artifacts/.
# The summary is node's "# pass N" / "# fail N".
.PHONY: browser-test
browser-test: $(BUILD)/consentd $(BUILD)/consentctl
	@sh scripts/deps.sh
	@mkdir -p $(BUILD)/test-artifacts
	cd tests/browser && CB_BUILD=$(abspath $(BUILD)) \
		CB_ARTIFACTS=$(abspath $(BUILD))/test-artifacts \
		node --test --test-concurrency=1 --test-timeout=90000

# bench_audit: SHA-256 baseline, tlog appends, consent-audit's verification.
$(BUILD)/bench/bench_audit: $(call obj,bench/bench_audit.c) $(BUILD)/libbroker.a \
		$(BUILD)/libcb.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# make bench-revocation: time from a consent's revocation to a libconsent
# verifier's rejection, against a consentd the bench starts itself
# (BENCH_STATUS_TTL seconds, default 2; BENCH_RUNS, default 5), and the
# zlib size of a one-million-entry status list; results are appended to
# $(BUILD)/bench.json when it exists (run make bench first).
$(BUILD)/bench/bench_revocation: $(call obj,bench/bench_revocation.c) \
		$(BUILD)/liblc.a $(BUILD)/libcb.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

.PHONY: bench-revocation
bench-revocation: $(BUILD)/bench/bench_revocation $(BUILD)/consentd \
		$(BUILD)/consentctl
	CB_BUILD=$(BUILD) $(BUILD)/bench/bench_revocation $(BUILD)/bench.json

# make bench-issue: the issuance harness (bench/bench_issue.sh): consentd
# against the floor server (bench/floor.c: our HTTP stack signing one fixed
# token) under bench/loadgen.c, consent grants/s and revokes/s, raw crypto
# rates; table on stdout, merged into $(BUILD)/bench.json, plot in
# $(BUILD)/bench-plot.svg and docs/img/performance.svg (docs/performance.md).
# About 3 minutes.
# BENCH_STORE=tmpfs: a diagnostic with consentd's store on /dev/shm (not
# durable), written to $(BUILD)/bench-tmpfs.json instead.
BENCH_TOOLS := $(BUILD)/bench/floor $(BUILD)/bench/loadgen
$(BUILD)/bench/floor: $(call obj,bench/floor.c) $(BUILD)/libcb.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/bench/loadgen: $(call obj,bench/loadgen.c) $(BUILD)/libcb.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

# make bench-scale: issuance on an empty store against one bulk-loaded
# (bench/bulkload.c) with BENCH_SCALE_CONSENTS consents and
# BENCH_SCALE_ENTRIES log entries (default 1,000,000 and 10,000,000),
# consentd's memory, and its cost per idle connection (bench/bench_scale.sh;
# docs/performance.md, "Scale"); table on stdout, $(BUILD)/bench-scale.json.
$(BUILD)/bench/bulkload: $(call obj,bench/bulkload.c) $(BUILD)/libbroker.a \
		$(BUILD)/libcb.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# The integration test of the loader runs it (order-only: not linked in).
$(BUILD)/tests/integration/test_bulkload: | $(BUILD)/bench/bulkload

.PHONY: bench-scale
bench-scale: $(BUILD)/consentd $(BUILD)/consentctl $(BUILD)/consent-audit \
		$(BUILD)/bench/loadgen $(BUILD)/bench/bulkload
	@CB_BUILD=$(BUILD) sh bench/bench_scale.sh

.PHONY: bench-issue
bench-issue: $(BUILD)/consentd $(BUILD)/consentctl $(BENCH_TOOLS)
	@CB_BUILD=$(BUILD) sh bench/bench_issue.sh

# make durability: consentd killed with SIGKILL at random moments under
# mixed load (DURABILITY_KILLS, default 20) and a store filled to its map
# size; every acknowledged write must survive (tests/durability). Audit-log
# checks use $(BUILD)/consent-audit, built here when it builds, else skipped.
DUR_BIN := $(BUILD)/tests/durability/test_crash
$(BUILD)/tests/durability/%: $(call obj,tests/durability/%.c) \
		$(call obj,$(INTEG_LIB_SRC)) $(BUILD)/liblc.a $(BUILD)/libcb.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(TEST_LIBS)

.PHONY: durability
durability: $(BINS) $(DUR_BIN)
	@$(MAKE) --no-print-directory $(BUILD)/consent-audit >/dev/null 2>&1 || \
		echo "durability: $(BUILD)/consent-audit does not build yet;" \
		"its checks will be skipped"
	@CB_BUILD=$(BUILD) sh tests/run.sh durability $(DUR_BIN)

# make attacks: the attack suite (tests/attacks; docs/security.md, "Attack
# suite"): forged and mangled tokens against libconsent and introspection,
# refused client certificates, authorization across parties and citizens,
# hostile HTTP (oversize, slow and many connections, bad chunking, path
# traversal). Each file starts its own consentd on 127.0.0.1.
ATTACK_SRC := $(wildcard tests/attacks/test_*.c)
ATTACK_LIB_SRC := $(filter-out $(ATTACK_SRC),$(wildcard tests/attacks/*.c))
ATTACK_BIN := $(patsubst tests/attacks/%.c,$(BUILD)/tests/attacks/%,$(ATTACK_SRC))
$(BUILD)/tests/attacks/%: $(call obj,tests/attacks/%.c) \
		$(call obj,$(ATTACK_LIB_SRC)) $(call obj,$(INTEG_LIB_SRC)) \
		$(BUILD)/liblc.a $(BUILD)/libcb.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(TEST_LIBS)

.PHONY: attacks
attacks: $(BUILD)/consentd $(BUILD)/consentctl $(ATTACK_BIN)
	@CB_BUILD=$(BUILD) sh tests/run.sh attacks $(ATTACK_BIN)

# make fuzz: libFuzzer targets for the parsers of untrusted input
# (tests/fuzz; docs/security.md, "Fuzzing"). The libraries are rebuilt
# with clang, ASan+UBSan and coverage (-fsanitize=fuzzer-no-link, passed
# in CC because CFLAGS is set above) into $(FUZZ_DIR); each target runs
# FUZZ_SECONDS (default 30) from tests/fuzz/corpus/<target>/, writes new
# inputs to $(FUZZ_DIR)/corpus/ and crashes to $(FUZZ_DIR)/artifacts/, and
# the run fails when any target crashes.
FUZZ_DIR ?= $(BUILD)/fuzz
FUZZ_SECONDS ?= 30
FUZZ_CC ?= clang
FUZZ_NAMES := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(patsubst %,$(FUZZ_DIR)/bin/%,$(FUZZ_NAMES))
FUZZ_LIBS := $(FUZZ_DIR)/libbroker.a $(FUZZ_DIR)/liblc.a $(FUZZ_DIR)/libcb.a
# fuzz_verifier runs on the seeds' clock (see the file).
FUZZ_LDFLAGS_verifier := -Wl,--wrap=timeu_now

$(FUZZ_DIR)/bin/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h \
		tests/fuzz/fixtures.h $(FUZZ_LIBS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) -Itests/fuzz -std=c11 -O1 -g \
		-fno-omit-frame-pointer $(WARN) $(PKG_CFLAGS) -pthread \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-o $@ $< $(FUZZ_LIBS) $(PKG_LIBS) $(FUZZ_LDFLAGS_$*)

.PHONY: fuzz
fuzz:
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_DIR) FUZZ_DIR=$(FUZZ_DIR) \
		SAN=1 CC="$(FUZZ_CC) -fsanitize=fuzzer-no-link" $(FUZZ_BINS)
	@sh tests/fuzz/run.sh $(FUZZ_DIR) $(FUZZ_SECONDS) $(FUZZ_NAMES)

# make soak: consentd under a mixed open-loop load (token requests, consent
# grants, grant+revoke pairs) at half its measured closed-loop token peak
# for SOAK_SECONDS (default 600; not in CI), sampling its VmRSS and open
# descriptors every 10 s (bench/soak.sh; docs/security.md, "Load soak").
# Fails on RSS growth over 10 % after the warm-up (RssAnon; VmRSS, which
# also counts the growing store's mapped pages, with SOAK_RSS_METRIC=vm),
# descriptor growth beyond noise, or any error; table on stdout,
# $(BUILD)/soak.json, consentd's log second by second in
# $(BUILD)/soak-timeline.tsv (and whole, on a failure, in
# $(BUILD)/soak-consentd.log.gz).
SOAK_SECONDS ?= 600
.PHONY: soak
soak: $(BUILD)/consentd $(BUILD)/consentctl $(BUILD)/bench/loadgen
	@CB_BUILD=$(BUILD) SOAK_SECONDS=$(SOAK_SECONDS) sh bench/soak.sh
