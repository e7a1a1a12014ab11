# ringmx - one GNU Makefile for the daemon, the tools, the tests and the
# benchmarks. `make help` lists the targets.

PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
PKGS    := liburing lmdb libconfig wolfssl libunbound libsodium json-c \
	libseccomp
VERSION := 0.1.0

# One package at a time: libunbound.pc requires libevent.pc, which
# Debian does not install with it; a failing query must not lose the rest.
PKG_CFLAGS := $(foreach p,$(PKGS),$(shell pkg-config --cflags $(p) 2>/dev/null))
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wpointer-arith -Wformat=2 -Wvla -Wundef \
	-Wimplicit-fallthrough -Wnull-dereference
BASE_CFLAGS := -std=c17 -D_GNU_SOURCE -g $(WARN) -fno-common -pthread \
	-Icore -Istorage -Idns -Iinclude -DRINGMX_VERSION=\"$(VERSION)\" \
	-DRINGMX_PLUGIN_DIR=\"$(PREFIX)/lib/ringmx/plugins\" \
	$(PKG_CFLAGS)
HARDEN := -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE
REL_CFLAGS := $(BASE_CFLAGS) -O2 $(HARDEN) $(CFLAGS)
REL_LDFLAGS := -pie -Wl,-z,relro,-z,now -pthread $(LDFLAGS)
SAN := -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
SAN_CFLAGS := $(BASE_CFLAGS) -O1 $(SAN) -DRINGMX_TESTING=1
SAN_LDFLAGS := $(SAN) -pthread
LIBS := $(PKG_LIBS) -ldl -lm
# Unit tests and fuzz replays compile plugin sources in.
TEST_LIBS := -Wl,--as-needed $(LIBS) -lldns -lpsl

LIB_SRCS := $(sort $(filter-out core/main.c,$(wildcard core/*.c storage/*.c dns/*.c)))
MAIN_SRC := core/main.c
HDRS := $(wildcard core/*.h storage/*.h dns/*.h include/ringmx/*.h)
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
TOOL_SRCS := $(sort $(wildcard tools/*.c))

B  := build
BS := build/asan

# Plugins: one folder and one .so each; plugins/common/ is a static
# library of code several plugins share (linked where used).
PLUGIN_NAMES := $(sort $(filter-out common,$(notdir $(patsubst %/,%,$(dir $(wildcard plugins/*/*.c))))))
COMMON_SRCS := $(wildcard plugins/common/*.c)
# Plugins link only what they use (--as-needed): ldns parses DNS answers
# (plugins/common/dns_answer.c), libpsl finds organisational domains.
PLUGIN_LIBS := -Wl,--as-needed $(shell pkg-config --libs libsodium wolfssl 2>/dev/null) \
	-lldns -lpsl
PLUGIN_CFLAGS := -fPIC -fvisibility=hidden -Iplugins/common
PLUGIN_LDFLAGS := -shared -Wl,-z,defs
PLUGINS_REL := $(PLUGIN_NAMES:%=$(B)/plugins/%.so)
PLUGINS_SAN := $(PLUGIN_NAMES:%=$(BS)/plugins/%.so)

SPFCHECK_REL := $(if $(wildcard tools/ringmx-spfcheck.c),$(B)/ringmx-spfcheck)
SPFCHECK_SAN := $(if $(wildcard tools/ringmx-spfcheck.c),$(BS)/ringmx-spfcheck)
REL_OBJS := $(LIB_SRCS:%.c=$(B)/obj/%.o)
SAN_OBJS := $(LIB_SRCS:%.c=$(BS)/obj/%.o)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BS)/tests/%)
REPLAY_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(BS)/replay/%)

.PHONY: all run test test-unit test-integration lint fuzz bench install \
	deps test-deps clean help check-config
all: $(B)/ringmx $(B)/ringmx-passwd $(B)/ringmx-dnscheck $(B)/ringmxctl $(SPFCHECK_REL) \
	$(PLUGINS_REL)

help:
	@echo "make            build ./build/ringmx (release, hardened)"
	@echo "make run        install build deps, build, run in the foreground"
	@echo "make test       install test deps, ASan+UBSan build, all tests"
	@echo "make lint       clang-format check + cppcheck"
	@echo "make fuzz       run every libFuzzer target (FUZZ_SECONDS=60)"
	@echo "make bench      benchmarks side by side with Postfix"
	@echo "make install    install (PREFIX=$(PREFIX) DESTDIR=$(DESTDIR))"

deps:
	@tools/install-deps.sh --build

test-deps:
	@tools/install-deps.sh --test

$(B)/obj/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(REL_CFLAGS) -c $< -o $@

$(BS)/obj/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(SAN_CFLAGS) -c $< -o $@

.SECONDEXPANSION:
$(B)/plugins/%.so: $$(wildcard plugins/%/*.c plugins/%/*.h) $(COMMON_SRCS) \
		include/ringmx/plugin.h
	@mkdir -p $(dir $@)
	$(CC) $(REL_CFLAGS) $(PLUGIN_CFLAGS) $(PLUGIN_LDFLAGS) -o $@ \
		$(filter plugins/$*/%.c,$^) $(COMMON_SRCS) $(PLUGIN_LIBS)

