#!/usr/bin/env bash
# The edgellm CLI on aarch64 Linux (a Raspberry Pi running Raspberry Pi OS 64-bit), checked
# under qemu-user against the x86-64 build on the same model, once per CPU model:
#   cortex-a53  (Raspberry Pi 3; NEON: the `neon` tier)
#   cortex-a76  (Raspberry Pi 5; NEON + dotprod: the `dotprod` tier)
#
# What must hold, per CPU model:
#   1. `tokenize --ids` gives the x86-64 build's ids for every test string (integer work).
#   2. `run --temp 0 --kernels scalar` prints the x86-64 build's scalar text, byte for byte:
#      the scalar reference is the same Rust code on both architectures (run on cortex-a53
#      only; the scalar path does not depend on the CPU model).
#   3. The CPU's own tier (auto) is as close to the scalar reference as the x86-64 SIMD tier
#      is: `perplexity --kl-divergence` against log-probabilities the x86-64 scalar build
#      saved. Any two tiers differ in float rounding, which flips some activation
#      quantizations (Q8_1 rounding), so the x86-64 auto tier itself sits at a mean KL of a few
#      10^-3 from scalar; the aarch64 tier must be within 2x that floor + $KL_SLACK, with the
#      same top-1 token at >= $MIN_TOP1 % of positions. A broken kernel is orders of magnitude
#      further. (Bit-identical tiers are issue #15 item 6; the figures are printed.)
#   4. `run --temp 0` on the CPU's tier generates text and names that tier.
#   5. A forced tier the CPU lacks (`--kernels dotprod` on cortex-a53) is one clear error.
#
# Environment:
#   EDGELLM_BIN     the x86-64 edgellm to compare with (default: target/debug/edgellm, built
#                   when missing)
#   MODEL           model file (default: SmolLM2 Q4_1 in ~/.cache/edgellm/models, which
#                   `edgellm fetch` puts there)
#   CPUS            CPU models (default "cortex-a53 cortex-a76")
#   QEMU_LD_PREFIX  sysroot for the dynamic loader (default /usr/aarch64-linux-gnu)
# Needs: rust target aarch64-unknown-linux-gnu, aarch64-linux-gnu-gcc, qemu-aarch64 (see
# .ci/run and ../../shared/ARM.md). Prints one `ok`/`FAILED` line per check; exits non-zero
# if any failed.
set -uo pipefail

cd "$(dirname "$0")/.."
CPUS="${CPUS:-cortex-a53 cortex-a76}"
SYSROOT="${QEMU_LD_PREFIX:-/usr/aarch64-linux-gnu}"
MODEL="${MODEL:-$HOME/.cache/edgellm/models/SmolLM2-135M-Instruct.Q4_1.gguf}"
X86="${EDGELLM_BIN:-$PWD/target/debug/edgellm}"
TARGET=aarch64-unknown-linux-gnu
A64="$PWD/target/$TARGET/release/edgellm"
KL_SLACK=0.002
MIN_TOP1=85
PROMPT="The three most useful things to know about Rust are"
N_GEN=24

for tool in qemu-aarch64 aarch64-linux-gnu-gcc; do
    command -v "$tool" >/dev/null || { echo "error: $tool not found (see shared/ARM.md)" >&2; exit 2; }
done
[ -r "$MODEL" ] || { echo "error: no model at $MODEL (run: edgellm fetch smollm2)" >&2; exit 2; }

echo "== building edgellm for $TARGET (release)"
cargo build -q --release -p edgellm --target "$TARGET" || { echo "error: aarch64 build failed" >&2; exit 1; }
if [ ! -x "$X86" ]; then
    echo "== building the x86-64 edgellm"
    cargo build -q -p edgellm || exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failed=0
checks=0

# check NAME CMD...: run a check, print ok/FAILED with its time.
check() {
    local name=$1 start=$SECONDS
    shift
    checks=$((checks + 1))
    if "$@"; then
        echo "ok: $name ($((SECONDS - start)) s)"
    else
        echo "FAILED: $name ($((SECONDS - start)) s)"
        failed=$((failed + 1))
    fi
}

# Each command runs in its own EDGELLM_HOME, with the model given by path: nothing is fetched.
export EDGELLM_HOME="$work/home"
x86() { "$X86" "$@"; }
a64() { qemu-aarch64 -L "$SYSROOT" -cpu "$cpu" "$A64" "$@"; }

# Strings whose tokenization exercises byte fallback, digits, code, whitespace runs,
# non-Latin scripts, emoji and a special token.
STRINGS=(
    "Hello, world! 12345 + 67890 = 80235"
    "fn main() {\n    println!(\"{}\", 0x1F);\n}"
    "Ünïcödé — 漢字かな交じり文, русский текст, العربية"
    "emoji 🦀🚀 and  multiple   spaces	tab"
    "<|im_start|>user\nHi<|im_end|>"
)

