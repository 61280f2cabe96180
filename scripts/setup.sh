#!/usr/bin/env bash
# Installs what building lifeharness needs beyond Rust, from Debian's packages:
# cmake and libclang-dev (llama.cpp bindings), bubblewrap (the OS sandbox).
# Safe to run again: it installs only what is missing.
#
#   bash scripts/setup.sh                 # install what is missing
#   bash scripts/setup.sh --check [ROOT]  # print what is missing (one package per line), install nothing;
#                                         # ROOT (default /) is where the library directories are looked up,
#                                         # so the detection can be tested against a fake tree.
set -euo pipefail

check=0
root=""
if [ "${1:-}" = "--check" ]; then
  check=1
  root="${2:-}"
  root="${root%/}"
fi

# bindgen loads libclang itself: libclang.so, or a versioned libclang-N.so.1 / libclang.so.N.
# libclang-cpp*.so (the C++ library a fresh image ships) is NOT libclang and does not count.
have_libclang() {
  if [ -n "${LIBCLANG_PATH:-}" ] && [ -z "$root" ]; then
    for f in "$LIBCLANG_PATH"/libclang.so "$LIBCLANG_PATH"/libclang-*.so.* "$LIBCLANG_PATH"/libclang.so.*; do
      [ -e "$f" ] && return 0
    done
  fi
  local dir f
  for dir in "$root"/usr/lib/llvm-*/lib "$root"/usr/lib/x86_64-linux-gnu "$root"/usr/lib/aarch64-linux-gnu "$root"/usr/lib "$root"/usr/local/lib; do
    [ -d "$dir" ] || continue
    for f in "$dir"/libclang.so "$dir"/libclang.so.* "$dir"/libclang-*.so "$dir"/libclang-*.so.*; do
      [ -e "$f" ] || continue
      case "$(basename "$f")" in
        libclang-cpp*) continue ;;
      esac
      return 0
    done
  done
  return 1
}

have_cmd() {
  if [ -n "$root" ]; then
    [ -x "$root/usr/bin/$1" ] || [ -x "$root/usr/local/bin/$1" ]
  else
    command -v "$1" >/dev/null 2>&1
  fi
}

need=()
have_cmd cmake || need+=(cmake)
have_cmd bwrap || need+=(bubblewrap)
have_libclang || need+=(libclang-dev)

if [ "$check" -eq 1 ]; then
  for p in "${need[@]+"${need[@]}"}"; do echo "$p"; done
  exit 0
fi

if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${need[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
if ! have_libclang; then
  echo "setup: libclang is still missing after installing libclang-dev (bindgen needs libclang.so)" >&2
  exit 1
fi
