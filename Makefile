# bitask: build, test, install. `make help` lists the targets.
#
#   make                 release libbitask.so.$(VERSION) (SONAME libbitask.so.$(ABI_MAJOR)), its
#                        symlinks, libbitask.a, bitask.h and the `bitask` tool, in build/
#   make demo            all of that, then a short session of the tool on a fresh directory
#   make test            cargo test (Rust tests and the C harness, optimized with overflow
#                        checks: CARGO_TEST_PROFILE=testing), the C tests under valgrind
#                        and under AddressSanitizer + UndefinedBehaviorSanitizer, the exported
#                        symbols, the CLI, an install into a temporary DESTDIR, and whatever
#                        the included makefiles add to TEST_EXTRA (the bindings' tests, and
#                        bitask 0.1.1's published tests: compat/compat.mk)
#   make install         PREFIX (/usr/local), DESTDIR, BINDIR, LIBDIR, INCLUDEDIR, PKGCONFIGDIR
#   make uninstall       removes what install put there (same variables)
#   make header          regenerates the committed include/bitask.h from src/ffi/
#
# Honours CARGO_TARGET_DIR, CC, CXX, CFLAGS, LDFLAGS.

PREFIX ?= /usr/local
EXEC_PREFIX ?= $(PREFIX)
BINDIR ?= $(EXEC_PREFIX)/bin
LIBDIR ?= $(EXEC_PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
DESTDIR ?=

CARGO ?= cargo
CARGO_TARGET_DIR ?= target
CXX ?= c++
CFLAGS ?= -O2 -g
LDFLAGS ?=
INSTALL ?= install
VALGRIND ?= valgrind
# The Cargo profile of `make test`'s Rust tests (Cargo.toml: release plus overflow checks).
CARGO_TEST_PROFILE ?= testing

# The crate's version names the library file; the ABI major (build.rs) names the SONAME.
VERSION := $(shell sed -n 's/^version = "\(.*\)"$$/\1/p' Cargo.toml | head -n 1)
ABI_MAJOR := $(shell sed -n 's/^const ABI_MAJOR: u32 = \([0-9]*\);$$/\1/p' build.rs)

B := build
CARGO_OUT := $(CARGO_TARGET_DIR)/release
SONAME := libbitask.so.$(ABI_MAJOR)
REALNAME := libbitask.so.$(VERSION)
LIB_FILES := $(B)/lib/$(REALNAME) $(B)/lib/$(SONAME) $(B)/lib/libbitask.so $(B)/lib/libbitask.a
HEADER := $(B)/include/bitask.h
CLI := $(B)/bin/bitask
RUST_SOURCES := $(shell find src -name '*.rs') Cargo.toml Cargo.lock build.rs cbindgen.toml

# The C tests: programs in c_tests/ that take a scratch directory (made when not given).
C_TESTS := test_api test_hostile test_threads test_multiprocess test_upgrade readme_example
TEST_CFLAGS := -std=c11 -O1 -g -Wall -Wextra -Werror -pedantic -pthread -I$(B)/include
TEST_CXXFLAGS := -std=c++17 -O1 -g -Wall -Wextra -Werror -pedantic -pthread -I$(B)/include
TEST_LIBS := -L$(B)/lib -lbitask -Wl,-rpath,'$$ORIGIN/../lib'
SANITIZE := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
VALGRIND_FLAGS := -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
	--show-leak-kinds=definite

.PHONY: all lib cli header demo test test-cargo test-valgrind test-valgrind-rust \
	test-sanitizers test-symbols test-cli test-install install uninstall clean help

all: $(LIB_FILES) $(HEADER) $(CLI)

lib: $(LIB_FILES) $(HEADER)

cli: $(CLI)

# --- building -------------------------------------------------------------------------

# Cargo decides what to rebuild; the stamp only spares calling it when no input changed.
$(B)/.cargo-release: $(RUST_SOURCES)
	$(CARGO) build --release --lib
	@mkdir -p $(B)
	@touch $@

$(B)/lib/$(REALNAME): $(B)/.cargo-release
	@mkdir -p $(B)/lib
	$(INSTALL) -m 755 $(CARGO_OUT)/libbitask.so $@

$(B)/lib/$(SONAME): $(B)/lib/$(REALNAME)
	ln -sf $(REALNAME) $@

$(B)/lib/libbitask.so: $(B)/lib/$(SONAME)
	ln -sf $(SONAME) $@

$(B)/lib/libbitask.a: $(B)/.cargo-release
	@mkdir -p $(B)/lib
	$(INSTALL) -m 644 $(CARGO_OUT)/libbitask.a $@

$(HEADER): include/bitask.h
	@mkdir -p $(B)/include
	$(INSTALL) -m 644 include/bitask.h $@

$(CLI): cli/bitask.c $(wildcard cli/*.h) $(HEADER) $(LIB_FILES)
	@mkdir -p $(B)/bin
	$(CC) $(CFLAGS) -std=c11 -Wall -Wextra -I$(B)/include -o $@ cli/bitask.c \
		-L$(B)/lib -lbitask -Wl,-rpath,'$$ORIGIN/../lib' $(LDFLAGS)

# Writes include/bitask.h from src/ffi/ (tests/header.rs fails while they differ).
header:
	BITASK_UPDATE_HEADER=1 $(CARGO) build --lib

demo: all
	sh cli/demo.sh $(CLI) $(B)/demo-db

# --- testing --------------------------------------------------------------------------

# Other makefiles add their test targets to TEST_EXTRA (bindings.mk defines test-bindings,
# compat.mk test-compat).
TEST_EXTRA ?=
ifneq ($(wildcard bindings/bindings.mk),)
TEST_EXTRA += test-bindings
endif

test: all
	$(MAKE) test-cargo
	$(MAKE) test-symbols
	$(MAKE) test-cli
	$(MAKE) test-valgrind
	$(MAKE) test-valgrind-rust
	$(MAKE) test-sanitizers
	$(MAKE) test-install
	$(foreach t,$(sort $(TEST_EXTRA)),$(MAKE) $(t) &&) true
	@echo "make test: all suites passed"

test-cargo:
	$(CARGO) test --profile $(CARGO_TEST_PROFILE) --features testkit

test-symbols: $(B)/lib/$(REALNAME)
	nm -D --defined-only $(B)/lib/$(REALNAME) | awk '{ print $$3 }' | sort \
		| diff -u c_tests/symbols.txt -
	@echo "test-symbols: the exports match c_tests/symbols.txt"

test-cli: $(CLI)
	bash c_tests/cli_test.sh $(CLI)

$(B)/tests/%: c_tests/%.c c_tests/harness.h $(HEADER) $(LIB_FILES)
	@mkdir -p $(B)/tests
	$(CC) $(TEST_CFLAGS) -o $@ $< $(TEST_LIBS)

$(B)/tests/test_cpp: c_tests/test_cpp.cpp $(HEADER) $(LIB_FILES)
	@mkdir -p $(B)/tests
	$(CXX) $(TEST_CXXFLAGS) -o $@ $< $(TEST_LIBS)

$(B)/tests-asan/%: c_tests/%.c c_tests/harness.h $(HEADER) $(LIB_FILES)
	@mkdir -p $(B)/tests-asan
	$(CC) $(TEST_CFLAGS) $(SANITIZE) -o $@ $< $(TEST_LIBS)

$(B)/tests-asan/test_cpp: c_tests/test_cpp.cpp $(HEADER) $(LIB_FILES)
	@mkdir -p $(B)/tests-asan
	$(CXX) $(TEST_CXXFLAGS) $(SANITIZE) -o $@ $< $(TEST_LIBS)

$(B)/tests-asan/bitask: cli/bitask.c $(wildcard cli/*.h) $(HEADER) $(LIB_FILES)
	@mkdir -p $(B)/tests-asan
	$(CC) $(TEST_CFLAGS) $(SANITIZE) -o $@ $< $(TEST_LIBS)

# The release library under valgrind: zero errors, zero definite leaks. The CLI runs its
# whole test script under valgrind too (exit 99 marks a valgrind error).
test-valgrind: $(addprefix $(B)/tests/,$(C_TESTS) test_cpp) $(CLI)
	@for t in $(C_TESTS) test_cpp; do \
		echo "valgrind $(B)/tests/$$t"; \
		d=$$(mktemp -d) && $(VALGRIND) $(VALGRIND_FLAGS) $(B)/tests/$$t "$$d/scratch"; \
		rc=$$?; rm -rf "$$d"; test $$rc = 0 || exit 1; \
	done
	@printf '#!/bin/sh\nexec %s %s --error-exitcode=99 "%s" "$$@"\n' '$(VALGRIND)' \
		'$(filter-out --error-exitcode=1,$(VALGRIND_FLAGS))' '$(abspath $(CLI))' \
		> $(B)/tests/bitask-under-valgrind
	@chmod +x $(B)/tests/bitask-under-valgrind
	bash c_tests/cli_test.sh $(B)/tests/bitask-under-valgrind

# The Rust unit tests of the unsafe code (the C boundary, the file layer, data files, and
# `sys`: futex, prefetch, coarse clock) under valgrind. (The C tests above already drive the real file
# layer, maps included, through the release library under valgrind.)
test-valgrind-rust:
	@exe=$$($(CARGO) test --profile $(CARGO_TEST_PROFILE) --features testkit --lib --no-run --message-format=json \
		2>/dev/null \
		| sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | head -n 1); \
	test -n "$$exe" || { echo "test-valgrind-rust: no unit-test binary"; exit 1; }; \
	echo "valgrind $$exe ffi:: vfs:: datafile:: sys::"; \
	$(VALGRIND) $(VALGRIND_FLAGS) "$$exe" --test-threads=2 ffi:: vfs:: datafile:: sys::

# The C tests and the CLI built with AddressSanitizer and UndefinedBehaviorSanitizer: any
# report fails the run (leaks included; the CLI's exit status 99 marks a report, since 1
# means "not found").
test-sanitizers: $(addprefix $(B)/tests-asan/,$(C_TESTS) test_cpp bitask)
	@for t in $(C_TESTS) test_cpp; do \
		echo "asan+ubsan $(B)/tests-asan/$$t"; \
		d=$$(mktemp -d) && ASAN_OPTIONS=detect_leaks=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 $(B)/tests-asan/$$t "$$d/scratch"; \
		rc=$$?; rm -rf "$$d"; test $$rc = 0 || exit 1; \
	done
	ASAN_OPTIONS=detect_leaks=1:exitcode=99 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=99 \
		bash c_tests/cli_test.sh $(B)/tests-asan/bitask

# Installs into a temporary DESTDIR and builds programs with pkg-config, dynamically and
# statically; then uninstalls.
test-install: all
	MAKE='$(MAKE)' bash c_tests/install_test.sh

# --- installing -----------------------------------------------------------------------

install: $(LIB_FILES) $(HEADER) $(CLI)
	$(INSTALL) -d '$(DESTDIR)$(LIBDIR)' '$(DESTDIR)$(INCLUDEDIR)' '$(DESTDIR)$(BINDIR)' \
		'$(DESTDIR)$(PKGCONFIGDIR)'
	$(INSTALL) -m 755 $(B)/lib/$(REALNAME) '$(DESTDIR)$(LIBDIR)/$(REALNAME)'
	ln -sf $(REALNAME) '$(DESTDIR)$(LIBDIR)/$(SONAME)'
	ln -sf $(SONAME) '$(DESTDIR)$(LIBDIR)/libbitask.so'
	$(INSTALL) -m 644 $(B)/lib/libbitask.a '$(DESTDIR)$(LIBDIR)/libbitask.a'
	$(INSTALL) -m 644 $(HEADER) '$(DESTDIR)$(INCLUDEDIR)/bitask.h'
	$(INSTALL) -m 755 $(CLI) '$(DESTDIR)$(BINDIR)/bitask'
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
		-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
		bitask.pc.in > '$(DESTDIR)$(PKGCONFIGDIR)/bitask.pc'
	@echo "installed bitask $(VERSION) under $(DESTDIR)$(PREFIX) (run ldconfig for a system directory)"

uninstall:
	rm -f '$(DESTDIR)$(LIBDIR)/$(REALNAME)' '$(DESTDIR)$(LIBDIR)/$(SONAME)' \
		'$(DESTDIR)$(LIBDIR)/libbitask.so' '$(DESTDIR)$(LIBDIR)/libbitask.a' \
		'$(DESTDIR)$(INCLUDEDIR)/bitask.h' '$(DESTDIR)$(BINDIR)/bitask' \
		'$(DESTDIR)$(PKGCONFIGDIR)/bitask.pc'

clean:
	rm -rf $(B)

help:
	@sed -n '3,/^$$/p' Makefile | sed 's/^# \{0,1\}//'

-include bench/bench.mk
-include bindings/bindings.mk
-include compat/compat.mk
-include fuzz/fuzz.mk
