#!/usr/bin/env bash
# Side-by-side benchmark of the embedded backend against llama.cpp's own
# `llama-completion` on the same GGUF files and the same prompt: prompt and
# generation tokens/s and peak RSS, medians of REPS cold runs each.
#
# llama.cpp comes from the source that `llama-cpp-python` vendors (PyPI
# sdist), built once with native CPU flags and cached under
# ~/.cache/lifeharness/ (about 10 minutes on 2 cores). CI does not run this.
#
#   bash scripts/bench-llamacpp.sh            # both embedded models
#   MODELS=smollm2-135m REPS=5 N_PREDICT=128 bash scripts/bench-llamacpp.sh
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/lifeharness"
LCPP_PY="${LCPP_PY:-0.3.36}"
TOOLS="$CACHE/llama.cpp-from-llama-cpp-python-$LCPP_PY"
MODELS="${MODELS:-smollm2-135m gemma3-270m}"
N_PREDICT="${N_PREDICT:-128}"
REPS="${REPS:-3}"
THREADS="${THREADS:-$(nproc)}"
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}"

if [ ! -x "$TOOLS/bin/llama-completion" ]; then
  echo "building llama-completion from llama-cpp-python $LCPP_PY's vendored llama.cpp (once)..." >&2
  tmp="$(mktemp -d)"
  python3 -m pip download --quiet --no-deps --no-binary=:all: -d "$tmp" "llama-cpp-python==$LCPP_PY"
  tar xzf "$tmp/llama_cpp_python-$LCPP_PY.tar.gz" -C "$tmp"
  src="$tmp/llama_cpp_python-$LCPP_PY/vendor/llama.cpp"
  cmake -S "$src" -B "$tmp/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
    -DBUILD_SHARED_LIBS=OFF -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF >/dev/null
  cmake --build "$tmp/build" --target llama-completion -j "$(nproc)" >/dev/null
  mkdir -p "$TOOLS/bin"
  cp "$tmp/build/bin/llama-completion" "$TOOLS/bin/"
  grep -m1 -h "GGML_VERSION_MINOR" "$src/ggml/CMakeLists.txt" > "$TOOLS/ggml-version" || true
  rm -rf "$tmp"
fi

cargo build --release --locked -p lifeharness-models --example bench_raw >&2
OURS="$CARGO_TARGET_DIR/release/examples/bench_raw"

# The prompt: the first ~6,000 characters of the tau2 retail policy (about 1.3k tokens).
PROMPT="$(mktemp)"
trap 'rm -f "$PROMPT"' EXIT
head -c 6000 crates/env-tau2/data/retail/policy.md > "$PROMPT"

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

printf '%-14s %-10s %12s %12s %12s\n' model side "prompt tok/s" "gen tok/s" "peak MiB"
for name in $MODELS; do
  "$OURS" "embedded:$name" "$PROMPT" 1 >/dev/null 2>&1 || true   # fetch the model if needed
  gguf="$(ls "$CACHE/models/$name/"*.gguf | head -1)"
  : > /tmp/lh-bench-ours.$$; : > /tmp/lh-bench-lcpp.$$
  for _ in $(seq "$REPS"); do
    "$OURS" "gguf:$gguf?threads=$THREADS&n_ctx=8192&n_batch=512" "$PROMPT" "$N_PREDICT" 2>/dev/null \
      | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["prompt_tok_s"], d["gen_tok_s"], d["peak_rss_mib"], d["prompt_tokens"])' \
      >> /tmp/lh-bench-ours.$$
    log="$( { /usr/bin/time -f 'MAXRSS %M' "$TOOLS/bin/llama-completion" -m "$gguf" -f "$PROMPT" \
      -n "$N_PREDICT" --ignore-eos --temp 0 -t "$THREADS" -c 8192 -b 512 -ub 512 \
      -no-cnv --no-warmup --simple-io </dev/null >/dev/null; } 2>&1 )"
    echo "$log" | python3 -c '
import re, sys
t = sys.stdin.read()
p = re.search(r"prompt eval time =.*?/\s*(\d+) tokens.*?([\d.]+) tokens per second", t)
g = re.search(r"\s eval time =.*?/\s*(\d+) runs.*?([\d.]+) tokens per second", t)
m = re.search(r"MAXRSS (\d+)", t)
print(p.group(2), g.group(2), int(m.group(1)) / 1024, p.group(1))
' >> /tmp/lh-bench-lcpp.$$
  done
  for side in ours lcpp; do
    f=/tmp/lh-bench-$side.$$
    label=$([ "$side" = ours ] && echo lifeharness || echo llama.cpp)
    printf '%-14s %-10s %12.1f %12.1f %12.1f   (prompt %s tokens, %s generated, %s runs)\n' "$name" "$label" \
      "$(cut -d' ' -f1 "$f" | median)" "$(cut -d' ' -f2 "$f" | median)" "$(cut -d' ' -f3 "$f" | median)" \
      "$(cut -d' ' -f4 "$f" | head -1)" "$N_PREDICT" "$REPS"
  done
  python3 - /tmp/lh-bench-ours.$$ /tmp/lh-bench-lcpp.$$ "$name" <<'PY'
import statistics, sys
ours = [list(map(float, l.split())) for l in open(sys.argv[1])]
lcpp = [list(map(float, l.split())) for l in open(sys.argv[2])]
med = lambda rows, i: statistics.median(r[i] for r in rows)
print(f"{sys.argv[3]:<14} {'ratio':<10} {med(ours,0)/med(lcpp,0):12.2f} {med(ours,1)/med(lcpp,1):12.2f} {med(ours,2)/med(lcpp,2):12.2f}   (ours / llama.cpp; goal >= 0.90 for speed)")
PY
  rm -f /tmp/lh-bench-ours.$$ /tmp/lh-bench-lcpp.$$
done
echo "llama.cpp: llama-completion from llama-cpp-python $LCPP_PY ($(cat "$TOOLS/ggml-version" 2>/dev/null | tr -d '\n')); threads $THREADS; OMP_WAIT_POLICY=$OMP_WAIT_POLICY" 
