# Go and Zig bindings. Included by the top Makefile (`-include bindings/bindings.mk`).
#
#   make test-bindings   stage `make install DESTDIR=$(BINDINGS_STAGE) PREFIX=/usr`, point
#                        pkg-config and the loader at it, and run the Go and Zig tests
#                        (bindings/test-bindings.sh). A missing go or zig is skipped with a
#                        message, except with CI=true, where it is an error.
#
# `make test` runs it too (through TEST_EXTRA).

BINDINGS_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
BINDINGS_STAGE ?= $(CURDIR)/build/bindings-stage

TEST_EXTRA += test-bindings

.PHONY: test-bindings
test-bindings:
	BINDINGS_STAGE='$(BINDINGS_STAGE)' MAKE='$(MAKE)' sh '$(BINDINGS_DIR)/test-bindings.sh'
