# bitask: build, test, install. `make help` lists the targets.
#
#   make                 release libbitask.so.$(VERSION) (SONAME libbitask.so.$(ABI_MAJOR)), its
#                        symlinks, libbitask.a, bitask.h and the `bitask` tool, in build/
#   make demo            all of that, then a short session of the tool on a fresh directory
#   make test            cargo test (Rust tests and the C harness, optimized with overflow
#                        checks: CARGO_TEST_PROFILE=testing), the C tests under valgrind
#                        and under AddressSanitizer + UndefinedBehaviorSanitizer, the exported
#                        symbols, the CLI, the manual pages, an install into a temporary
#                        DESTDIR, the Debian packages (built, linted, installed, used,
#                        removed; skipped without the tools or root, except under CI=true),
#                        and whatever the included makefiles add to TEST_EXTRA (the
#                        bindings' tests, and bitask 0.1.1's published tests: compat/compat.mk)
#   make install         PREFIX (/usr/local), DESTDIR, BINDIR, LIBDIR, INCLUDEDIR,
#                        PKGCONFIGDIR, DATAROOTDIR, DOCDIR, MANDIR, RUNPATH (the installed
#                        tool's; by default none for a system LIBDIR, else LIBDIR relative to
#                        BINDIR; write $ORIGIN as $$ORIGIN on the command line)
#   make install-strip   install, then strip the installed library, archive and tool
#   make uninstall       removes what install put there (same variables)
#   make deb             the Debian packages libbitask0, libbitask-dev and bitask-tools (and
#                        their -dbgsym), in build/deb/, with dpkg-buildpackage (needs debhelper,
#                        and cargo on PATH)
#   make header          regenerates the committed include/bitask.h from src/ffi/
#
# Honours CARGO_TARGET_DIR, CC, CXX, CPPFLAGS, CFLAGS, LDFLAGS, STRIP.

