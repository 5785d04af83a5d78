# The benchmark: `make bench` (included by the top Makefile; also usable alone as
# `make -f bench/bench.mk bench` from the repository root).
#
#   make bench-deps    install the peers' development packages (Debian)
#   make bench         build the release library and the benchmark, run it BENCH_REPEAT times,
#                      print the report and write it to $(BENCH_OUT)
#   make bench-quick   one short run (N = 100000) to check that everything works
#   make bench-scale   the scale group: BENCH_SCALE_KEYS keys (10000000; 16-byte keys,
#                      100-byte values) in bitask, LMDB and tkrzw, each in the same run: fill,
#                      overwrite, readrandom, open after the fill and overwrite (no
#                      compaction: bitask opens from the hints its seals wrote), open after
#                      compaction, anonymous RSS per key, disk per key. Not part of `make
#                      test`. 100M keys: BENCH_SCALE_KEYS=100000000 (about 30 GB of disk per
#                      store and 4 GB of memory for bitask's key directory)
#
# Settings (make variables or environment): BENCH_N (keys, 1000000), BENCH_REPEAT (runs whose
# median is reported, 3), BENCH_DIR (where the stores are written, bench/data), BENCH_STORES
# and BENCH_GROUPS (comma-separated subsets), BENCH_OUT (bench/results.md: the report),
# BENCH_RAW (bench/results.tsv: every figure of every run), BENCH_ARGS (more
# options for bench/build/bench, e.g. --max-seconds 5), CARGO_TARGET_DIR.
# A peer whose development package is missing is skipped with a message.
#
# The library: included by the top Makefile, the benchmark uses its release build (target
# `lib`: build/lib, build/include); alone, it runs `cargo build --release` and uses
# $(CARGO_TARGET_DIR)/release (default target/release) and include/.

BENCH_CC ?= cc
BENCH_CXX ?= c++
BENCH_CFLAGS ?= -O2 -g -std=gnu11 -Wall -Wextra
BENCH_CXXFLAGS ?= -O2 -g -std=c++17 -Wall -Wextra
BENCH_BUILD ?= bench/build
BENCH_N ?= 1000000
BENCH_REPEAT ?= 3
BENCH_DIR ?= bench/data
BENCH_OUT ?= bench/results.md
BENCH_RAW ?= bench/results.tsv
BENCH_ARGS ?=
BENCH_SCALE_KEYS ?= 10000000
BENCH_SCALE_STORES ?= bitask,lmdb,tkrzw
BENCH_SCALE_REPEAT ?= 1
BENCH_SCALE_OUT ?= bench/results-scale.md
BENCH_COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
ifdef LIB_FILES
BENCH_LIB_TARGET := lib
BITASK_SO ?= $(B)/lib/libbitask.so.$(ABI_MAJOR)
BITASK_INCLUDE ?= $(B)/include
else
BENCH_LIB_TARGET := bench-cargo
BITASK_SO ?= $(or $(CARGO_TARGET_DIR),target)/release/libbitask.so
BITASK_INCLUDE ?= include
endif


.PHONY: bench bench-quick bench-scale bench-build bench-lib bench-cargo bench-deps bench-clean

