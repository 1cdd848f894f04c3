# fieldsync — build, run, test.
#   make          build everything into build/
#   make run      build, install what is missing, serve the demo property
#   make test     build and run the whole suite
# Debian packages that are missing are installed with apt-get (as root).

CC      ?= cc
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter \
           -Wshadow -Wstrict-prototypes -fno-strict-aliasing -pthread
LDLIBS  += -llmdb -lmsgpackc -lz -lssl -lcrypto -lpthread -lm
B       := build
CW_DIR  := $(B)/third_party/civetweb
PY      := /usr/bin/python3

# Debian packages the build and the tests need: header or file -> package.
DEB_NEEDS := /usr/include/lmdb.h:liblmdb-dev \
             /usr/include/msgpack.h:libmsgpack-dev \
             /usr/include/zlib.h:zlib1g-dev \
             /usr/include/openssl/ssl.h:libssl-dev \
             /usr/include/cmocka.h:libcmocka-dev \
             /usr/bin/openssl:openssl \
             /usr/bin/python3:python3 \
             /usr/lib/python3/dist-packages/msgpack/__init__.py:python3-msgpack \
             /usr/bin/curl:curl \
             /usr/bin/cc:gcc \
             /usr/bin/xz:xz-utils \
             /usr/bin/dpkg-source:dpkg-dev

PROTO_SRC  := $(sort $(wildcard protocol/*.c) $(wildcard schema/*.c))
SERVER_SRC := $(sort $(filter-out server/main.c,$(wildcard server/*.c)))
PROTO_OBJ  := $(PROTO_SRC:%.c=$(B)/obj/%.o)
SERVER_OBJ := $(SERVER_SRC:%.c=$(B)/obj/%.o)
CW_OBJ     := $(B)/obj/civetweb.o
UNIT_SRC   := $(sort $(wildcard tests/unit/test_*.c))
SRVT_SRC   := $(sort $(wildcard tests/server/test_*.c))
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%) \
              $(SRVT_SRC:tests/server/%.c=$(B)/tests/%)
SHIM       := $(B)/tests/syncshim.so

.PHONY: all deps run test unit integration clean
all: deps $(B)/fieldsyncd $(UNIT_BIN) $(SHIM)

# ---- dependencies ----------------------------------------------------------
$(B)/.deps:
	@missing=""; for pair in $(DEB_NEEDS); do f=$${pair%%:*}; p=$${pair##*:}; \
	  [ -e "$$f" ] || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
	@mkdir -p $(B) && touch $@
deps: $(B)/.deps

$(CW_DIR)/src/civetweb.c: | $(B)/.deps
	sh deploy/fetch-civetweb.sh $(B)/third_party

# CivetWeb 1.15 from Debian's source package, built for OpenSSL 3.
$(CW_OBJ): $(CW_DIR)/src/civetweb.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -pthread -w -DOPENSSL_API_3_0 -DNO_SSL_DL -DUSE_WEBSOCKET \
	  -DUSE_IPV6 -DNO_CGI -DNO_FILES_WRITE -DMG_EXPERIMENTAL_INTERFACES \
	  -I$(CW_DIR)/include -c $< -o $@

# ---- our code --------------------------------------------------------------
$(B)/obj/%.o: %.c | $(B)/.deps $(CW_DIR)/src/civetweb.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -I. -I$(CW_DIR)/include -c $< -o $@

$(B)/libfsproto.a: $(PROTO_OBJ)
	ar rcs $@ $^

$(B)/fieldsyncd: $(B)/obj/server/main.o $(SERVER_OBJ) $(B)/libfsproto.a $(CW_OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# tests/unit: protocol and schema only; tests/server: the server's modules too.
$(B)/tests/%: tests/unit/%.c $(B)/libfsproto.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -I. -o $@ $^ $(LDLIBS) -lcmocka

$(B)/tests/%: tests/server/%.c $(SERVER_OBJ) $(B)/libfsproto.a $(CW_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -I. -I$(CW_DIR)/include -o $@ $^ $(LDLIBS) -lcmocka

$(SHIM): tests/shim/syncshim.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -shared -fPIC -o $@ $< -ldl

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)

# ---- use it ----------------------------------------------------------------
run: all
	sh deploy/run-demo.sh $(B)/fieldsyncd var/demo

unit: all
	@$(PY) tests/run_unit.py $(UNIT_BIN)

integration: all
	@$(PY) tests/integration/run.py --server $(B)/fieldsyncd --shim $(SHIM)

test: all
	@$(PY) tests/run_all.py --server $(B)/fieldsyncd --shim $(SHIM) $(UNIT_BIN)

clean:
	rm -rf $(B)
