# unpoold build. `make` builds build/unpoold; `make test` builds and runs
# every test, plain and under ASan+UBSan, and ends with "N passed, N failed".
#
# BUILD picks the output folder (several builds can coexist: build/,
# build/asan, ...). SAN=1 builds with AddressSanitizer + UBSan.

CC      ?= cc
BUILD   ?= build
SAN     ?=
PKGS     = libmicrohttpd libcjson libprotobuf-c
# HTTP/2 and TLS for the gRPC front end: only the daemon links them
# (server/grpc_conn.c).
GRPC_LIBS := $(shell pkg-config --libs libnghttp2 gnutls 2>/dev/null)
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN     = -Wall -Wextra -Werror
CFLAGS_BASE = -std=c11 -D_GNU_SOURCE -g $(WARN) -pthread -I. -I$(BUILD)/gen $(PKG_CFLAGS)
ifeq ($(SAN),1)
OPT      = -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
else ifeq ($(SAN),thread)
OPT      = -O1 -fno-omit-frame-pointer -fsanitize=thread
else
OPT      = -O2
endif
CFLAGS  ?=
ALL_CFLAGS = $(CFLAGS_BASE) $(OPT) $(CFLAGS)
LDLIBS   = $(PKG_LIBS) -lopenblas -lm -pthread
ifeq ($(SAN),1)
LDLIBS  += -fsanitize=address,undefined
endif
ifeq ($(SAN),thread)
LDLIBS  += -fsanitize=thread
# The kernels have no threads of their own (the pool hands them disjoint
# ranges), so they are built uninstrumented, at full speed, and TSan
# watches the rest. (This began as a necessity: the target_clones
# resolvers the kernels once used ran before the TSan runtime existed.)
$(BUILD)/kernels/%.o: OPT = -O2 -fno-omit-frame-pointer
endif