bench-build: bench-lib
	@mkdir -p $(BENCH_BUILD)
	$(BENCH_CC) $(BENCH_CFLAGS) -o $(BENCH_BUILD)/bench bench/main.c
	$(BENCH_CC) $(BENCH_CFLAGS) -o $(BENCH_BUILD)/limits bench/limits.c
	@# A copy of the library under its SONAME, beside the program that loads it: the run
	@# measures the library built now, whatever is rebuilt meanwhile.
	cp $(BITASK_SO) $(BENCH_BUILD)/libbitask.so.0
	$(BENCH_CC) $(BENCH_CFLAGS) -I$(BITASK_INCLUDE) -o $(BENCH_BUILD)/bench-bitask \
	    bench/workload.c bench/be_bitask.c -L$(BENCH_BUILD) -l:libbitask.so.0 \
	    -Wl,-rpath,'$$ORIGIN' -lpthread
	$(call bench_peer,lmdb,lmdb.h,-llmdb,liblmdb-dev)
	$(call bench_peer,leveldb,leveldb/c.h,-lleveldb,libleveldb-dev)
	$(call bench_peer,rocksdb,rocksdb/c.h,-lrocksdb,librocksdb-dev)
	$(call bench_peer,sqlite,sqlite3.h,-lsqlite3,libsqlite3-dev)
	@if printf '#include <tkrzw_dbm_hash.h>\n' | $(BENCH_CXX) -E -x c++ - >/dev/null 2>&1; then \
	    echo "  CXX   $(BENCH_BUILD)/bench-tkrzw"; \
	    $(BENCH_CC) $(BENCH_CFLAGS) -c -o $(BENCH_BUILD)/workload.o bench/workload.c && \
	    $(BENCH_CXX) $(BENCH_CXXFLAGS) -c -o $(BENCH_BUILD)/be_tkrzw.o bench/be_tkrzw.cc && \
	    $(BENCH_CXX) -o $(BENCH_BUILD)/bench-tkrzw $(BENCH_BUILD)/workload.o \
	        $(BENCH_BUILD)/be_tkrzw.o -ltkrzw -lpthread || exit 1; \
	else \
	    rm -f $(BENCH_BUILD)/bench-tkrzw; \
	    echo "bench: skipping tkrzw: libtkrzw-dev is not installed (make bench-deps)"; \
	fi

bench-deps:
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y build-essential liblmdb-dev libleveldb-dev \
	    librocksdb-dev libsqlite3-dev libtkrzw-dev

bench-lib: $(BENCH_LIB_TARGET)

bench-cargo:
	cargo build --release

# bench_peer,name,header,libs,package: builds bench-<name> when <header> compiles, else says
# why it is skipped. The check runs when the recipe runs, so `make bench-deps bench` works.
define bench_peer
	@if printf '#include <$(2)>\n' | $(BENCH_CC) -E -x c - >/dev/null 2>&1; then \
	    echo "  CC    $(BENCH_BUILD)/bench-$(1)"; \
	    $(BENCH_CC) $(BENCH_CFLAGS) -o $(BENCH_BUILD)/bench-$(1) bench/workload.c \
	        bench/be_$(1).c $(3) -lpthread || exit 1; \
	else \
	    rm -f $(BENCH_BUILD)/bench-$(1); \
	    echo "bench: skipping $(1): $(4) is not installed (make bench-deps)"; \
	fi
endef

bench: bench-build
	$(BENCH_BUILD)/bench --n $(BENCH_N) --repeat $(BENCH_REPEAT) --dir $(BENCH_DIR) \
	    --out $(BENCH_OUT) --raw $(BENCH_RAW) --commit "$(BENCH_COMMIT)" \
	    $(if $(BENCH_STORES),--stores $(BENCH_STORES)) $(if $(BENCH_GROUPS),--groups $(BENCH_GROUPS)) \
	    $(BENCH_ARGS)
	@echo "bench: report written to $(BENCH_OUT)"

bench-quick: bench-build
	$(BENCH_BUILD)/bench --n 100000 --repeat 1 --dir $(BENCH_DIR) --quick-limits \
	    --out $(BENCH_BUILD)/quick.md $(if $(BENCH_STORES),--stores $(BENCH_STORES)) \
	    $(if $(BENCH_GROUPS),--groups $(BENCH_GROUPS)) $(BENCH_ARGS)

# The figures that scale with the keys; the read group's readrandom (N reads, stopped after
# --max-seconds) and open after the fill, the reopen group's open after compaction.
bench-scale: bench-build
	$(BENCH_BUILD)/bench --n $(BENCH_SCALE_KEYS) --repeat $(BENCH_SCALE_REPEAT) --dir $(BENCH_DIR) \
	    --out $(BENCH_SCALE_OUT) --raw $(BENCH_SCALE_OUT:.md=.tsv) --commit "$(BENCH_COMMIT)" \
	    --stores $(BENCH_SCALE_STORES) --groups fill,read,compact,reopen --quick-limits \
	    $(BENCH_ARGS)
	@echo "bench: report written to $(BENCH_SCALE_OUT)"

bench-clean:
	rm -rf $(BENCH_BUILD) $(BENCH_DIR) $(BENCH_OUT) $(BENCH_RAW) $(BENCH_SCALE_OUT) \
	    $(BENCH_SCALE_OUT:.md=.tsv)