tokenize_equal() {
    local s x a
    for s in "${STRINGS[@]}"; do
        s=$(printf '%b' "$s")
        x=$(x86 tokenize -m "$MODEL" -p "$s" --ids) || return 1
        a=$(a64 tokenize -m "$MODEL" -p "$s" --ids) || return 1
        if [ "$x" != "$a" ]; then
            printf 'tokenize %q:\n  x86-64:  %s\n  aarch64: %s\n' "$s" "$x" "$a"
            return 1
        fi
    done
}

scalar_text_equal() {
    local x a
    x=$(x86 run -m "$MODEL" -p "$PROMPT" --temp 0 -n "$N_GEN" -t 1 --kernels scalar 2>/dev/null) || return 1
    a=$(a64 run -m "$MODEL" -p "$PROMPT" --temp 0 -n "$N_GEN" -t 1 --kernels scalar 2>/dev/null) || return 1
    if [ "$x" != "$a" ]; then
        printf 'scalar text differs:\n  x86-64:  %q\n  aarch64: %q\n' "$x" "$a"
        return 1
    fi
}

# The x86-64 scalar reference log-probabilities: README.md, two chunks of 128 tokens; and how
# far the x86-64 auto tier is from them (the floor).
PPL_ARGS=(-f README.md -c 128 --chunks 2)
x86 perplexity -m "$MODEL" "${PPL_ARGS[@]}" --kernels scalar --save-logits "$work/ref.logits" >/dev/null 2>&1 ||
    { echo "error: x86-64 perplexity --save-logits failed" >&2; exit 1; }

# kl_line JSON: "tier kld_mean same_top" of a perplexity --json --kl-divergence report.
kl_line() {
    python3 -c 'import json, sys
r = json.loads(sys.argv[1]); k = r["kl_divergence"]
print(r["kernels"], k["kld_mean"], 100 * k["same_top"])' "$1"
}
floor=$(kl_line "$(x86 perplexity -m "$MODEL" "${PPL_ARGS[@]}" --kl-divergence "$work/ref.logits" --json 2>/dev/null)") ||
    { echo "error: x86-64 perplexity --kl-divergence failed" >&2; exit 1; }
read -r floor_tier floor_kl floor_top1 <<<"$floor"
echo "== x86-64 $floor_tier against x86-64 scalar: mean KL $floor_kl, same top-1 $floor_top1 %"

same_model_as_x86() {
    local json tier kl top1
    json=$(a64 perplexity -m "$MODEL" "${PPL_ARGS[@]}" --kl-divergence "$work/ref.logits" --json 2>"$work/err") ||
        { cat "$work/err"; return 1; }
    read -r tier kl top1 <<<"$(kl_line "$json")"
    echo "  aarch64 $tier against x86-64 scalar: mean KL $kl, same top-1 $top1 %"
    python3 -c 'import sys; kl, floor, slack, top1, min_top1 = map(float, sys.argv[1:])
sys.exit(0 if kl <= 2 * floor + slack and top1 >= min_top1 else 1)' \
        "$kl" "$floor_kl" "$KL_SLACK" "$top1" "$MIN_TOP1"
}

run_names_tier() {
    local want=$1 text
    text=$(a64 run -m "$MODEL" -p "$PROMPT" --temp 0 -n 8 -t 1 2>"$work/err") || { cat "$work/err"; return 1; }
    grep -q "generated 8 tokens" "$work/err" && grep -q "kernels $want " "$work/err" && [ -n "$text" ] ||
        { cat "$work/err"; return 1; }
}

missing_tier_is_an_error() {
    local status=0
    a64 run -m "$MODEL" -p "$PROMPT" -n 1 --kernels dotprod >/dev/null 2>"$work/err" || status=$?
    [ "$status" -eq 1 ] && [ "$(wc -l <"$work/err")" -eq 1 ] && grep -q "kernels dotprod" "$work/err" ||
        { echo "  exit $status, stderr:"; cat "$work/err"; return 1; }
}

for cpu in $CPUS; do
    case $cpu in
        cortex-a53 | cortex-a72) tier=neon ;;
        *) tier=dotprod ;;
    esac
    echo "== cpu $cpu (tier $tier)"
    check "$cpu: tokenize --ids equals x86-64" tokenize_equal
    if [ "$cpu" = "${CPUS%% *}" ]; then
        check "$cpu: scalar greedy text equals x86-64's ($N_GEN tokens)" scalar_text_equal
    fi
    check "$cpu: $tier is as close to scalar as x86-64 $floor_tier" same_model_as_x86
    check "$cpu: run --temp 0 on $tier" run_names_tier "$tier"
    if [ "$tier" = neon ]; then
        check "$cpu: --kernels dotprod is a clear error" missing_tier_is_an_error
    fi
done

echo "== $((checks - failed)) of $checks checks passed"
[ "$failed" -eq 0 ]
