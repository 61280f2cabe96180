#!/usr/bin/env bash
# Installs what building lifeharness needs beyond Rust, from Debian's packages:
# cmake and libclang-dev (llama.cpp bindings), bubblewrap (the OS sandbox).
# Safe to run again: it installs only what is missing.
set -euo pipefail
need=()
command -v cmake >/dev/null 2>&1 || need+=(cmake)
command -v bwrap >/dev/null 2>&1 || need+=(bubblewrap)
ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1 || need+=(libclang-dev)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${need[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
