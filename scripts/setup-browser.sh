#!/usr/bin/env bash
# Installs what scripts/browser-check.sh needs, from Debian's packages: Chromium (run headless),
# a font for the page's text, and python3 (drives Chromium over the DevTools protocol, standard
# library only). Safe to run again: it installs only what is missing.
#
#   bash scripts/setup-browser.sh          # install what is missing
#   bash scripts/setup-browser.sh --check  # print what is missing (one package per line), install nothing
#
# Recommends are skipped (--no-install-recommends): they pull in ~100 desktop packages (upower,
# udev, mesa, a notification daemon) that headless rendering with --disable-gpu does not use.
set -euo pipefail

check=0
if [ "${1:-}" = "--check" ]; then
  check=1
fi

have_cmd() {
  command -v "$1" >/dev/null 2>&1
}

have_font() {
  # Any TrueType/OpenType font will do; without one Chromium renders text as blank boxes.
  if have_cmd fc-list; then
    [ -n "$(fc-list 2>/dev/null | head -n 1)" ]
  else
    compgen -G "/usr/share/fonts/truetype/*/*.ttf" >/dev/null
  fi
}

need=()
have_cmd chromium || have_cmd chromium-browser || need+=(chromium)
have_font || need+=(fonts-dejavu-core)
have_cmd python3 || need+=(python3)

if [ "$check" -eq 1 ]; then
  for p in "${need[@]+"${need[@]}"}"; do echo "$p"; done
  exit 0
fi

if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup-browser: installing ${need[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if ! have_cmd chromium && ! have_cmd chromium-browser; then
  echo "setup-browser: chromium is still missing after installing it" >&2
  exit 1
fi