$(BS)/plugins/%.so: $$(wildcard plugins/%/*.c plugins/%/*.h) $(COMMON_SRCS) \
		include/ringmx/plugin.h
	@mkdir -p $(dir $@)
	$(CC) $(SAN_CFLAGS) $(PLUGIN_CFLAGS) $(PLUGIN_LDFLAGS) $(SAN) -o $@ \
		$(filter plugins/$*/%.c,$^) $(COMMON_SRCS) $(PLUGIN_LIBS)

$(B)/ringmx: $(B)/obj/core/main.o $(REL_OBJS)
	$(CC) $(REL_LDFLAGS) -o $@ $^ $(LIBS)

$(B)/ringmx-passwd: tools/ringmx-passwd.c
	@mkdir -p $(dir $@)
	$(CC) $(REL_CFLAGS) $(REL_LDFLAGS) -o $@ $< -lsodium

# ringmx-dnscheck: MX resolution exactly as a worker does it (operators'
# and tests' tool); links the daemon's library objects.
$(B)/ringmx-dnscheck: tools/ringmx-dnscheck.c $(REL_OBJS)
	$(CC) $(REL_CFLAGS) $(REL_LDFLAGS) -o $@ $< $(REL_OBJS) $(LIBS)

# ringmxctl: the control socket's client (config.c for -c CONFIG).
$(B)/ringmxctl: tools/ringmxctl.c $(REL_OBJS)
	$(CC) $(REL_CFLAGS) $(REL_LDFLAGS) -o $@ $< $(REL_OBJS) $(LIBS)

$(BS)/ringmx-dnscheck: tools/ringmx-dnscheck.c $(SAN_OBJS)
	$(CC) $(SAN_CFLAGS) -o $@ $< $(SAN_OBJS) $(SAN_LDFLAGS) $(LIBS)

