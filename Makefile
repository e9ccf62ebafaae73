# Makefile - builds mailsift into build/, runs its tests, installs it.
#
#   make            build everything (build/mailsift, build/libmailsift.a)
#   make deps       install missing Debian packages (root, noninteractive)
#   make check      deps + build + every test (unit, ASan/UBSan, fuzz, CLI)
#   make run        deps + build + show the system working (see README.md)
#   make bench-index  import speed and index size against notmuch
#   make bench-milter SMTP throughput: no milter, clamav-milter, ours
#   make bench-pipeline  SMTP to searchable: rate, delay, spool backlog
#   make bench-imap   our FTS backend vs dovecot-fts-xapian vs no FTS
#   make bench-scale  one archive over 1, 2, 4 xapian-tcpsrv hosts (N=1000000)
#   make bench-compliance  export (mbox, eml), export --verify, expire --dry-run
#   make fuzz       run the MIME fuzzer for longer (FUZZ_SECONDS)
#   make web-tests  the web console: access rules, hostile mail, headless Chromium, TLS
#   make bench-web  the console: 50 sessions searching for 60 s, p50/p95 latency
#   make valgrind-milter / valgrind-imap  the milter suite / the IMAP backend
#                   (doveadm index, lookups, expunge, rescan, optimize) under valgrind
#   make install    PREFIX=/usr/local DESTDIR= (SYSTEMD_UNITDIR, DOVECOT_MODULEDIR)
#   make deb        Debian packages into $(BUILD)/deb (dpkg-buildpackage, debian/)
#   make deb-tests  build, install, run and purge the packages (tests/deb)
#   make format     clang-format every source file in place
#   make man        man/plugin.conf.5 from plugin.conf; every page checked for warnings
#   V=1             show the full compiler command lines

PREFIX  ?= /usr/local
DESTDIR ?=
SYSTEMD_UNITDIR   ?= $(PREFIX)/lib/systemd/system
DOVECOT_MODULEDIR ?= $(PREFIX)/lib/dovecot/modules
BUILD   ?= build
FUZZ_SECONDS ?= 300
V       ?= 0
Q       := $(if $(filter 1,$(V)),,@)

PKGS    := gmime-3.0 libxml-2.0 openssl zlib libsystemd
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null)
XAPIAN_CXXFLAGS = $(shell xapian-config --cxxflags 2>/dev/null)
XAPIAN_LIBS     = $(shell xapian-config --libs 2>/dev/null)

WARN     := -Wall -Wextra -Werror
CFLAGS   ?= -O2 -g
CXXFLAGS ?= -O2 -g
ALL_CFLAGS   = -std=c11 -D_GNU_SOURCE $(WARN) -fvisibility=hidden -Iindexer/lib -Iplugin $(PKG_CFLAGS) $(CPPFLAGS) $(CFLAGS)
ALL_CXXFLAGS = -std=c++17 -D_GNU_SOURCE $(WARN) -fvisibility=hidden -Iindexer/lib $(PKG_CFLAGS) $(XAPIAN_CXXFLAGS) $(CPPFLAGS) $(CXXFLAGS)
LIBS     = $(PKG_LIBS) $(XAPIAN_LIBS) -lstdc++ -lm -lpthread $(LDFLAGS)

SAN      := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