PREFIX ?= /usr/local
EXEC_PREFIX ?= $(PREFIX)
BINDIR ?= $(EXEC_PREFIX)/bin
LIBDIR ?= $(EXEC_PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
DATAROOTDIR ?= $(PREFIX)/share
DOCDIR ?= $(DATAROOTDIR)/doc/bitask
MANDIR ?= $(DATAROOTDIR)/man
DESTDIR ?=

CARGO ?= cargo
CARGO_TARGET_DIR ?= target
CXX ?= c++
CPPFLAGS ?=
CFLAGS ?= -O2 -g
LDFLAGS ?=
INSTALL ?= install
STRIP ?= strip
VALGRIND ?= valgrind
# The Cargo profile of `make test`'s Rust tests (Cargo.toml: release plus overflow checks).
CARGO_TEST_PROFILE ?= testing

# The crate's version names the library file; the ABI major (build.rs) names the SONAME.
VERSION := $(shell sed -n 's/^version = "\(.*\)"$$/\1/p' Cargo.toml | head -n 1)
ABI_MAJOR := $(shell sed -n 's/^const ABI_MAJOR: u32 = \([0-9]*\);$$/\1/p' build.rs)
# The project's address, for bitask.pc.
URL := $(shell sed -n 's/^repository = "\(.*\)"$$/\1/p' Cargo.toml)

# The run path of the installed tool. None when LIBDIR is a directory the dynamic loader
# searches anyway (the compiler's multiarch one, Debian's /usr/lib/x86_64-linux-gnu, among
# them): there a RUNPATH would only override the system's choice, and Debian forbids it.
# Else LIBDIR relative to BINDIR, so that a moved tree keeps working.
MULTIARCH = $(shell $(CC) -print-multiarch 2>/dev/null)
SYSTEM_LIBDIRS = /lib /usr/lib /lib64 /usr/lib64 $(addprefix /lib/,$(MULTIARCH)) \
	$(addprefix /usr/lib/,$(MULTIARCH))
RUNPATH ?= $(if $(filter $(SYSTEM_LIBDIRS),$(patsubst %/,%,$(LIBDIR))),,$$ORIGIN/$(shell \
	realpath -m --relative-to='$(BINDIR)' '$(LIBDIR)'))

B := build
CARGO_OUT := $(CARGO_TARGET_DIR)/release
SONAME := libbitask.so.$(ABI_MAJOR)
REALNAME := libbitask.so.$(VERSION)
LIB_FILES := $(B)/lib/$(REALNAME) $(B)/lib/$(SONAME) $(B)/lib/libbitask.so $(B)/lib/libbitask.a
HEADER := $(B)/include/bitask.h
CLI := $(B)/bin/bitask
# The tool that `make install` installs: the same, but with the installed RUNPATH.
INSTALL_CLI := $(B)/install/bitask
# `man bitask_open` and the like show bitask(3).
MAN_LINKS := $(shell cat c_tests/symbols.txt)
RUST_SOURCES := $(shell find src -name '*.rs') Cargo.toml Cargo.lock build.rs

# The C tests: programs in c_tests/ that take a scratch directory (made when not given).
C_TESTS := test_api test_hostile test_threads test_multiprocess test_upgrade test_tools readme_example
TEST_CFLAGS := -std=c11 -O1 -g -Wall -Wextra -Werror -pedantic -pthread -I$(B)/include
TEST_CXXFLAGS := -std=c++17 -O1 -g -Wall -Wextra -Werror -pedantic -pthread -I$(B)/include
TEST_LIBS := -L$(B)/lib -lbitask -Wl,-rpath,'$$ORIGIN/../lib'
SANITIZE := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
VALGRIND_FLAGS := -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
	--show-leak-kinds=definite

.PHONY: all lib cli header demo test test-cargo test-valgrind test-valgrind-rust \
	test-sanitizers test-symbols test-cli test-man test-install test-deb install \
	install-strip uninstall deb clean help

all: $(LIB_FILES) $(HEADER) $(CLI) $(INSTALL_CLI)

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
	$(INSTALL) -m 644 $(CARGO_OUT)/libbitask.so $@

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

# $(call link_cli,OUTPUT,RUNPATH): the tool, linked against build/lib (LDFLAGS before the
# libraries, where -Wl,--as-needed and the like take effect).
comma := ,
link_cli = $(CC) $(CPPFLAGS) $(CFLAGS) -std=c11 -Wall -Wextra -I$(B)/include $(LDFLAGS) \
	-o $(1) cli/bitask.c -L$(B)/lib -lbitask $(if $(2),-Wl$(comma)-rpath$(comma)'$(2)')

# In build/bin it finds build/lib beside it, for the tests and the demo.
$(CLI): cli/bitask.c $(wildcard cli/*.h) $(HEADER) $(LIB_FILES)
	@mkdir -p $(B)/bin
	$(call link_cli,$@,$$ORIGIN/../lib)

# The stamp holds the installed run path, so that a change of LIBDIR or BINDIR relinks.
$(B)/install/runpath: FORCE
	@mkdir -p $(@D)
	@printf '%s\n' '$(RUNPATH)' | cmp -s - $@ || printf '%s\n' '$(RUNPATH)' >$@

$(INSTALL_CLI): cli/bitask.c $(wildcard cli/*.h) $(HEADER) $(LIB_FILES) $(B)/install/runpath
	$(call link_cli,$@,$(RUNPATH))

FORCE:

# Writes include/bitask.h from src/ffi/: the test that fails while they differ
# (tests/header.rs, which runs cbindgen) writes it instead.
header:
	BITASK_UPDATE_HEADER=1 $(CARGO) test --profile $(CARGO_TEST_PROFILE) --test header

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
	$(MAKE) test-man
	$(MAKE) test-valgrind
	$(MAKE) test-valgrind-rust
	$(MAKE) test-sanitizers
	$(MAKE) test-install
	$(MAKE) test-deb
	$(foreach t,$(sort $(TEST_EXTRA)),$(MAKE) $(t) &&) true
	@echo "make test: all suites passed"

test-cargo:
	$(CARGO) test --profile $(CARGO_TEST_PROFILE) --features testkit --no-fail-fast

# The exports, c_tests/symbols.txt and the Debian symbols file name the same functions (the
# crate's package has no debian/, as Cargo.toml excludes it).
test-symbols: $(B)/lib/$(REALNAME)
	nm -D --defined-only $(B)/lib/$(REALNAME) | awk '{ print $$3 }' | sort \
		| diff -u c_tests/symbols.txt -
ifneq ($(wildcard debian/libbitask0.symbols),)
	sed -n 's/^ \([^ @]*\)@Base .*/\1/p' debian/libbitask0.symbols | sort \
		| diff -u --label c_tests/symbols.txt --label debian/libbitask0.symbols \
		c_tests/symbols.txt -
	@echo "test-symbols: the exports match c_tests/symbols.txt and debian/libbitask0.symbols"
else
	@echo "test-symbols: the exports match c_tests/symbols.txt (no debian/ here)"
endif

test-cli: $(CLI)
	bash c_tests/cli_test.sh $(CLI)

# The manual pages render cleanly and match the header and `bitask --help`.
test-man: $(CLI)
	bash c_tests/man_test.sh $(CLI)

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

# make deb, lintian on the packages, then installs them on this machine, builds and runs the
# README's example with pkg-config and the tool, and removes them (c_tests/deb_test.sh).
test-deb:
	MAKE='$(MAKE)' bash c_tests/deb_test.sh

# --- installing -----------------------------------------------------------------------

# bitask.pc's directories relative to ${prefix} or ${exec_prefix} when they lie under them,
# so that pkg-config's --define-variable=prefix=... moves them all.
# $(call pc_dir,DIR,BASE,NAME): DIR with BASE written ${NAME}.
pc_dir = $(if $(filter $(2),$(1)),$${$(3)},$(patsubst $(2)/%,$${$(3)}/%,$(1)))
PC_EXEC_PREFIX = $(call pc_dir,$(EXEC_PREFIX),$(PREFIX),prefix)
PC_LIBDIR = $(if $(filter $(EXEC_PREFIX)/%,$(LIBDIR)),$(call \
	pc_dir,$(LIBDIR),$(EXEC_PREFIX),exec_prefix),$(call pc_dir,$(LIBDIR),$(PREFIX),prefix))
PC_INCLUDEDIR = $(call pc_dir,$(INCLUDEDIR),$(PREFIX),prefix)

# The shared library is 0644 (it is mapped, not executed); nothing is stripped here
# (install-strip does that), so that a debugger finds the release build's line tables.
install: $(LIB_FILES) $(HEADER) $(INSTALL_CLI)
	$(INSTALL) -d '$(DESTDIR)$(LIBDIR)' '$(DESTDIR)$(INCLUDEDIR)' '$(DESTDIR)$(BINDIR)' \
		'$(DESTDIR)$(PKGCONFIGDIR)' '$(DESTDIR)$(MANDIR)/man1' '$(DESTDIR)$(MANDIR)/man3' \
		'$(DESTDIR)$(DOCDIR)/docs'
	$(INSTALL) -m 644 $(B)/lib/$(REALNAME) '$(DESTDIR)$(LIBDIR)/$(REALNAME)'
	ln -sf $(REALNAME) '$(DESTDIR)$(LIBDIR)/$(SONAME)'
	ln -sf $(SONAME) '$(DESTDIR)$(LIBDIR)/libbitask.so'
	$(INSTALL) -m 644 $(B)/lib/libbitask.a '$(DESTDIR)$(LIBDIR)/libbitask.a'
	$(INSTALL) -m 644 $(HEADER) '$(DESTDIR)$(INCLUDEDIR)/bitask.h'
	$(INSTALL) -m 755 $(INSTALL_CLI) '$(DESTDIR)$(BINDIR)/bitask'
	$(INSTALL) -m 644 man/bitask.1 '$(DESTDIR)$(MANDIR)/man1/bitask.1'
	$(INSTALL) -m 644 man/bitask.3 '$(DESTDIR)$(MANDIR)/man3/bitask.3'
	for f in $(MAN_LINKS); do ln -sf bitask.3 '$(DESTDIR)$(MANDIR)/man3/'"$$f.3" || exit 1; done
	$(INSTALL) -m 644 README.md LICENSE '$(DESTDIR)$(DOCDIR)'
	$(INSTALL) -m 644 docs/*.md '$(DESTDIR)$(DOCDIR)/docs'
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@EXEC_PREFIX@|$(PC_EXEC_PREFIX)|' \
		-e 's|@LIBDIR@|$(PC_LIBDIR)|' -e 's|@INCLUDEDIR@|$(PC_INCLUDEDIR)|' \
		-e 's|@VERSION@|$(VERSION)|' -e 's|@URL@|$(URL)|' \
		bitask.pc.in > '$(DESTDIR)$(PKGCONFIGDIR)/bitask.pc'
	@echo "installed bitask $(VERSION) under $(DESTDIR)$(PREFIX) (run ldconfig for a system directory)"

# The library and the tool lose their symbol tables and debug information; the archive only
# its debug information, since its symbol tables are what programs link against.
install-strip: install
	$(STRIP) --strip-unneeded '$(DESTDIR)$(LIBDIR)/$(REALNAME)'
	$(STRIP) '$(DESTDIR)$(BINDIR)/bitask'
	$(STRIP) --strip-debug '$(DESTDIR)$(LIBDIR)/libbitask.a'

uninstall:
	rm -f '$(DESTDIR)$(LIBDIR)/$(REALNAME)' '$(DESTDIR)$(LIBDIR)/$(SONAME)' \
		'$(DESTDIR)$(LIBDIR)/libbitask.so' '$(DESTDIR)$(LIBDIR)/libbitask.a' \
		'$(DESTDIR)$(INCLUDEDIR)/bitask.h' '$(DESTDIR)$(BINDIR)/bitask' \
		'$(DESTDIR)$(PKGCONFIGDIR)/bitask.pc' '$(DESTDIR)$(MANDIR)/man1/bitask.1' \
		'$(DESTDIR)$(MANDIR)/man3/bitask.3' \
		$(foreach f,$(MAN_LINKS),'$(DESTDIR)$(MANDIR)/man3/$(f).3') \
		'$(DESTDIR)$(DOCDIR)/README.md' '$(DESTDIR)$(DOCDIR)/LICENSE' \
		$(foreach f,$(wildcard docs/*.md),'$(DESTDIR)$(DOCDIR)/$(f)')

# --- Debian packages ------------------------------------------------------------------

DEB_DIR := $(B)/deb
DEB_SRC := $(DEB_DIR)/bitask-$(VERSION)
# The build profile that leaves cargo and rustc out of the build dependencies dpkg checks:
# here the Rust toolchain is rustup's, which dpkg does not know (debian/rules checks that
# cargo is on PATH instead). Empty, dpkg asks for Debian's cargo and rustc (>= 1.85).
DEB_BUILD_PROFILES ?= pkg.bitask.rustup

# dpkg-buildpackage writes its packages beside the source tree, so it builds a copy of the
# work tree (in a git checkout the files git tracks or would track, as they are now; else all
# but build/ and target/) in $(DEB_DIR), with its own Cargo target directory there, and never
# touches the parent of this checkout.
deb:
	@v=$$(dpkg-parsechangelog -S Version) && test "$$v" = '$(VERSION)' || { echo "make deb:" \
		"debian/changelog is at $$v, Cargo.toml at $(VERSION): add a changelog entry"; exit 1; }
	rm -rf '$(DEB_SRC)' $(DEB_DIR)/*.deb $(DEB_DIR)/*.changes $(DEB_DIR)/*.buildinfo
	mkdir -p '$(DEB_SRC)'
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
		git ls-files -z --cached --others --exclude-standard --deduplicate \
		| tar --null --ignore-failed-read -T - -cf -; \
	else tar --exclude=./build --exclude=./target --exclude-vcs -cf - .; fi \
		| tar -C '$(DEB_SRC)' -xf -
	cd '$(DEB_SRC)' && CARGO_TARGET_DIR='$(abspath $(DEB_DIR))/target' \
		dpkg-buildpackage -b --no-sign $(if $(DEB_BUILD_PROFILES),-P$(DEB_BUILD_PROFILES))
	@ls -l $(DEB_DIR)/*.deb

clean:
	rm -rf $(B)

help:
	@sed -n '3,/^$$/p' Makefile | sed 's/^# \{0,1\}//'

-include bench/bench.mk
-include bindings/bindings.mk
-include compat/compat.mk
-include fuzz/fuzz.mk