# ringmx-spfcheck: the spf plugin's evaluator (plugins/spf/spf_*.c) over
# libunbound, for operators and for the RFC 7208 test suite.
SPF_SRCS = $(wildcard plugins/spf/spf_*.c) plugins/common/dns_answer.c
SPF_HDRS = $(wildcard plugins/spf/*.h) plugins/common/dns_answer.h
$(B)/ringmx-spfcheck: tools/ringmx-spfcheck.c $$(SPF_SRCS) $$(SPF_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(REL_CFLAGS) -Iplugins/common -Iplugins/spf $(REL_LDFLAGS) \
		-o $@ $< $(SPF_SRCS) -lunbound -lldns

$(BS)/ringmx-spfcheck: tools/ringmx-spfcheck.c $$(SPF_SRCS) $$(SPF_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(SAN_CFLAGS) -Iplugins/common -Iplugins/spf -o $@ $< \
		$(SPF_SRCS) $(SAN_LDFLAGS) -lunbound -lldns

$(BS)/ringmx: $(BS)/obj/core/main.o $(SAN_OBJS)
	$(CC) $(SAN_LDFLAGS) -o $@ $^ $(LIBS)

# ABI test plugins, built against the FROZEN 1.0 header in tests/abi/.
ABI_SOS := $(BS)/abi/abi_v1_0.so $(BS)/abi/abi_pending.so \
	$(BS)/abi/bad_major.so \
	$(BS)/abi/bad_nosym.so $(BS)/abi/bad_refuse.so $(BS)/abi/bad_init.so \
	$(BS)/abi/bad_required.so
ABI_CC = $(CC) -std=c17 -Wall -Wextra -Werror -fPIC -shared \
	-fvisibility=hidden -Wl,-z,defs -Itests/abi
$(BS)/abi/abi_%.so: tests/abi/abi_%.c tests/abi/plugin-1.0.h
	@mkdir -p $(dir $@)
	$(ABI_CC) -o $@ $<
$(BS)/abi/bad_%.so: tests/abi/abi_bad.c tests/abi/plugin-1.0.h
	@mkdir -p $(dir $@)
	$(ABI_CC) -DBAD_$(shell echo $* | tr a-z A-Z) -o $@ $<

# Built through pattern rules: never delete them as intermediates.
.SECONDARY: $(ABI_SOS) $(PLUGINS_SAN) $(PLUGINS_REL)

SUPPORT_SRCS := $(wildcard tests/support/*.c)
$(BS)/tests/%: tests/unit/%.c $(SAN_OBJS) $(HDRS) $(SUPPORT_SRCS) \
		$(PLUGINS_SAN) $(ABI_SOS)
	@mkdir -p $(dir $@)
	$(CC) $(SAN_CFLAGS) -Itests/support -Iplugins/common \
		-Wno-missing-prototypes -o $@ $< $(SUPPORT_SRCS) $(SAN_OBJS) \
		$(SAN_LDFLAGS) $(TEST_LIBS) -lcmocka

# Fuzz targets linked with a plain replay driver, run over the corpus.
$(BS)/replay/%: tests/fuzz/%.c tests/fuzz/replay_main.c $(SAN_OBJS) $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(SAN_CFLAGS) -Iplugins/common -Wno-missing-prototypes -o $@ $< \
		tests/fuzz/replay_main.c $(SAN_OBJS) $(SAN_LDFLAGS) $(TEST_LIBS)

# Dependencies first, then a fresh make that sees them (pkg-config).
run: deps
	@$(MAKE) --no-print-directory $(B)/ringmx
	exec ./$(B)/ringmx

test: test-deps
	@$(MAKE) --no-print-directory test-build
	@tests/run-all.sh

test-build: $(BS)/ringmx $(UNIT_BINS) $(REPLAY_BINS) $(B)/ringmx \
	$(B)/ringmx-passwd $(B)/ringmxctl $(BS)/ringmx-dnscheck $(SPFCHECK_SAN) $(ABI_SOS) \
	$(PLUGINS_SAN) $(PLUGINS_REL)

test-unit: $(UNIT_BINS) $(REPLAY_BINS)
	@tests/run-all.sh unit

test-integration: $(BS)/ringmx
	@tests/run-all.sh integration

# libFuzzer builds need clang.
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS := $(BASE_CFLAGS) -O1 -fsanitize=fuzzer,address,undefined \
	-fno-omit-frame-pointer -DRINGMX_TESTING=1 -Wno-missing-prototypes
fuzz:
	@mkdir -p $(B)/fuzz
	@for f in $(FUZZ_SRCS); do \
		n=$$(basename $$f .c); \
		clang $(FUZZ_CFLAGS) -Iplugins/common -o $(B)/fuzz/$$n $$f \
			$(LIB_SRCS) $(TEST_LIBS) \
			|| exit 1; \
		mkdir -p tests/fuzz/corpus/$$n; \
		echo "== $$n ($(FUZZ_SECONDS)s)"; \
		$(B)/fuzz/$$n -max_total_time=$(FUZZ_SECONDS) \
			-artifact_prefix=tests/fuzz/crash- \
			tests/fuzz/corpus/$$n || exit 1; \
	done

# Benchmark tools (bench/README.md): SMTP load generator, discarding sink,
# wolfSSL's in-memory handshake rate.
BENCH_TOOLS := $(B)/bench/ringmx-load $(B)/bench/ringmx-sink \
	$(B)/bench/tls-handshake $(B)/bench/queue-list
# queue inspection benchmark: links the storage library objects only
$(B)/bench/queue-list: bench/queue-list.c \
		$(filter $(B)/obj/storage/%,$(REL_OBJS)) $(B)/obj/core/buf.o \
		$(B)/obj/core/log.o
	@mkdir -p $(dir $@)
	$(CC) $(REL_CFLAGS) $(REL_LDFLAGS) -o $@ $^ -llmdb
$(B)/bench/%: bench/%.c
	@mkdir -p $(dir $@)
	$(CC) $(REL_CFLAGS) $(REL_LDFLAGS) -o $@ $< -luring -lwolfssl -lm
.PHONY: bench-tools bench-all
bench-tools: $(BENCH_TOOLS)

bench: all $(BENCH_TOOLS)
	@tools/install-deps.sh --bench
	@bench/load-selftest.sh
	@bench/suite.sh
	@bench/idle.sh
	@bench/scaling.sh
	@bench/tls.sh

# The other benchmark scripts (each prints its own table; see
# docs/performance.md).
bench-all: bench
	@bench/plugins.sh
	@bench/auth.sh
	@bench/queue-list.sh
	@bench/ctl-load.sh

FMT_SRCS = $(shell git ls-files '*.c' '*.h' 2>/dev/null || \
	find core storage dns plugins tools tests bench include -name '*.[ch]')
lint:
	clang-format --dry-run --Werror $(FMT_SRCS)
	cppcheck --std=c11 --enable=warning,performance,portability \
		--inline-suppr --error-exitcode=1 --quiet \
		-D_GNU_SOURCE -Icore -Istorage -Idns -Iinclude \
		--suppress=missingIncludeSystem \
		-Iplugins/common core storage dns tools plugins bench

install: $(B)/ringmx $(B)/ringmx-passwd $(B)/ringmx-dnscheck $(B)/ringmxctl \
	$(SPFCHECK_REL) $(PLUGINS_REL)
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/doc/ringmx \
		$(DESTDIR)$(PREFIX)/include/ringmx \
		$(DESTDIR)$(PREFIX)/lib/pkgconfig \
		$(DESTDIR)$(PREFIX)/lib/ringmx/plugins
	install -m 0755 $(B)/ringmx $(DESTDIR)$(PREFIX)/sbin/ringmx
	install -m 0755 $(B)/ringmx-passwd $(B)/ringmx-dnscheck $(B)/ringmxctl \
		$(SPFCHECK_REL) $(DESTDIR)$(PREFIX)/sbin/
	install -m 0644 include/ringmx/plugin.h \
		$(DESTDIR)$(PREFIX)/include/ringmx/
	printf 'prefix=%s\nincludedir=$${prefix}/include\n\nName: ringmx\nDescription: ringmx plugin ABI\nVersion: %s\nCflags: -I$${includedir}\n' \
		'$(PREFIX)' '$(VERSION)' > $(DESTDIR)$(PREFIX)/lib/pkgconfig/ringmx.pc
	for p in $(PLUGINS_REL); do \
		install -m 0755 $$p $(DESTDIR)$(PREFIX)/lib/ringmx/plugins/; \
	done
	install -m 0644 README.md docs/*.md $(DESTDIR)$(PREFIX)/share/doc/ringmx/
	install -d $(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)$(PREFIX)/share/man/man5
	install -m 0644 docs/man/ringmx.8 docs/man/ringmxctl.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 0644 docs/man/ringmx.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -d $(DESTDIR)$(PREFIX)/lib/systemd/system
	sed 's,/usr/local/,$(PREFIX)/,g' tools/ringmx.service \
		> $(DESTDIR)$(PREFIX)/lib/systemd/system/ringmx.service
	chmod 0644 $(DESTDIR)$(PREFIX)/lib/systemd/system/ringmx.service

clean:
	rm -rf $(B)
