# Fuzzing, included by the top Makefile. `make fuzz` runs each fuzz target (fuzz/targets.rs:
# record, hint, recovery, api) for FUZZ_SECONDS (default 60) under a seeded-random driver
# guided by the targets' features (fuzz/driver.rs; cargo-fuzz needs a nightly toolchain).
# The committed corpus is fuzz/corpus/<target>/, which `cargo test` replays; a failing input
# is written to fuzz/artifacts/<target>/. FUZZ_TARGETS=record,hint picks targets,
# FUZZ_SEED=<n> repeats a run, FUZZ_SAVE=1 adds the inputs that found new features to the
# corpus. See docs/reliability.md.

FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=
CARGO ?= cargo
CARGO_TEST_PROFILE ?= testing

.PHONY: fuzz
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_TARGETS=$(FUZZ_TARGETS) \
		$(CARGO) test --profile $(CARGO_TEST_PROFILE) --features testkit --test fuzz_replay -- \
		--ignored --exact fuzz_run --nocapture
