# The one definition of where the build puts things. Sourced; expects
# $top (the repository root).
# shellcheck shell=bash
BIN_REL=x86_64-unknown-linux-musl/release/resume-init
BIN=$top/target/$BIN_REL
BIN_ARM64_REL=aarch64-unknown-linux-musl/release/resume-init
BIN_ARM64=$top/target/$BIN_ARM64_REL
