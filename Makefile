# strata: common tasks. Cargo comes from rustup in ~/.cargo/bin.
SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(PATH)

.PHONY: build test demo bench lint

build:
	cargo build --release --workspace

test:
	scripts/test.sh

demo:
	scripts/demo.sh

bench:
	scripts/bench.sh

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

# The Debian package (packaging/README.md): target/deb/strata_VERSION_ARCH.deb.
.PHONY: deb
deb:
	packaging/build-deb.sh
