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

PKGS := openssl libevent libevent_openssl libevent_pthreads lmdb jansson libcurl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
TEST_LIBS  := $(shell pkg-config --libs cmocka libjwt 2>/dev/null)

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wwrite-strings -Wformat=2 -Werror
OPT  := -O2 -g
ifeq ($(SAN),1)
OPT  := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=all
LDSAN := -fsanitize=address,undefined
endif

CPPFLAGS += -D_GNU_SOURCE -I. -Icommon -Ikeys -Iagreements -Ibroker
CFLAGS   += -std=c11 $(OPT) $(WARN) -fPIC $(PKG_CFLAGS) -pthread
LDFLAGS  += $(LDSAN) -pthread

LIB_SRC := $(wildcard common/*.c) $(wildcard keys/*.c) agreements/agreement.c
BROKER_SRC := $(filter-out broker/consentd.c,$(wildcard broker/*.c))
UNIT_SRC := $(wildcard tests/unit/test_*.c)
BUNIT_SRC := $(wildcard tests/unit/broker/test_*.c)
INTEG_SRC := $(wildcard tests/integration/test_*.c)
INTEG_LIB_SRC := $(filter-out $(INTEG_SRC),$(wildcard tests/integration/*.c))

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
LIB_OBJ := $(call obj,$(LIB_SRC))
BROKER_OBJ := $(call obj,$(BROKER_SRC))
UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRC)) \
	$(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(BUNIT_SRC))
INTEG_BIN := $(patsubst tests/integration/%.c,$(BUILD)/tests/integration/%,$(INTEG_SRC))

BINS := $(BUILD)/consentd $(BUILD)/consentctl

.PHONY: all run test check asan unit integration install clean deps
.SECONDARY:
all: $(BINS)

deps:
	@sh scripts/deps.sh

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

# libcb.a: shared code (common/, keys/, agreements/); libbroker.a: broker/.
$(BUILD)/libcb.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/libbroker.a: $(BROKER_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/consentd: $(call obj,broker/consentd.c) $(BUILD)/libbroker.a $(BUILD)/libcb.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/consentctl: $(call obj,client/consentctl.c) $(BUILD)/libbroker.a $(BUILD)/libcb.a
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/tests/unit/broker/%: $(call obj,tests/unit/broker/%.c) \
		$(BUILD)/libbroker.a $(BUILD)/libcb.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(TEST_LIBS)

$(BUILD)/tests/unit/%: $(call obj,tests/unit/%.c) $(BUILD)/libcb.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(TEST_LIBS)

$(BUILD)/tests/integration/%: $(call obj,tests/integration/%.c) \
		$(call obj,$(INTEG_LIB_SRC)) $(BUILD)/libcb.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(TEST_LIBS)

unit: $(UNIT_BIN)
	@sh tests/run.sh unit $(UNIT_BIN)

integration: $(BINS) $(INTEG_BIN)
	@CB_BUILD=$(BUILD) sh tests/run.sh integration $(INTEG_BIN)

# Everything, built and run; the summary line is "tests: N passed, N failed".
check: $(BINS) $(UNIT_BIN) $(INTEG_BIN)
	@CB_BUILD=$(BUILD) sh tests/run.sh all $(UNIT_BIN) $(INTEG_BIN)

test: deps
	@$(MAKE) --no-print-directory check

asan: deps
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/asan SAN=1 check

run: deps
	@$(MAKE) --no-print-directory all
	@sh scripts/run-dev.sh $(BUILD) $(DATA) $(LISTEN)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BINS) $(DESTDIR)$(PREFIX)/bin/

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
