# strata: common tasks. Cargo comes from rustup in ~/.cargo/bin. test, demo, bench and
# install first check (and as root on Debian/Ubuntu install) what they need: scripts/deps.sh.
SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(PATH)

# make install: where (PREFIX), and a staging root (DESTDIR). demo and install also take
# STRATA_BIN=PATH, a prebuilt strata (with strata-helper next to it) instead of a build;
# like every variable given on make's command line, it reaches the scripts' environment.
PREFIX ?= /usr/local
DESTDIR ?=

.PHONY: build test demo bench lint install uninstall

build:
	scripts/deps.sh build
	cargo build --release --workspace

test:
	scripts/deps.sh test
	scripts/test.sh

demo:
	scripts/deps.sh demo
	scripts/demo.sh

bench:
	scripts/deps.sh bench
	scripts/bench.sh

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

install:
	scripts/deps.sh install
	PREFIX='$(PREFIX)' DESTDIR='$(DESTDIR)' scripts/install.sh install

uninstall:
	PREFIX='$(PREFIX)' DESTDIR='$(DESTDIR)' scripts/install.sh uninstall

# The Debian package (packaging/README.md): target/deb/strata_VERSION_ARCH.deb.
.PHONY: deb
deb:
	packaging/build-deb.sh

# Issue 13's suites at full size (hostile archives and registries, 30 kills an operation,
# concurrency, full disk) and their one table: scripts/hardening.sh. Not in CI.
.PHONY: hardening
hardening:
	scripts/deps.sh test
	scripts/hardening.sh

# cargo-fuzz targets (fuzz/): each for FUZZ_SECONDS (default 600), one after another,
# under nice; prints runs, execs/s, coverage and crashes: scripts/fuzz.sh. Needs nightly
# and cargo-fuzz. Not in CI, not in make test.
.PHONY: fuzz
fuzz:
	FUZZ_SECONDS='$(or $(FUZZ_SECONDS),600)' scripts/fuzz.sh $(FUZZ_TARGETS)
