# fieldsync — build, run, test.
#   make            build everything into build/
#   make run        build, install what is missing, serve the demo property
#   make test       build and run the whole suite (unit + integration + the
#                   TypeScript client's tests: make test-js)
#   make test-asan  the same suite built with AddressSanitizer + UBSan into
#                   build-asan/
#   make unit / make integration   one half of the suite
#   make test-pg    the integration suite on the PostgreSQL store
#   make test-ha    a Patroni failover under load (not in make test)
#   make demo-pg    two nodes on PostgreSQL behind HAProxy, locally
#   make layers     the include rule alone (also run by make test)
#   make clean      remove build outputs (keeps the fetched CivetWeb source);
#   make distclean  remove build/, build-asan/ and var/ entirely
# Debian packages that are missing are installed with apt-get (as root, or
# through sudo when it is there).

CC      ?= cc
CFLAGS  ?= -O2 -g
# Flags the code needs whatever CFLAGS says (so `make CFLAGS=-O0` keeps them).
FS_CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter \
             -Wshadow -Wstrict-prototypes -fno-strict-aliasing -pthread
# Extra flags for our code and its links (sanitizers: see test-asan).
SAN     ?=
# Extra flags for the CivetWeb object.
CW_SAN  ?=
LDFLAGS ?=
LDLIBS  += -llmdb -lpq -lmsgpackc -lz -lssl -lcrypto -lcurl -lpthread -lm
# libpq's headers (server/store/store_pg.c)
PG_INC  := /usr/include/postgresql
B       := build
# Third-party sources live under build/ whatever B is, so a sanitizer build
# reuses the one download.
TP      := build/third_party
CW_DIR  := $(TP)/civetweb
PY      := /usr/bin/python3
ASAN_B  := build-asan

# Debian packages the build and the tests need: a file it installs -> package.
# (Installed with --no-install-recommends, so everything is named here.)
DEB_NEEDS := /usr/bin/cc:gcc \
             /usr/bin/make:make \
             /usr/include/stdio.h:libc6-dev \
             /usr/include/lmdb.h:liblmdb-dev \
             /usr/include/postgresql/libpq-fe.h:libpq-dev \
             /usr/include/msgpack.h:libmsgpack-dev \
             /usr/include/zlib.h:zlib1g-dev \
             /usr/include/openssl/ssl.h:libssl-dev \
             /usr/bin/curl-config:libcurl4-openssl-dev \
             /usr/include/cmocka.h:libcmocka-dev \
             /usr/bin/openssl:openssl \
             /etc/ssl/certs/ca-certificates.crt:ca-certificates \
             /usr/bin/python3:python3 \
             /usr/lib/python3/dist-packages/msgpack/__init__.py:python3-msgpack \
             /usr/lib/python3/dist-packages/cryptography/__init__.py:python3-cryptography \
             /usr/bin/curl:curl \
             /usr/bin/xz:xz-utils \
             /usr/bin/dpkg-source:dpkg-dev \
             /usr/share/zoneinfo/Europe/Berlin:tzdata \
             /usr/include/qrencode.h:libqrencode-dev \
             /usr/include/jansson.h:libjansson-dev

PROTO_SRC  := $(sort $(wildcard protocol/*.c) $(wildcard schema/*.c))
SERVER_SRC := $(sort $(wildcard server/*/*.c))
PROTO_OBJ  := $(PROTO_SRC:%.c=$(B)/obj/%.o)
SERVER_OBJ := $(SERVER_SRC:%.c=$(B)/obj/%.o)
# The PostgreSQL schema's migrations, server/store/pg/NNN_name.sql (NNN =
# 001, 002, ... in order), embedded as C strings (generated, never
# committed); store_pg.c applies version i + 1 as store_pg_sql[i].
PG_SQL     := $(sort $(wildcard server/store/pg/[0-9][0-9][0-9]_*.sql))
PG_GEN     := $(B)/gen/store_pg_sql.c
SERVER_OBJ += $(B)/obj/$(PG_GEN:.c=.o)
CW_OBJ     := $(B)/obj/civetweb.o
UNIT_SRC   := $(sort $(wildcard tests/unit/test_*.c))
SRVT_SRC   := $(sort $(wildcard tests/server/test_*.c))
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%) \
              $(SRVT_SRC:tests/server/%.c=$(B)/tests/%)
SHIM       := $(B)/tests/syncshim.so

# A test file name used in both tests/unit and tests/server would give one
# binary for two sources: refuse it early.
DUP_TESTS := $(filter $(notdir $(UNIT_SRC)),$(notdir $(SRVT_SRC)))
ifneq ($(strip $(DUP_TESTS)),)
$(error test file names used in both tests/unit and tests/server: $(DUP_TESTS))
endif

