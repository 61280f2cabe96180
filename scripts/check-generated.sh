#!/usr/bin/env bash
# Fails when a generated file is stale. Regenerate with: bash scripts/check-generated.sh --write
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
cargo run -q --locked -p lifeharness-cli -- harness schema > "$tmp"
if [ "${1:-}" = "--write" ]; then
  cp "$tmp" schemas/harness.schema.json
  echo "wrote schemas/harness.schema.json"
elif ! diff -u schemas/harness.schema.json "$tmp"; then
  echo "schemas/harness.schema.json is stale: run bash scripts/check-generated.sh --write" >&2
  exit 1
fi
