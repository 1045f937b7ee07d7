# strata: common tasks. Cargo comes from rustup in ~/.cargo/bin. test, demo, bench and
# install first check (and as root on Debian/Ubuntu install) what they need: scripts/deps.sh.
SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(PATH)

PREFIX ?= /usr/local
DESTDIR ?=
# A prebuilt strata (and strata-helper next to it) for demo and install, instead of a build.
STRATA_BIN ?=
export PREFIX DESTDIR STRATA_BIN

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
	scripts/install.sh install

uninstall:
	scripts/install.sh uninstall