.PHONY: all deps run test unit integration clean distclean test-asan asan-build \
        layers
.DEFAULT_GOAL := all
all: deps $(B)/fieldsyncd $(UNIT_BIN) $(SHIM) $(B)/bench/loadgen

# ---- dependencies ----------------------------------------------------------
# Checked on every make (a handful of stat calls); apt-get runs only when a
# file is missing.
deps:
	@missing=""; for pair in $(DEB_NEEDS); do f=$${pair%%:*}; p=$${pair##*:}; \
	  [ -e "$$f" ] || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then sudo=""; \
	  elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; \
	  else echo "missing Debian packages:$$missing (run make as root)" >&2; exit 1; fi; \
	  echo "installing Debian packages:$$missing"; \
	  $$sudo apt-get update -qq && \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends $$missing; \
	fi

# HAProxy for the two-node tests (tests/integration/test_multinode.py, so
# make integration, test, test-asan) and make demo-pg; Patroni and etcd
# only for make test-ha.
HAPROXY_NEEDS := /usr/sbin/haproxy:haproxy
HA_NEEDS      := $(HAPROXY_NEEDS) /usr/bin/patroni:patroni \
                 /usr/bin/etcd:etcd-server /usr/bin/etcdctl:etcd-client
.PHONY: haproxy-deps ha-deps
haproxy-deps:
	@$(MAKE) --no-print-directory deps DEB_NEEDS="$(HAPROXY_NEEDS)"
ha-deps:
	@$(MAKE) --no-print-directory deps DEB_NEEDS="$(HA_NEEDS)"

$(CW_DIR)/src/civetweb.c: | deps
	sh deploy/fetch-civetweb.sh $(TP)

# CivetWeb 1.15 from Debian's source package, built for OpenSSL 3.
# SOCKET_TIMEOUT_QUANTUM: CivetWeb polls in slices of this many ms and looks
# at its stop flag between them; the default 2000 makes every mg_stop (every
# SIGTERM) take 2 s.  Timeouts themselves are unchanged.
CW_DEFS := -DOPENSSL_API_3_0 -DNO_SSL_DL -DUSE_WEBSOCKET -DUSE_IPV6 -DNO_CGI \
           -DNO_FILES_WRITE -DSOCKET_TIMEOUT_QUANTUM=100
$(CW_OBJ): $(CW_DIR)/src/civetweb.c Makefile | deps
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -pthread -w $(CW_SAN) $(CW_DEFS) -I$(CW_DIR)/include \
	  -c $< -o $@

# ---- our code --------------------------------------------------------------
$(B)/obj/%.o: %.c | deps $(CW_DIR)/src/civetweb.c
	@mkdir -p $(dir $@)
	$(CC) $(FS_CFLAGS) $(CFLAGS) $(SAN) -MMD -MP -I. -I$(CW_DIR)/include \
	  -I$(PG_INC) -c $< -o $@

$(PG_GEN): $(PG_SQL) Makefile
	@mkdir -p $(dir $@)
	@n=0; for f in $(PG_SQL); do n=$$((n + 1)); \
	  v=$$(basename $$f | cut -c1-3); \
	  [ "$$(expr $$v + 0)" = "$$n" ] || { \
	    echo "$$f: migration $$n expected (001, 002, ... without gaps)" >&2; \
	    exit 1; }; done
	@{ echo '/* generated by the Makefile from server/store/pg/ */'; \
	  echo 'const char *const store_pg_sql[] = {'; \
	  for f in $(PG_SQL); do printf '\t"'; \
	    od -An -v -tx1 $$f | tr -d ' \n' | sed 's/../\\x&/g'; \
	    printf '",\n'; done; \
	  echo '};'; \
	  echo 'const unsigned store_pg_nsql = $(words $(PG_SQL));'; } > $@.tmp
	@mv $@.tmp $@

$(B)/libfsproto.a: $(PROTO_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(B)/fieldsyncd: $(B)/obj/server/main.o $(SERVER_OBJ) $(B)/libfsproto.a $(CW_OBJ)
	$(CC) $(FS_CFLAGS) $(CFLAGS) $(SAN) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# What a test binary links: its prerequisites less the headers its .d file
# adds (they are there for rebuilds, not for the compiler's command line).
LINK_IN = $(filter %.c %.o %.a,$^)

# tests/unit: protocol and schema only; tests/server: the server's modules too.
$(B)/tests/%: tests/unit/%.c $(B)/libfsproto.a | deps
	@mkdir -p $(dir $@)
	$(CC) $(FS_CFLAGS) $(CFLAGS) $(SAN) -MMD -MP -MF $@.d -MT $@ -I. \
	  $(LDFLAGS) -o $@ $(LINK_IN) $(LDLIBS) -lcmocka

$(B)/tests/%: tests/server/%.c $(SERVER_OBJ) $(B)/libfsproto.a $(CW_OBJ) | deps
	@mkdir -p $(dir $@)
	$(CC) $(FS_CFLAGS) $(CFLAGS) $(SAN) -MMD -MP -MF $@.d -MT $@ -I. \
	  -I$(CW_DIR)/include $(LDFLAGS) -o $@ $(LINK_IN) $(LDLIBS) -lcmocka

# The C side of clients/js's v2 differential test (clients/js/test/colwire.test.ts).
all: $(B)/tests/colwire_tool
$(B)/tests/colwire_tool: tests/tools/colwire_tool.c $(B)/libfsproto.a | deps
	@mkdir -p $(dir $@)
	$(CC) $(FS_CFLAGS) $(CFLAGS) $(SAN) -MMD -MP -MF $@.d -MT $@ -I. \
	  $(LDFLAGS) -o $@ $(LINK_IN) $(LDLIBS)

# The fsync shim is never sanitized: it is preloaded into other programs.
$(SHIM): tests/shim/syncshim.c | deps
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -std=c11 -Wall -Wextra -shared -fPIC -o $@ $< -ldl

-include $(shell find $(B)/obj $(B)/tests -name '*.d' 2>/dev/null)

# ---- clients ---------------------------------------------------------------
# libfieldsync (clients/*.c) as build/libfieldsync.a
# (with protocol/ and schema/ inside, so -lfieldsync is enough) and
# build/libfieldsync.so (PIC objects in build/pic/), build/fieldsync.pc;
# the programs on top of it (clients/cmd/): the CLI build/fieldsync and the
# simulator build/fieldsync-sim.
# Unit tests: tests/clients/test_*.c link the library's objects.
CLIENT_SRC  := $(sort $(wildcard clients/*.c))
CLIENT_OBJ  := $(CLIENT_SRC:%.c=$(B)/obj/%.o)
CLIENT_PIC  := $(CLIENT_SRC:%.c=$(B)/pic/%.o) $(PROTO_SRC:%.c=$(B)/pic/%.o)
CLNT_SRC    := $(sort $(wildcard tests/clients/test_*.c))
CLNT_BIN    := $(CLNT_SRC:tests/clients/%.c=$(B)/tests/%)
# libcurl in http.c, libcrypto (SHA-256) in sha256.c, LMDB in lstore.c.
CLIENT_LIBS := -lcurl -llmdb -lmsgpackc -lz -lcrypto -lpthread
UNIT_BIN    += $(CLNT_BIN)
all: $(B)/libfieldsync.a $(B)/libfieldsync.so $(B)/fieldsync.pc \
     $(B)/fieldsync $(B)/fieldsync-sim $(CLNT_BIN)

$(B)/pic/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(FS_CFLAGS) $(CFLAGS) $(SAN) -fPIC -MMD -MP -I. -c $< -o $@

$(B)/libfieldsync.a: $(CLIENT_OBJ) $(PROTO_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(B)/libfieldsync.so: $(CLIENT_PIC)
	$(CC) $(FS_CFLAGS) $(CFLAGS) $(SAN) -shared -Wl,-soname,libfieldsync.so \
	  $(LDFLAGS) -o $@ $^ $(CLIENT_LIBS)

$(B)/fieldsync.pc: Makefile
	@mkdir -p $(dir $@)
	printf '%s\n' 'prefix=$(CURDIR)' 'libdir=$${prefix}/$(B)' \
	  'includedir=$${prefix}/clients' '' 'Name: fieldsync' \
	  'Description: fieldsync handheld client library (offline store, outbox, sync)' \
	  'Version: 1.0' 'Cflags: -I$${includedir}' 'Libs: -L$${libdir} -lfieldsync' \
	  'Libs.private: $(CLIENT_LIBS)' > $@

# The CLI alone links libqrencode (admin enroll-code) and jansson (JSON
# reports, readable records); libfieldsync needs neither.
CLI_OBJ := $(B)/obj/clients/cmd/cli.o $(B)/obj/clients/cmd/admin.o \
           $(B)/obj/clients/cmd/qr.o \
           $(B)/obj/clients/cmd/cli_alerts.o
$(B)/fieldsync: $(CLI_OBJ) $(B)/libfieldsync.a
	$(CC) $(FS_CFLAGS) $(CFLAGS) $(SAN) $(LDFLAGS) -o $@ $^ $(CLIENT_LIBS) \
	  -lqrencode -ljansson

$(B)/fieldsync-sim: $(B)/obj/clients/cmd/sim.o $(B)/libfieldsync.a
	$(CC) $(FS_CFLAGS) $(CFLAGS) $(SAN) $(LDFLAGS) -o $@ $^ $(CLIENT_LIBS) -lm

$(B)/tests/%: tests/clients/%.c $(CLIENT_OBJ) $(B)/libfsproto.a | deps
	@mkdir -p $(dir $@)
	$(CC) $(FS_CFLAGS) $(CFLAGS) $(SAN) -MMD -MP -MF $@.d -MT $@ -I. \
	  $(LDFLAGS) -o $@ $(LINK_IN) $(CLIENT_LIBS) -lcmocka

-include $(shell find $(B)/pic -name '*.d' 2>/dev/null)

# The simulator's full run on a fresh loopback server (not part of make
# test, which runs a few devices for ~10 s): 50 devices for 60 s.
SIM_ARGS ?= --devices 50 --duration 60 --offline-ratio 0.2 --skew-ms 600000 \
            --reboot-ratio 0.1 --lost-ratio 0.05 --seed 42
.PHONY: bench-sim
bench-sim: $(B)/fieldsyncd $(B)/fieldsync-sim
	sh clients/cmd/bench-sim.sh $(B) $(SIM_ARGS)

# ---- TypeScript client (clients/js) ----------------------------------------
# Node and npm from Debian when missing (a nodejs that bundles npm is left
# alone: Debian's npm package would conflict with it), Chromium and CJK fonts
# for the browser tests, the npm packages pinned by clients/js/package-lock.json
# (npm ci when node_modules is missing or older than the lockfile).
#   build/js/fieldsync.js       the library, an ES module for browsers
#   build/js/fieldsync.min.js   the same minified (its size: make bench-js)
#   build/js/fieldsync.node.js  the library for Node
#   build/js/test/*.test.mjs    the tests, run by make test-js
JS_DIR   := clients/js
JS_B     := $(B)/js
JS_SRC   := $(sort $(wildcard $(JS_DIR)/src/*.ts))
JS_TESTS := $(sort $(wildcard $(JS_DIR)/test/*.ts))
JS_BIN   := $(JS_DIR)/node_modules/.bin
JS_STAMP := $(JS_DIR)/node_modules/.package-lock.json
JS_DEB_NEEDS := /usr/bin/chromium:chromium \
                /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc:fonts-noto-cjk
.PHONY: js js-deps js-debs test-js test-js-run bench-js
all: js

js-deps: $(JS_STAMP)

js-debs: deps
	@$(MAKE) --no-print-directory deps DEB_NEEDS="$(JS_DEB_NEEDS) \
	  $$(command -v node >/dev/null 2>&1 || echo /usr/bin/node:nodejs) \
	  $$(command -v npm >/dev/null 2>&1 || echo /usr/bin/npm:npm)"

# A real target (not only a check inside js-deps), so that a parallel make on
# a clean clone builds it before anything that lists it.
$(JS_STAMP): $(JS_DIR)/package-lock.json | js-debs
	npm ci --prefix $(JS_DIR) --no-audit --no-fund --loglevel=error
	@touch $@

JS_ESBUILD := $(JS_BIN)/esbuild --bundle --format=esm --target=es2022 \
              --log-level=warning --legal-comments=none

js: js-deps $(JS_B)/fieldsync.js $(JS_B)/fieldsync.min.js \
    $(JS_B)/fieldsync.node.js $(JS_B)/test/.built

$(JS_B)/fieldsync.js: $(JS_SRC) $(JS_STAMP) | js-deps
	$(JS_ESBUILD) --platform=browser $(JS_DIR)/src/index.ts --outfile=$@

$(JS_B)/fieldsync.min.js: $(JS_SRC) $(JS_STAMP) | js-deps
	$(JS_ESBUILD) --platform=browser --minify $(JS_DIR)/src/index.ts --outfile=$@

$(JS_B)/fieldsync.node.js: $(JS_SRC) $(JS_STAMP) | js-deps
	$(JS_ESBUILD) --platform=node $(JS_DIR)/src/node.ts --outfile=$@

# Each test file bundled for Node (playwright-core stays a package import).
$(JS_B)/test/.built: $(JS_SRC) $(JS_TESTS) $(JS_STAMP) | js-deps
	@rm -rf $(JS_B)/test && mkdir -p $(JS_B)/test
	$(JS_ESBUILD) --platform=node --external:playwright-core \
	  --out-extension:.js=.mjs --outdir=$(JS_B)/test $(filter %.test.ts,$(JS_TESTS))
	@touch $@

# Node tests against real fieldsyncd processes, then the Chromium tests;
# tsc type-checks the sources and the tests first.
# `make test` runs test-js-run as one part of tests/run_all.py (its TAP
# summary is counted with the rest); a type error fails the part.
test-js: all js test-js-run

test-js-run:
	$(JS_BIN)/tsc --noEmit -p $(JS_DIR)
	FS_BUILD=$(CURDIR)/$(B) node --test --test-concurrency=1 --test-reporter=tap $(JS_B)/test/

# Size and Chromium timings of the client; figures into BENCHMARKS.md by hand.
bench-js: all js
	$(JS_ESBUILD) --platform=node --external:playwright-core bench/js/bench.ts \
	  --outfile=$(JS_B)/bench.mjs
	FS_BUILD=$(CURDIR)/$(B) node $(JS_B)/bench.mjs

# ---- use it ----------------------------------------------------------------
run: all
	sh deploy/run-demo.sh $(B)/fieldsyncd var/demo

unit: all
	@$(PY) tests/run_unit.py $(UNIT_BIN)

integration: all haproxy-deps
	@$(PY) tests/integration/run.py --server $(B)/fieldsyncd --shim $(SHIM)

# The include rule (tests/layers.py): includes only point down the
# server's layers, and each outside library has its one file.
layers:
	@$(PY) tests/layers.py

test: all js pg-deps haproxy-deps
	@$(PY) tests/layers.py
	@$(PY) tests/run_all.py --server $(B)/fieldsyncd --shim $(SHIM) \
	  --part pg-unit plain "$(MAKE) --no-print-directory test-pg-unit" \
	  --part pg plain "$(MAKE) --no-print-directory test-pg-part" \
	  --part js node "$(MAKE) --no-print-directory test-js-run" \
	  --part web node "$(MAKE) --no-print-directory test-web-run" $(UNIT_BIN)

# ---- the PostgreSQL store ---------------------------------------------------
# The integration suite with every fieldsyncd on PostgreSQL (--store URL): a
# throwaway PostgreSQL 15 cluster per run (tests/pgcluster.py: run as the
# user postgres from a temp dir, 127.0.0.1 on a free port) and a database
# per server (FS_TEST_STORE=pg, tests/integration/harness.py).  Tests about
# LMDB itself are skipped there, each saying why.
#   make test-pg       every integration file on PostgreSQL
#   test-pg-part       the files in PG_PART: make test's pg part (a subset
#                      that covers the backend in about two minutes)
PG_PART := test_sync_merge.py test_pull_v2.py test_paging.py test_auth.py \
           test_permissions.py test_order_lattice.py test_tasks_generation.py \
           test_durability.py
PG_RUN  := FS_TEST_STORE=pg $(PY) tests/integration/run.py \
           --server $(B)/fieldsyncd --shim $(SHIM)
.PHONY: pg-deps test-pg test-pg-part
pg-deps:
	@$(MAKE) --no-print-directory deps \
	  DEB_NEEDS="/usr/lib/postgresql/15/bin/initdb:postgresql-15"
test-pg: all pg-deps haproxy-deps test-pg-unit
	@$(PG_RUN)
test-pg-part:
	@$(PG_RUN) $(PG_PART)
# The store's unit tests on PostgreSQL (test_store's every case; test_nodes,
# two engines on one database), on a throwaway cluster of their own.
PG_UNIT := $(B)/tests/test_store $(B)/tests/test_nodes
.PHONY: test-pg-unit
test-pg-unit:
	@d=$$(mktemp -d /tmp/fieldsync-pgunit-XXXXXX) && chmod 755 $$d && \
	  trap '$(PY) tests/pgcluster.py stop '"$$d"'/c >/dev/null; rm -rf '"$$d" EXIT && \
	  url=$$($(PY) tests/pgcluster.py start $$d/c) && \
	  FS_TEST_PG_URL=$$url $(PY) tests/run_unit.py $(PG_UNIT)

# ---- more than one machine -------------------------------------------------
#   make test-ha   etcd + two Patroni-managed PostgreSQL 15 (a synchronous
#                  standby) + two fieldsyncd nodes + HAProxy, all from deploy/,
#                  the primary killed under load (tests/ha/run_ha.py, about
#                  3 min); not part of make test
#   make demo-pg   the two-node example on this machine: a throwaway
#                  PostgreSQL, two nodes, HAProxy with TLS (deploy/demo-pg.sh)
.PHONY: test-ha demo-pg
test-ha: all pg-deps ha-deps
	$(PY) tests/ha/run_ha.py --server $(B)/fieldsyncd

demo-pg: all pg-deps haproxy-deps
	sh deploy/demo-pg.sh $(B)/fieldsyncd var/demo-pg

# ---- the web app ------------------------------------------------------------
# clients/web/ (the handheld and the console, one PWA) on the TypeScript
# client library clients/js/, bundled by esbuild into build/web/, which
# `fieldsyncd serve` serves at / (--web DIR; server/http/web.h).  Node, Chromium,
# the CJK fonts and clients/js's packages come with js-deps; the app's npm
# packages as pinned by clients/web/package-lock.json (npm ci, ignored).
#   make test-web     the browser tests (Debian's chromium via playwright-core)
#   make screenshots  every main screen in en and zh-CN into build/screenshots/
#   make bench-web    the app's targets (bench/web.mjs; BENCHMARKS.md)
WEB_DIR   := clients/web
WEB_SRC   := $(shell find $(WEB_DIR)/src $(WEB_DIR)/static -type f 2>/dev/null) \
             $(WEB_DIR)/build.mjs $(JS_SRC)
WEB_STAMP := $(WEB_DIR)/node_modules/.package-lock.json
WEB_ENV    = FIELDSYNCD=$(CURDIR)/$(B)/fieldsyncd FIELDSYNC_WEB=$(CURDIR)/$(B)/web
.PHONY: web-deps web-check test-web test-web-run screenshots bench-web
all: $(B)/web/app.js

web-deps: $(WEB_STAMP)

$(WEB_STAMP): $(WEB_DIR)/package-lock.json | js-deps
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix $(WEB_DIR) --no-audit \
	  --no-fund --loglevel=error
	@touch $@

$(B)/web/app.js: $(WEB_SRC) | web-deps
	node $(WEB_DIR)/build.mjs $(B)/web

web-check: $(B)/web/app.js
	cd $(WEB_DIR) && node_modules/.bin/tsc --noEmit -p tsconfig.json && \
	  node_modules/.bin/tsc --noEmit -p tsconfig.sw.json

# `make test` runs test-web-run as the web part of tests/run_all.py (the
# type check first: a type error fails the part).
test-web: all test-web-run

test-web-run:
	cd $(WEB_DIR) && node_modules/.bin/tsc --noEmit -p tsconfig.json && \
	  node_modules/.bin/tsc --noEmit -p tsconfig.sw.json
	cd $(WEB_DIR) && $(WEB_ENV) node --test --test-concurrency=1 \
	  --test-reporter=tap test/web.test.mjs

screenshots: all
	$(WEB_ENV) node $(WEB_DIR)/test/screenshots.mjs $(B)/screenshots

# Debian's testssl.sh against `fieldsyncd serve` over HTTPS on loopback
# with a self-signed certificate (deploy/tls-scan.sh; the result is in
# deploy/OPERATIONS.md, "TLS scan").  Not part of make test.
.PHONY: tls-scan
tls-scan: all
	@command -v testssl >/dev/null || { sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends testssl.sh; }
	TLS_SCAN_OUT=$(B)/tls-scan deploy/tls-scan.sh $(B)/fieldsyncd

bench-web: all
	$(WEB_ENV) node bench/web.mjs

# ---- sanitizers ------------------------------------------------------------
# Our code with ASan+UBSan, CivetWeb with ASan; the same suite runs on it.
# verify_asan_link_order=0: the fsync shim is LD_PRELOADed ahead of libasan;
# it defines no allocator function, so the order does not matter.
ASAN_SAN := -fsanitize=address,undefined -fno-omit-frame-pointer
ASAN_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:verify_asan_link_order=0 \
            UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

asan-build: deps
	$(MAKE) --no-print-directory B=$(ASAN_B) SAN="$(ASAN_SAN)" \
	  CW_SAN="-fsanitize=address -fno-omit-frame-pointer" all

test-asan: asan-build haproxy-deps
	@$(PY) tests/layers.py
	@$(ASAN_ENV) $(PY) tests/run_all.py --server $(ASAN_B)/fieldsyncd \
	  --shim $(ASAN_B)/tests/syncshim.so $(UNIT_BIN:$(B)/%=$(ASAN_B)/%)

# ---- fuzzing ---------------------------------------------------------------
# libFuzzer targets, one per decoder/parser (tests/fuzz/fuzz_*.c; see
# tests/fuzz/README.md).  `make fuzz` builds them with clang into
# build-fuzz/ (our code with -fsanitize=fuzzer-no-link,address,undefined,
# UB aborting; CivetWeb with ASan) and runs each for FUZZ_SECONDS over a
# working corpus build-fuzz/corpus/<target> plus the committed seeds in
# tests/fuzz/corpus/<target>; crashers are written to
# tests/fuzz/crashers/<target>/ (commit them with the fix).  Logs and a
# per-target summary (executions, exec/s, cov, ft) go to build-fuzz/logs/.
#   make fuzz FUZZ_SECONDS=600 FUZZ_TARGETS="fuzz_ops"
# `make test` replays every corpus and crasher file without libFuzzer:
# build/tests/replay_<target> (gcc; under test-asan with the sanitizers)
# runs as one more unit-test binary.
FUZZ_B         := build-fuzz
FUZZ_SECONDS   ?= 60
FUZZ_NAMES     := $(sort $(basename $(notdir $(wildcard tests/fuzz/fuzz_*.c))))
FUZZ_TARGETS   ?= $(FUZZ_NAMES)
FUZZ_SAN       := -fsanitize=fuzzer-no-link,address,undefined \
                  -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_DEB_NEEDS := /usr/bin/clang:clang \
  /usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a:libclang-rt-14-dev
FUZZ_REPLAY    := $(FUZZ_NAMES:%=$(B)/tests/replay_%)
UNIT_BIN       += $(FUZZ_REPLAY)

.PHONY: fuzz fuzz-deps fuzz-build fuzz-bins fuzz-clean
all: $(FUZZ_REPLAY)

# fuzz_wire, fuzz_inflate and fuzz_colwire test protocol/ alone; the others
# the server.
FUZZ_PROTO     := fuzz_wire fuzz_inflate fuzz_colwire
FUZZ_LINK       = $(if $(filter $(FUZZ_PROTO),$*),$(B)/libfsproto.a,\
                  $(SERVER_OBJ) $(B)/libfsproto.a $(CW_OBJ))
FUZZ_DEPS      := $(SERVER_OBJ) $(B)/libfsproto.a $(CW_OBJ)
.SECONDEXPANSION:
$(B)/tests/replay_%: tests/fuzz/%.c tests/fuzz/replay.c \
                     $$(if $$(filter $(FUZZ_PROTO),$$*),$(B)/libfsproto.a,$(FUZZ_DEPS)) | deps
	@mkdir -p $(dir $@)
	$(CC) $(FS_CFLAGS) $(CFLAGS) $(SAN) -MMD -MP -MF $@.d -MT $@ -I. \
	  -DFUZZ_DIRS='"$(CURDIR)/tests/fuzz/corpus/$*:$(CURDIR)/tests/fuzz/crashers/$*"' \
	  $(LDFLAGS) -o $@ tests/fuzz/$*.c tests/fuzz/replay.c $(FUZZ_LINK) $(LDLIBS)

# Only `make fuzz` needs clang and the libFuzzer runtime.
fuzz-deps:
	@$(MAKE) --no-print-directory deps DEB_NEEDS="$(FUZZ_DEB_NEEDS)"

fuzz-build: fuzz-deps deps
	$(MAKE) --no-print-directory B=$(FUZZ_B) CC=clang CFLAGS="-O1 -g" \
	  SAN="$(FUZZ_SAN)" CW_SAN="-fsanitize=address -fno-omit-frame-pointer" \
	  fuzz-bins

fuzz-bins: $(FUZZ_NAMES:%=$(B)/fuzz/%)

$(B)/fuzz/%: tests/fuzz/%.c \
             $$(if $$(filter $(FUZZ_PROTO),$$*),$(B)/libfsproto.a,$(FUZZ_DEPS)) | deps
	@mkdir -p $(dir $@)
	$(CC) $(FS_CFLAGS) $(CFLAGS) $(subst fuzzer-no-link,fuzzer,$(SAN)) \
	  -MMD -MP -MF $@.d -MT $@ -I. $(LDFLAGS) -o $@ $< $(FUZZ_LINK) $(LDLIBS)

# Inputs are capped per target (-max_len): a msgpack body, a compressed
# stream, a generator's bytes, headers + body.  Stores of fuzz_ops and
# fuzz_http live in a tmpfs folder removed afterwards.
fuzz: fuzz-build
	@tmp=$$(mktemp -d /dev/shm/fieldsync-fuzz.XXXXXX 2>/dev/null || mktemp -d); \
	fail=""; mkdir -p $(FUZZ_B)/logs; : > $(FUZZ_B)/logs/summary.txt; \
	for t in $(FUZZ_TARGETS); do \
	  case $$t in fuzz_inflate) ml=65536;; fuzz_http) ml=32768;; \
	    fuzz_wire|fuzz_colwire) ml=16384;; *) ml=4096;; esac; \
	  dict=""; [ -f tests/fuzz/$$t.dict ] && dict="-dict=tests/fuzz/$$t.dict"; \
	  mkdir -p $(FUZZ_B)/corpus/$$t tests/fuzz/crashers/$$t; \
	  echo "== $$t: $(FUZZ_SECONDS) s, log $(FUZZ_B)/logs/$$t.log"; \
	  FUZZ_TMPDIR=$$tmp ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1 \
	  $(FUZZ_B)/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	    -rss_limit_mb=4096 -max_len=$$ml $$dict -print_final_stats=1 \
	    -artifact_prefix=tests/fuzz/crashers/$$t/ \
	    $(FUZZ_B)/corpus/$$t tests/fuzz/corpus/$$t \
	    > $(FUZZ_B)/logs/$$t.log 2>&1 || fail="$$fail $$t"; \
	  done_line=$$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' $(FUZZ_B)/logs/$$t.log | tail -1); \
	  runs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $(FUZZ_B)/logs/$$t.log); \
	  rate=$$(sed -n 's/^stat::average_exec_per_sec: *//p' $(FUZZ_B)/logs/$$t.log); \
	  rss=$$(sed -n 's/^stat::peak_rss_mb: *//p' $(FUZZ_B)/logs/$$t.log); \
	  line="$$t: runs=$${runs:-?} exec/s=$${rate:-?} peak_rss_mb=$${rss:-?} | $$done_line"; \
	  echo "$$line"; echo "$$line" >> $(FUZZ_B)/logs/summary.txt; \
	done; rm -rf "$$tmp"; \
	if [ -n "$$fail" ]; then \
	  echo "fuzz: FAILED:$$fail (crashers in tests/fuzz/crashers/, logs in $(FUZZ_B)/logs/)"; \
	  exit 1; fi; echo "fuzz: no crash ($(FUZZ_SECONDS) s per target)"

fuzz-clean:
	rm -rf $(FUZZ_B)

clean:
	rm -rf $(ASAN_B)
	if [ -d $(B) ]; then find $(B) -mindepth 1 -maxdepth 1 \
	  ! -name third_party -exec rm -rf {} +; fi

distclean: fuzz-clean
	rm -rf build $(ASAN_B) var

# ---- bench -----------------------------------------------------------------
# make bench        fieldsync against PouchDB Server 4.2.0, side by side on
#                   this machine (about 15 min); results in
#                   bench/results/latest.json, explained in BENCHMARKS.md
# make bench-quick  the same at small sizes (under 2 min): quick.json
# PouchDB Server is installed from the npm registry into bench/node_modules
# (ignored), as pinned by bench/package-lock.json; fieldsync on PostgreSQL
# runs in the same run on a throwaway cluster (tests/pgcluster.py, pg-deps).
BENCH_B     := $(B)/bench
BENCH_NEEDS := /usr/bin/node:nodejs /usr/bin/npm:npm
.PHONY: bench bench-quick bench-build bench-deps
bench-deps: deps
	@missing=""; for pair in $(BENCH_NEEDS); do f=$${pair%%:*}; p=$${pair##*:}; \
	  command -v $$(basename $$f) >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends $$missing; fi
	@[ -x bench/node_modules/.bin/pouchdb-server ] || \
	  npm ci --prefix bench --no-audit --no-fund --loglevel=error

bench-build: $(B)/fieldsyncd $(BENCH_B)/loadgen $(BENCH_B)/lmdb_ceiling

# The load generator is a tool, not code under test: built from the protocol
# sources without the sanitizers (the asan build's libfsproto.a would need
# them at link time, and its leak check would judge the tool).
$(BENCH_B)/loadgen: bench/loadgen.c $(PROTO_SRC) | deps
	@mkdir -p $(dir $@)
	$(CC) $(FS_CFLAGS) -O2 -g -I. -o $@ $< $(PROTO_SRC) -lmsgpackc -lz -lpthread

$(BENCH_B)/lmdb_ceiling: bench/lmdb_ceiling.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(FS_CFLAGS) -O2 -g -o $@ $< -llmdb

bench: bench-deps pg-deps bench-build
	$(PY) bench/run.py

bench-quick: bench-deps pg-deps bench-build
	$(PY) bench/run.py --quick