KERNEL_SRC = $(wildcard kernels/*.c)
# The toy op (tests/toy/) joins the library only in the test build made with
# CFLAGS=-DUP_TEST_TOY_OP: an op is a registry entry plus a kernel file.
ifneq ($(filter -DUP_TEST_TOY_OP,$(CFLAGS)),)
KERNEL_SRC += tests/toy/toy_op.c
endif
API_SRC    = $(wildcard api/*.c)
# The KServe v2 gRPC messages: C code generated from api/proto/ at build
# time (protoc-c), never committed.
PROTO_SRC  = $(wildcard api/proto/*.proto)
PROTO_GEN  = $(PROTO_SRC:api/proto/%.proto=$(BUILD)/gen/%.pb-c.c)
SERVER_SRC = $(wildcard server/*.c)
SERVER_ASM = $(wildcard server/*.S)
KERNEL_OBJ = $(KERNEL_SRC:%.c=$(BUILD)/%.o)
API_OBJ    = $(API_SRC:%.c=$(BUILD)/%.o) $(PROTO_GEN:%.c=%.o)
SERVER_OBJ = $(SERVER_SRC:%.c=$(BUILD)/%.o) $(SERVER_ASM:%.S=$(BUILD)/%.o)

UNIT_SRC   = $(wildcard tests/unit/test_*.c)
UNIT_BIN   = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
INTEG_SRC  = $(wildcard tests/integration/test_*.c)
INTEG_BIN  = $(INTEG_SRC:tests/integration/%.c=$(BUILD)/tests/%)
TEST_SUPPORT_SRC = $(wildcard tests/support/*.c)
TEST_SUPPORT_OBJ = $(TEST_SUPPORT_SRC:%.c=$(BUILD)/%.o)

.PHONY: all run test test-build clean bench fuzz docker-test scale-test k8s-validate openapi \
        openapi-check toy-op-test venv
all: $(BUILD)/unpoold

$(BUILD)/%.o: %.c | $(PROTO_GEN)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/%.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: api/proto/%.proto
	@mkdir -p $(BUILD)/gen
	protoc-c --c_out=$(BUILD)/gen --proto_path=api/proto $<

# Generated code is protoc-c's, not ours: built without -Werror.
$(BUILD)/gen/%.pb-c.o: $(BUILD)/gen/%.pb-c.c
	$(CC) $(filter-out -Werror,$(ALL_CFLAGS)) -c $< -o $@

# Every api file may include a generated header: make them first.
$(API_SRC:%.c=$(BUILD)/%.o): | $(PROTO_GEN)

# openapi.S embeds openapi.yaml with .incbin, which -MMD does not track.
$(BUILD)/server/openapi.o: openapi.yaml
$(BUILD)/server/playground_page.o: server/playground.html

# Objects are linked directly (not through the archives) so every object
# file is in every binary, whatever references it.
LIB_OBJ = $(API_OBJ) $(KERNEL_OBJ)

$(BUILD)/unpoold: $(SERVER_OBJ) $(LIB_OBJ)
	$(CC) $(ALL_CFLAGS) -o $@ $(SERVER_OBJ) $(LIB_OBJ) $(LDLIBS) $(GRPC_LIBS)

$(BUILD)/tests/test_%: tests/unit/test_%.c $(TEST_SUPPORT_OBJ) $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -o $@ $< $(TEST_SUPPORT_OBJ) $(LIB_OBJ) $(LDLIBS)

$(BUILD)/tests/test_%: tests/integration/test_%.c $(TEST_SUPPORT_OBJ) $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -o $@ $< $(TEST_SUPPORT_OBJ) $(LIB_OBJ) $(LDLIBS) -lcurl

$(BUILD)/tests/test_%: tests/toy/test_%.c $(TEST_SUPPORT_OBJ) $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -o $@ $< $(TEST_SUPPORT_OBJ) $(LIB_OBJ) $(LDLIBS)

# The allocation-failure test fails the Nth allocation of unpoold's own
# objects through linker wraps (tests/unit/test_alloc_failure.c).
$(BUILD)/tests/test_alloc_failure: LDLIBS += -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=aligned_alloc,--wrap=posix_memalign

$(BUILD)/tests/soak: tests/soak/soak.c $(TEST_SUPPORT_OBJ) $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -o $@ $< $(TEST_SUPPORT_OBJ) $(LIB_OBJ) $(LDLIBS) -lcurl

# tools/gen_openapi writes openapi.yaml's per-op parts from the registry.
$(BUILD)/tools/gen_openapi: tools/gen_openapi.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -o $@ $< $(LIB_OBJ) $(LDLIBS)

# Rewrite openapi.yaml's generated regions after a registry change; the
# test suite fails while the committed file differs (openapi-check).
openapi: $(BUILD)/tools/gen_openapi
	./$(BUILD)/tools/gen_openapi -w openapi.yaml

openapi-check: $(BUILD)/tools/gen_openapi
	./$(BUILD)/tools/gen_openapi --check openapi.yaml

# A test build with the toy op (tests/toy/, in build/toy): the op runs, is
# listed by GET /v1/ops, and appears in the openapi.yaml it generates.
toy-op-test:
	bash tests/toy/run.sh

test-build: $(BUILD)/unpoold $(UNIT_BIN) $(INTEG_BIN) $(BUILD)/tools/gen_openapi

# Serves on UNPOOLD_LISTEN (default 127.0.0.1:8080); every flag reads
# its UNPOOLD_* variable: `UNPOOLD_LISTEN=0.0.0.0:9000 make run`.
run: $(BUILD)/unpoold
	./$(BUILD)/unpoold

# Every test program prints one line per case and a closing
# "N passed, N failed"; tests/run_all.sh adds them up. The Python tests run
# with TEST_PYTHON; when it is unset, `make test` makes the test venv
# itself (VENV, default .venv: Debian's python3 -m venv
# --system-site-packages, so Debian's torch and numpy are seen, plus the
# PyPI tools of tests/requirements.txt) and runs them with it.
VENV ?= .venv
test:
	@if [ -z "$(TEST_PYTHON)" ]; then $(MAKE) --no-print-directory venv; fi
	TEST_PYTHON="$(or $(TEST_PYTHON),$(abspath $(VENV))/bin/python3)" bash tests/run_all.sh

venv: $(VENV)/.requirements-installed

$(VENV)/.requirements-installed: tests/requirements.txt
	test -x $(VENV)/bin/python3 || /usr/bin/python3 -m venv --system-site-packages $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r tests/requirements.txt
	touch $@

# libFuzzer targets for every decoder, FUZZ_SECONDS each (default 60).
fuzz:
	bash tests/fuzz/run.sh

# SOAK_REQUESTS (default 50000) mixed requests against an ASan+LSan daemon.
soak:
	bash tests/soak/run.sh

# The daemon and the integration tests under ThreadSanitizer; runs the
# concurrency, pool and suspend/resume tests.
tsan:
	bash tests/soak/tsan.sh

# The bench's ONNX Runtime side runs in the test venv (made here as for
# `make test`); oneDNN's needs Debian's libdnnl-dev (.ci/run installs it).
bench: $(BUILD)/unpoold
	@$(MAKE) --no-print-directory venv
	VENV="$(VENV)" BUILD="$(BUILD)" bash bench/run.sh

# Deployment (docker/): build the image (docker, or buildah from a
# debootstrapped base) and check it answers; three replicas behind nginx
# with one killed mid-load; schema check of the Kubernetes manifests.
docker-test:
	bash docker/test.sh

scale-test: $(BUILD)/unpoold
	BUILD=$(BUILD) bash tests/scale/scale_test.sh

k8s-validate:
	$(or $(TEST_PYTHON),python3) docker/validate_k8s.py

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
