# The tests bitask 0.1.1 published, run unchanged against this crate and its tool. Included by
# the top Makefile (`-include compat/compat.mk`).
#
#   make test-compat   fetch the crate bitask 0.1.1 with cargo, copy its three test files into
#                      a scratch package in $(CARGO_TARGET_DIR)/compat-0.1.1 that depends on
#                      this repository, run them there, and check that exactly the deliberate
#                      differences fail (compat/run-0.1.1-tests.sh). Without the registry and
#                      without the crate in Cargo's cache it is skipped with a message, except
#                      with CI=true, where it is an error.
#
# `make test` runs it too (through TEST_EXTRA).

COMPAT_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))

TEST_EXTRA += test-compat

.PHONY: test-compat
test-compat: $(CLI)
	CARGO='$(CARGO)' CARGO_TARGET_DIR='$(CARGO_TARGET_DIR)' BITASK_CLI='$(abspath $(CLI))' \
		sh '$(COMPAT_DIR)/run-0.1.1-tests.sh'