LIB_C    := $(sort $(wildcard indexer/lib/ms_*.c))
LIB_CXX  := $(sort $(wildcard indexer/lib/ms_*.cc))
CLI_C    := $(sort $(wildcard indexer/cli/cli_*.c))
INDEXD_C := $(sort $(wildcard indexer/indexd/indexd_*.c))
# the web console (libmicrohttpd; passwords hashed by libxcrypt; export zips by libzip)
WEB_C    := $(sort $(wildcard web/web_*.c))
WEB_PKGS := libmicrohttpd libxcrypt libzip
# every daemon serves its Prometheus metrics with libmicrohttpd (ms_metrics_http.c)
METRICS_LIBS = $(shell pkg-config --libs libmicrohttpd 2>/dev/null)
# the attachment text extractor, a program of its own so that hostile documents
# are parsed outside indexd (PDF by poppler-glib, ZIP by libzip, seccomp filter)
EXTRACT_C := $(sort $(wildcard indexer/extract/extract_*.c))
EXTRACT_PKGS := poppler-glib libzip libseccomp
EXTRACT_OBJ := $(EXTRACT_C:%.c=$(BUILD)/obj/%.o)
# the Dovecot plugin: its own sources plus the library parts it uses, all -fPIC
IMAP_C   := $(sort $(wildcard imap-ext/*.c))
IMAP_CXX := $(sort $(wildcard imap-ext/*.cc))
IMAP_LIB := indexer/lib/ms_schema.c indexer/lib/ms_buf.c indexer/lib/ms_status.c \
	indexer/lib/ms_config.c indexer/lib/ms_config_table.c indexer/lib/ms_addr.c \
	indexer/lib/ms_retention.c indexer/lib/ms_query.c indexer/lib/ms_token.c \
	indexer/lib/ms_extract.c indexer/lib/ms_shard.c indexer/lib/ms_remote_addr.c
IMAP_OBJ := $(IMAP_LIB:%.c=$(BUILD)/pic/%.o) $(IMAP_C:%.c=$(BUILD)/pic/%.o) \
	$(IMAP_CXX:%.cc=$(BUILD)/pic/%.o)
DOVECOT_CFLAGS := -I/usr/include/dovecot -include /usr/include/dovecot/config.h \
	-Wno-unused-parameter -Wno-sign-compare
PLUGIN_SO := $(BUILD)/lib21_fts_mailsift_plugin.so
# the plugin's stored message text is LZ4-compressed (fts-mailsift-text.c)
LZ4_LIBS = $(shell pkg-config --libs liblz4 2>/dev/null)
MILTER_MAIN := plugin/milter_main.c
MILTER_C := $(filter-out $(MILTER_MAIN),$(sort $(wildcard plugin/*.c)))
UNIT_C   := $(sort $(wildcard tests/unit/test_*.c))
UNIT_SUPPORT := $(sort $(wildcard tests/unit/support_*.c))
UNITS    := $(patsubst tests/unit/%.c,%,$(UNIT_C))

LIB_OBJ  := $(LIB_C:%.c=$(BUILD)/obj/%.o) $(LIB_CXX:%.cc=$(BUILD)/obj/%.o)
ASAN_OBJ := $(LIB_C:%.c=$(BUILD)/asan/%.o) $(LIB_CXX:%.cc=$(BUILD)/asan/%.o)
CLI_OBJ  := $(CLI_C:%.c=$(BUILD)/obj/%.o)
MILTER_OBJ := $(MILTER_C:%.c=$(BUILD)/obj/%.o)
INDEXD_OBJ := $(INDEXD_C:%.c=$(BUILD)/obj/%.o)
WEB_OBJ  := $(WEB_C:%.c=$(BUILD)/obj/%.o)
MILTER_ASAN_OBJ := $(MILTER_C:%.c=$(BUILD)/asan/%.o)

DEB_PACKAGES := build-essential pkg-config libgmime-3.0-dev libxml2-dev \
	libssl-dev zlib1g-dev liblz4-dev libxapian-dev xapian-tools check libmilter-dev \
	libclang-rt-14-dev clang notmuch valgrind clang-format python3 \
	postfix dovecot-imapd dovecot-lmtpd dovecot-pop3d dovecot-dev \
	clamav-daemon clamav-milter miltertest swaks dovecot-fts-xapian \
	libmicrohttpd-dev libcrypt-dev libzip-dev chromium chromium-driver python3-selenium \
	debhelper lintian libsystemd-dev prometheus man-db mandoc \
	libpoppler-glib-dev libseccomp-dev qpdf python3-docx python3-openpyxl python3-odf \
	python-odf-doc libtasn1-doc

.PHONY: all deps check unit unit-asan fuzz-brief fuzz cli-tests indexd-tests web-tests milter-tests imap-tests format \
	format-check run stop bench-index bench-imap bench-milter bench-pipeline valgrind-milter valgrind-imap install clean

all: $(BUILD)/mailsift $(BUILD)/mailsift-milter $(BUILD)/mailsift-indexd $(PLUGIN_SO) \
	$(BUILD)/mailsift-web $(BUILD)/mailsift-extract

# packages install without starting their servers (prometheus would listen on
# every address): a policy-rc.d that denies starts is put in place if there is none
deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections; \
	  policy=""; if [ ! -e /usr/sbin/policy-rc.d ]; then \
	    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && policy=1; \
	  fi; \
	  apt-get update -q >/dev/null && apt-get install -y -q $$missing >/dev/null; rc=$$?; \
	  [ -z "$$policy" ] || rm -f /usr/sbin/policy-rc.d; \
	  [ $$rc -eq 0 ] || exit 1; \
	fi

# ---- library and programs ----
$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/%.o: %.cc
	@mkdir -p $(dir $@)
	@echo "  CXX     $<"
	$(Q)$(CXX) $(ALL_CXXFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libmailsift.a: $(LIB_OBJ)
	@rm -f $@
	@echo "  AR      $@"
	$(Q)ar rcs $@ $^

$(BUILD)/mailsift: $(CLI_OBJ) $(BUILD)/libmailsift.a
	@echo "  LINK    $@"
	$(Q)$(CC) -o $@ $(CLI_OBJ) $(BUILD)/libmailsift.a $(LIBS) $(METRICS_LIBS)

$(BUILD)/libmsmilter.a: $(MILTER_OBJ)
	@rm -f $@
	@echo "  AR      $@"
	$(Q)ar rcs $@ $^

$(BUILD)/mailsift-milter: $(BUILD)/obj/$(MILTER_MAIN:.c=.o) $(BUILD)/libmsmilter.a $(BUILD)/libmailsift.a
	@echo "  LINK    $@"
	$(Q)$(CC) -o $@ $^ -lmilter $(METRICS_LIBS) $(LIBS)

$(BUILD)/mailsift-indexd: $(INDEXD_OBJ) $(BUILD)/libmailsift.a
	@echo "  LINK    $@"
	$(Q)$(CC) -o $@ $^ $(METRICS_LIBS) $(LIBS)

$(BUILD)/obj/indexer/extract/%.o: indexer/extract/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(ALL_CFLAGS) $(shell pkg-config --cflags $(EXTRACT_PKGS) 2>/dev/null) -MMD -MP -c $< -o $@

# the installed helper's path, for programs that find none beside themselves
$(BUILD)/obj/indexer/lib/ms_extract.o: CFLAGS += -DMS_EXTRACT_LIBEXEC='"$(PREFIX)/lib/mailsift/mailsift-extract"'

$(BUILD)/mailsift-extract: $(EXTRACT_OBJ) $(BUILD)/libmailsift.a
	@echo "  LINK    $@"
	$(Q)$(CC) -Wl,--as-needed -o $@ $^ $(shell pkg-config --libs $(EXTRACT_PKGS) 2>/dev/null) $(LIBS)

$(BUILD)/obj/web/%.o: web/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(ALL_CFLAGS) -Iweb $(shell pkg-config --cflags $(WEB_PKGS) 2>/dev/null) -MMD -MP -c $< -o $@

$(BUILD)/mailsift-web: $(WEB_OBJ) $(BUILD)/libmailsift.a
	@echo "  LINK    $@"
	$(Q)$(CC) -o $@ $^ $(shell pkg-config --libs $(WEB_PKGS) 2>/dev/null) $(LIBS)

$(BUILD)/pic/indexer/%.o: indexer/%.c
	@mkdir -p $(dir $@)
	@echo "  CC/PIC  $<"
	$(Q)$(CC) $(ALL_CFLAGS) -std=gnu11 -fPIC -MMD -MP -c $< -o $@

$(BUILD)/pic/imap-ext/%.o: imap-ext/%.c
	@mkdir -p $(dir $@)
	@echo "  CC/PIC  $<"
	$(Q)$(CC) $(ALL_CFLAGS) -std=gnu11 -fPIC -Iimap-ext $(DOVECOT_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/pic/imap-ext/%.o: imap-ext/%.cc
	@mkdir -p $(dir $@)
	@echo "  CXX/PIC $<"
	$(Q)$(CXX) $(ALL_CXXFLAGS) -fPIC -Iimap-ext -MMD -MP -c $< -o $@

$(PLUGIN_SO): $(IMAP_OBJ)
	@echo "  LINK    $@"
	$(Q)$(CXX) -shared -o $@.tmp $^ $(XAPIAN_LIBS) $(LZ4_LIBS) $(shell pkg-config --libs glib-2.0) $(LDFLAGS)
	@# Dovecot's symbols resolve at load time, ours must not: a library
	@# file missing from IMAP_LIB would only show as a dlopen failure
	$(Q)if nm -D --undefined-only $@.tmp | grep -E ' (ms_|msx_)'; then \
		echo "$@: the symbols above are in no file of IMAP_LIB" >&2; rm -f $@.tmp; exit 1; fi
	$(Q)mv $@.tmp $@

# ---- sanitizer build of the library ----
$(BUILD)/asan/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC/SAN  $<"
	$(Q)$(CC) $(ALL_CFLAGS) $(SAN) -O1 -MMD -MP -c $< -o $@

$(BUILD)/asan/%.o: %.cc
	@mkdir -p $(dir $@)
	@echo "  CXX/SAN $<"
	$(Q)$(CXX) $(ALL_CXXFLAGS) $(SAN) -O1 -MMD -MP -c $< -o $@

$(BUILD)/asan/libmailsift.a: $(ASAN_OBJ)
	@rm -f $@
	@echo "  AR      $@"
	$(Q)ar rcs $@ $^

$(BUILD)/asan/libmsmilter.a: $(MILTER_ASAN_OBJ)
	@rm -f $@
	@echo "  AR      $@"
	$(Q)ar rcs $@ $^

# ---- unit tests (Check), plain and under ASan+UBSan ----
# the IMAP backend's Dovecot-free terms layer is unit-tested too
UNIT_IMAP := imap-ext/fts-mailsift-terms.c imap-ext/fts-mailsift-text.c
$(BUILD)/unit/%: tests/unit/%.c $(UNIT_SUPPORT) $(UNIT_IMAP) $(BUILD)/libmsmilter.a $(BUILD)/libmailsift.a
	@mkdir -p $(dir $@)
	@echo "  LINK    $@"
	$(Q)$(CC) $(ALL_CFLAGS) -Itests/unit -Iplugin -Iimap-ext -o $@ $< $(UNIT_SUPPORT) $(UNIT_IMAP) $(BUILD)/libmsmilter.a $(BUILD)/libmailsift.a $(CHECK_LIBS) -lmilter $(METRICS_LIBS) $(LZ4_LIBS) $(LIBS)

$(BUILD)/asan/unit/%: tests/unit/%.c $(UNIT_SUPPORT) $(UNIT_IMAP) $(BUILD)/asan/libmsmilter.a $(BUILD)/asan/libmailsift.a
	@mkdir -p $(dir $@)
	@echo "  LINK    $@"
	$(Q)$(CC) $(ALL_CFLAGS) $(SAN) -O1 -Itests/unit -Iplugin -Iimap-ext -o $@ $< $(UNIT_SUPPORT) $(UNIT_IMAP) $(BUILD)/asan/libmsmilter.a $(BUILD)/asan/libmailsift.a $(CHECK_LIBS) -lmilter $(METRICS_LIBS) $(LZ4_LIBS) $(LIBS)

# the console's parsers and audit queue (tests/unit/test_web_*.c) link their web sources
UNIT_WEB := web/web_form.c web/web_users.c web/web_auditq.c
UNIT_WEB_LIBS = $(shell pkg-config --libs libxcrypt 2>/dev/null)
$(BUILD)/unit/test_web_%: tests/unit/test_web_%.c $(UNIT_SUPPORT) $(UNIT_WEB) $(BUILD)/libmailsift.a
	@mkdir -p $(dir $@)
	@echo "  LINK    $@"
	$(Q)$(CC) $(ALL_CFLAGS) -Itests/unit -Iweb -o $@ $< $(UNIT_SUPPORT) $(UNIT_WEB) $(BUILD)/libmailsift.a $(CHECK_LIBS) $(UNIT_WEB_LIBS) $(METRICS_LIBS) $(LIBS)

$(BUILD)/asan/unit/test_web_%: tests/unit/test_web_%.c $(UNIT_SUPPORT) $(UNIT_WEB) $(BUILD)/asan/libmailsift.a
	@mkdir -p $(dir $@)
	@echo "  LINK    $@"
	$(Q)$(CC) $(ALL_CFLAGS) $(SAN) -O1 -Itests/unit -Iweb -o $@ $< $(UNIT_SUPPORT) $(UNIT_WEB) $(BUILD)/asan/libmailsift.a $(CHECK_LIBS) $(UNIT_WEB_LIBS) $(METRICS_LIBS) $(LIBS)

# the extraction client's tests run the real extractor
$(BUILD)/unit/test_extract $(BUILD)/asan/unit/test_extract: $(BUILD)/mailsift-extract

unit: $(UNITS:%=$(BUILD)/unit/%)
	@tests/run-unit.sh $(BUILD)/unit $(UNITS)

unit-asan: $(UNITS:%=$(BUILD)/asan/unit/%)
	@ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  tests/run-unit.sh $(BUILD)/asan/unit $(UNITS)

# ---- fuzzing (libFuzzer, clang) ----
$(BUILD)/fuzz/%: tests/fuzz/%.c $(LIB_C) $(LIB_CXX)
	@mkdir -p $(BUILD)/fuzz/obj
	@for f in $(LIB_C); do clang -std=c11 -D_GNU_SOURCE -Iindexer/lib $(PKG_CFLAGS) -g -O1 \
	  -fsanitize=fuzzer-no-link,address,undefined -c $$f -o $(BUILD)/fuzz/obj/$$(basename $$f .c).o || exit 1; done
	@for f in $(LIB_CXX); do clang++ -std=c++17 -D_GNU_SOURCE -Iindexer/lib $(PKG_CFLAGS) $(XAPIAN_CXXFLAGS) -g -O1 \
	  -fsanitize=fuzzer-no-link,address,undefined -c $$f -o $(BUILD)/fuzz/obj/$$(basename $$f .cc).o || exit 1; done
	clang++ -x c -std=c11 -D_GNU_SOURCE -Iindexer/lib $(PKG_CFLAGS) -g -O1 -fsanitize=fuzzer,address,undefined \
	  -c $< -o $(BUILD)/fuzz/$*.o
	clang++ -fsanitize=fuzzer,address,undefined -o $@ $(BUILD)/fuzz/$*.o $(BUILD)/fuzz/obj/*.o $(METRICS_LIBS) $(LIBS)

# the web console's parsers of request input (form, query string, cookie)
$(BUILD)/fuzz/fuzz_web_form: tests/fuzz/fuzz_web_form.c web/web_form.c web/web_form.h
	@mkdir -p $(BUILD)/fuzz
	clang -std=c11 -D_GNU_SOURCE -Iweb -g -O1 -fsanitize=fuzzer,address,undefined \
	  -o $@ tests/fuzz/fuzz_web_form.c web/web_form.c

# the answers mailsift doctor parses (a milter's SMFIC_OPTNEG, clamd's VERSION)
PROBE_C := indexer/lib/ms_milter_probe.c indexer/lib/ms_clamd.c indexer/lib/ms_sock.c indexer/lib/ms_clock.c
$(BUILD)/fuzz/fuzz_probe: tests/fuzz/fuzz_probe.c $(PROBE_C)
	@mkdir -p $(BUILD)/fuzz
	clang -std=c11 -D_GNU_SOURCE -Iindexer/lib -g -O1 -fsanitize=fuzzer,address,undefined \
	  -o $@ tests/fuzz/fuzz_probe.c $(PROBE_C)

# the IMAP backend's stored message text, read back from a user's index
FTS_TEXT_C := imap-ext/fts-mailsift-text.c indexer/lib/ms_buf.c
$(BUILD)/fuzz/fuzz_fts_text: tests/fuzz/fuzz_fts_text.c $(FTS_TEXT_C) imap-ext/fts-mailsift-text.h
	@mkdir -p $(BUILD)/fuzz
	clang -std=c11 -D_GNU_SOURCE -Iindexer/lib -Iimap-ext -g -O1 -fsanitize=fuzzer,address,undefined \
	  -o $@ tests/fuzz/fuzz_fts_text.c $(FTS_TEXT_C) $(LZ4_LIBS)

fuzz-brief: $(BUILD)/fuzz/fuzz_mime $(BUILD)/fuzz/fuzz_web_form $(BUILD)/fuzz/fuzz_xmltext $(BUILD)/fuzz/fuzz_probe \
	$(BUILD)/fuzz/fuzz_spool_seg $(BUILD)/fuzz/fuzz_fts_text
	@mkdir -p $(BUILD)/fuzz/corpus $(BUILD)/fuzz/corpus-web $(BUILD)/fuzz/corpus-xml
	$(BUILD)/fuzz/fuzz_mime -max_total_time=30 -rss_limit_mb=1024 -max_len=65536 \
	  $(BUILD)/fuzz/corpus tests/fuzz/seeds 2>&1 | tail -3
	$(BUILD)/fuzz/fuzz_web_form -max_total_time=10 -rss_limit_mb=1024 -max_len=8192 \
	  $(BUILD)/fuzz/corpus-web 2>&1 | tail -3
	$(BUILD)/fuzz/fuzz_xmltext -max_total_time=20 -rss_limit_mb=1024 -max_len=65536 \
	  $(BUILD)/fuzz/corpus-xml tests/fuzz/seeds-xml 2>&1 | tail -3
	@mkdir -p $(BUILD)/fuzz/corpus-probe
	$(BUILD)/fuzz/fuzz_probe -max_total_time=5 -rss_limit_mb=1024 -max_len=512 \
	  $(BUILD)/fuzz/corpus-probe 2>&1 | tail -3
	@mkdir -p $(BUILD)/fuzz/corpus-seg
	$(BUILD)/fuzz/fuzz_spool_seg -max_total_time=10 -rss_limit_mb=1024 -max_len=16384 \
	  $(BUILD)/fuzz/corpus-seg tests/fuzz/seeds-seg 2>&1 | tail -3
	@mkdir -p $(BUILD)/fuzz/corpus-fts-text
	$(BUILD)/fuzz/fuzz_fts_text -max_total_time=10 -rss_limit_mb=1024 -max_len=4096 \
	  $(BUILD)/fuzz/corpus-fts-text 2>&1 | tail -3

fuzz: $(BUILD)/fuzz/fuzz_mime
	@mkdir -p $(BUILD)/fuzz/corpus
	$(BUILD)/fuzz/fuzz_mime -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=1024 \
	  $(BUILD)/fuzz/corpus tests/fuzz/seeds

# ---- command, milter and full-stack tests (real servers on loopback) ----
cli-tests: $(BUILD)/mailsift $(BUILD)/mailsift-indexd $(BUILD)/mailsift-extract
	@tests/run-shell.sh $(BUILD) tests/cli/test_*

indexd-tests: $(BUILD)/mailsift $(BUILD)/mailsift-indexd $(BUILD)/mailsift-extract
	@tests/run-shell.sh $(BUILD) tests/indexd/test_*

web-tests: $(BUILD)/mailsift $(BUILD)/mailsift-web $(BUILD)/mailsift-indexd
	@tests/run-shell.sh $(BUILD) tests/web/test_*

imap-tests: $(PLUGIN_SO) $(BUILD)/mailsift $(BUILD)/mailsift-milter $(BUILD)/mailsift-indexd
	@tests/run-shell.sh $(BUILD) tests/imap/test_*

milter-tests: $(BUILD)/mailsift-milter $(BUILD)/mailsift $(BUILD)/mailsift-indexd $(BUILD)/mailsift-web
	@tests/run-shell.sh $(BUILD) tests/milter/test_* tests/stack/test_*

format-check:
	@clang-format --dry-run --Werror $(LIB_C) $(LIB_CXX) $(CLI_C) $(INDEXD_C) $(EXTRACT_C) indexer/*/*.h $(UNIT_C) \
	  $(IMAP_C) $(IMAP_CXX) $(wildcard imap-ext/*.h) \
	  $(wildcard plugin/*.c plugin/*.h) $(WEB_C) $(wildcard web/*.h) \
	  && echo "format: ok"
	@python3 tests/tools/layers.py indexer/lib indexer/cli indexer/indexd indexer/extract plugin imap-ext web

format:
	clang-format -i $(LIB_C) $(LIB_CXX) $(CLI_C) $(INDEXD_C) indexer/*/*.h $(UNIT_C) $(wildcard plugin/*.c plugin/*.h) \
	  $(IMAP_C) $(IMAP_CXX) $(wildcard imap-ext/*.h) $(WEB_C) $(wildcard web/*.h)

# man pages: plugin.conf.5 is made from the sample plugin.conf (rewritten only
# when it changes); then every page must render without a warning
# (tests/cli/test_man.py checks the same, and that nothing drifted)
MAN_PAGES = $(sort $(wildcard man/*.[1-8]))
.PHONY: man
man: man/plugin.conf.5
	@for p in $(MAN_PAGES); do \
	  w=$$( { LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l -E UTF-8 $$p >/dev/null; \
	    groff -man -ww -z $$p; ! command -v mandoc >/dev/null || mandoc -Tlint $$p; } 2>&1); \
	  [ -z "$$w" ] || { echo "$$p: $$w"; exit 1; }; \
	done; echo "man: $(words $(MAN_PAGES)) pages, no warnings"

man/plugin.conf.5: plugin.conf man/gen-plugin-conf.py
	@mkdir -p $(BUILD)
	@python3 man/gen-plugin-conf.py plugin.conf $(BUILD)/plugin.conf.5.tmp
	@cmp -s $(BUILD)/plugin.conf.5.tmp $@ && rm $(BUILD)/plugin.conf.5.tmp || \
	  { mv $(BUILD)/plugin.conf.5.tmp $@ && echo "  GEN     $@"; }

check: deps
	$(MAKE) all
	$(MAKE) man
	$(MAKE) format-check
	$(MAKE) unit
	$(MAKE) unit-asan
	$(MAKE) fuzz-brief
	$(MAKE) cli-tests
	$(MAKE) indexd-tests
	$(MAKE) milter-tests
	$(MAKE) imap-tests
	$(MAKE) web-tests
	$(MAKE) deb-tests

run: deps
	$(MAKE) all
	@tests/run-demo.sh $(BUILD)

stop:
	@tests/run-demo.sh --stop

# the milter suite with every milter process under valgrind (slow; not in check)
valgrind-imap: $(PLUGIN_SO)
	MAILSIFT_BUILD=$(BUILD) tests/imap/valgrind_imap.py

valgrind-milter: $(BUILD)/mailsift-milter
	@rm -rf $(BUILD)/valgrind && mkdir -p $(BUILD)/valgrind
	MILTER_WRAPPER="valgrind --trace-children=yes --leak-check=full --errors-for-leak-kinds=definite --log-file=$(BUILD)/valgrind/vg.%p" \
	  MAILSIFT_BUILD=$(BUILD) tests/milter/test_milter.py
	@! grep -L "ERROR SUMMARY: 0 errors" $(BUILD)/valgrind/vg.* | grep . && echo "valgrind: no errors, no definite leaks"

bench-milter: deps
	$(MAKE) all
	@tests/bench/bench-milter.sh $(BUILD)

bench-pipeline: deps
	$(MAKE) all
	@tests/bench/bench-pipeline.sh $(BUILD)

bench-imap: deps
	$(MAKE) all
	@tests/bench/bench-imap.sh $(BUILD)

bench-index: deps
	$(MAKE) all
	@tests/bench/bench-index.sh $(BUILD)

# one archive over 1, 2 and 4 xapian-tcpsrv hosts: p50/p95 search latency and
# import rate (N messages, default 1,000,000: make bench-scale N=100000)
.PHONY: bench-scale
bench-scale: deps
	$(MAKE) $(BUILD)/mailsift
	@MAILSIFT_BUILD=$(BUILD) tests/bench/bench-scale.py $(or $(N),1000000)

.PHONY: bench-compliance
bench-compliance: deps
	$(MAKE) $(BUILD)/mailsift
	@tests/bench/bench-compliance.sh $(BUILD)

# mailsift-web: 50 sessions searching corpus A for 60 s (SESSIONS, SECONDS;
# CLIENT=c, python or both), the load from tests/bench/web_load.c
.PHONY: bench-web
bench-web: deps
	$(MAKE) $(BUILD)/mailsift $(BUILD)/mailsift-web $(BUILD)/web_load
	@MAILSIFT_BUILD=$(BUILD) tests/bench/bench-web.py

$(BUILD)/web_load: tests/bench/web_load.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< -lpthread

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/doc/mailsift
	install -m 755 $(BUILD)/mailsift $(DESTDIR)$(PREFIX)/bin/mailsift
	install -d $(DESTDIR)$(PREFIX)/sbin
	install -m 755 $(BUILD)/mailsift-milter $(DESTDIR)$(PREFIX)/sbin/mailsift-milter
	install -m 755 $(BUILD)/mailsift-indexd $(DESTDIR)$(PREFIX)/sbin/mailsift-indexd
	install -m 755 $(BUILD)/mailsift-web $(DESTDIR)$(PREFIX)/sbin/mailsift-web
	install -d $(DESTDIR)$(PREFIX)/lib/mailsift
	install -m 755 $(BUILD)/mailsift-extract $(DESTDIR)$(PREFIX)/lib/mailsift/mailsift-extract
	install -d $(DESTDIR)$(DOVECOT_MODULEDIR)
	install -m 644 $(PLUGIN_SO) $(DESTDIR)$(DOVECOT_MODULEDIR)/
	install -m 644 plugin.conf README.md $(DESTDIR)$(PREFIX)/share/doc/mailsift/
	install -d $(DESTDIR)$(SYSTEMD_UNITDIR)
	for u in systemd/*.service.in; do \
	  sed -e 's,@sbindir@,$(PREFIX)/sbin,g' -e 's,@bindir@,$(PREFIX)/bin,g' $$u >$(DESTDIR)$(SYSTEMD_UNITDIR)/$$(basename $$u .in) && \
	  chmod 644 $(DESTDIR)$(SYSTEMD_UNITDIR)/$$(basename $$u .in) || exit 1; done
	for m in $(wildcard man/*.[1-8]); do \
	  install -D -m 644 $$m $(DESTDIR)$(PREFIX)/share/man/man$${m##*.}/$$(basename $$m) || exit 1; done

# ---- Debian packages (debian/) and their install test ----
# dpkg-buildpackage builds in $(BUILD)/deb-obj (its clean step removes only
# that) and leaves the .deb, .buildinfo and .changes files in $(BUILD)/deb;
# one package build at a time per tree (flock on debian/)
.PHONY: deb deb-tests
DEB_OUT = $(abspath $(BUILD)/deb)
deb:
	@rm -rf $(DEB_OUT) && mkdir -p $(DEB_OUT)
	@echo "  DEB     $(DEB_OUT) (log: $(BUILD)/deb-build.log)"
	$(Q)n=$(DEB_OUT)/mailsift_$$(dpkg-parsechangelog -S Version)_$$(dpkg --print-architecture); \
	flock debian env MAILSIFT_DEB_OBJ=$(BUILD)/deb-obj MAILSIFT_DEB_OUT=$(DEB_OUT) \
	  dpkg-buildpackage -us -uc -b --buildinfo-option=-u$(DEB_OUT) --changes-option=-u$(DEB_OUT) \
	  --buildinfo-file=$$n.buildinfo --changes-file=$$n.changes \
	  >$(BUILD)/deb-build.log 2>&1 || { tail -n 30 $(BUILD)/deb-build.log; exit 1; }
	@ls $(DEB_OUT)

# (the test runs make deb itself; the developer build reads the kept archive)
deb-tests: $(BUILD)/mailsift
	@tests/run-shell.sh $(BUILD) tests/deb/test_*

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
