#!/usr/bin/env bash
# The edgellm CLI on aarch64 Linux (a Raspberry Pi running Raspberry Pi OS 64-bit), checked
# under qemu-user against the x86-64 build on the same model, once per CPU model:
#   cortex-a53  (Raspberry Pi 3; NEON: the `neon` tier)
#   cortex-a76  (Raspberry Pi 5; NEON + dotprod: the `dotprod` tier)
#   max         (every feature QEMU has, i8mm included: the `i8mm` tier)
#
# What must hold, per CPU model:
#   1. `tokenize --ids` gives the x86-64 build's ids for every test string (integer work).
#   2. `run --temp 0 --kernels scalar` prints the x86-64 build's scalar text, byte for byte:
#      the scalar reference is the same Rust code on both architectures (run on cortex-a53
#      only; the scalar path does not depend on the CPU model).
#   3. The CPU's own tier (auto, the interleaved rows8 layout included) gives the x86-64
#      build's logits bit for bit: `perplexity --kl-divergence` against the log-probabilities
#      the x86-64 scalar build saved prints exactly the x86-64 scalar build's own figure, with
#      the same top-1 token everywhere, and `run --temp 0 -n $N_SAME` prints the text of the
#      x86-64 build's own tier (AVX2 / AVX-512 here) byte for byte, with the same
#      `logits fnv` (the last step's logits), for each of $PROMPTS_SAME prompts. Before that,
#      once: the x86-64 build's own tier must give the scalar figure too.
#   4. `run --temp 0` on the CPU's tier generates text and names that tier.
#   5. A forced tier the CPU lacks (`--kernels dotprod` on cortex-a53, `--kernels i8mm` on
#      cortex-a76) is one clear error.
#
# Environment:
#   EDGELLM_BIN     the x86-64 edgellm to compare with (default: target/debug/edgellm, built
#                   when missing)
#   MODEL           model file (default: SmolLM2 Q4_1 in ~/.cache/edgellm/models, which
#                   `edgellm fetch` puts there)
#   CPUS            CPU models (default "cortex-a53 cortex-a76 max": `max` has every feature
#                   QEMU knows, i8mm included, and runs the best tier edgellm has for it)
#   QEMU_LD_PREFIX  sysroot for the dynamic loader (default /usr/aarch64-linux-gnu)
# Needs: rust target aarch64-unknown-linux-gnu, aarch64-linux-gnu-gcc, qemu-aarch64 (see
# .ci/run and ../../shared/ARM.md). Prints one `ok`/`FAILED` line per check; exits non-zero
# if any failed.
set -uo pipefail

cd "$(dirname "$0")/.."
CPUS="${CPUS:-cortex-a53 cortex-a76 max}"
SYSROOT="${QEMU_LD_PREFIX:-/usr/aarch64-linux-gnu}"
MODEL="${MODEL:-$HOME/.cache/edgellm/models/SmolLM2-135M-Instruct.Q4_1.gguf}"
X86="${EDGELLM_BIN:-$PWD/target/debug/edgellm}"
TARGET=aarch64-unknown-linux-gnu
A64="$PWD/target/$TARGET/release/edgellm"
PROMPT="The three most useful things to know about Rust are"
N_GEN=24
# Greedy continuations that the CPU's own tier must reproduce from the x86-64 scalar build.
N_SAME=64
SAME_PROMPTS=("$PROMPT" "Once upon a time" "def fibonacci(n):")
PROMPTS_SAME=${#SAME_PROMPTS[@]}

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
# far the x86-64 auto tier is from them (printed for comparison).
PPL_ARGS=(-f README.md -c 128 --chunks 2)
x86 perplexity -m "$MODEL" "${PPL_ARGS[@]}" --kernels scalar --save-logits "$work/ref.logits" >/dev/null 2>&1 ||
    { echo "error: x86-64 perplexity --save-logits failed" >&2; exit 1; }

# kl_line JSON: "tier kld_mean same_top" of a perplexity --json --kl-divergence report.
kl_line() {
    python3 -c 'import json, sys
r = json.loads(sys.argv[1]); k = r["kl_divergence"]
print(r["kernels"], k["kld_mean"], 100 * k["same_top"])' "$1"
}
# The scalar build against its own saved log-probabilities: not exactly 0 (the saved file is
# compared in another precision), and the value any bit-identical tier must print.
self=$(kl_line "$(x86 perplexity -m "$MODEL" "${PPL_ARGS[@]}" --kernels scalar --kl-divergence "$work/ref.logits" --json 2>/dev/null)") ||
    { echo "error: x86-64 perplexity --kl-divergence failed" >&2; exit 1; }
read -r _ self_kl _ <<<"$self"

x86_tier_gives_scalar_logits() {
    local tier kl top1
    read -r tier kl top1 <<<"$(kl_line "$(x86 perplexity -m "$MODEL" "${PPL_ARGS[@]}" --kl-divergence "$work/ref.logits" --json 2>/dev/null)")"
    echo "  x86-64 $tier against x86-64 scalar: mean KL $kl (scalar itself: $self_kl), same top-1 $top1 %"
    [ "$kl" = "$self_kl" ] && python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) == 100 else 1)' "$top1"
}
check "x86-64: its own tier gives scalar's logits (perplexity)" x86_tier_gives_scalar_logits

# The x86-64 texts (its own tier) of SAME_PROMPTS and their last logits' FNV, made once.
for i in "${!SAME_PROMPTS[@]}"; do
    x86 run -m "$MODEL" -p "${SAME_PROMPTS[$i]}" --temp 0 -n "$N_SAME" -t 1 \
        >"$work/scalar.$i.txt" 2>"$work/scalar.$i.err" || { echo "error: x86-64 run failed" >&2; exit 1; }
done

same_logits_as_x86_scalar() {
    local json tier kl top1
    json=$(a64 perplexity -m "$MODEL" "${PPL_ARGS[@]}" --kl-divergence "$work/ref.logits" --json 2>"$work/err") ||
        { cat "$work/err"; return 1; }
    read -r tier kl top1 <<<"$(kl_line "$json")"
    echo "  aarch64 $tier against x86-64 scalar: mean KL $kl (scalar itself: $self_kl), same top-1 $top1 %"
    [ "$kl" = "$self_kl" ] && python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) == 100 else 1)' "$top1"
}

same_text_as_x86() {
    local i
    for i in "${!SAME_PROMPTS[@]}"; do
        a64 run -m "$MODEL" -p "${SAME_PROMPTS[$i]}" --temp 0 -n "$N_SAME" -t 1 >"$work/a64.$i.txt" 2>"$work/a64.$i.err" ||
            return 1
        if ! cmp -s "$work/scalar.$i.txt" "$work/a64.$i.txt"; then
            printf 'prompt %q: the texts differ at %s\n' "${SAME_PROMPTS[$i]}" \
                "$(cmp "$work/scalar.$i.txt" "$work/a64.$i.txt" | sed 's/.*differ: //')"
            return 1
        fi
        fnv() { sed -n 's/.*| logits fnv //p' "$1"; }
        if [ "$(fnv "$work/scalar.$i.err")" != "$(fnv "$work/a64.$i.err")" ] || [ -z "$(fnv "$work/a64.$i.err")" ]; then
            printf 'prompt %q: same text, other last logits: x86-64 %s, aarch64 %s\n' "${SAME_PROMPTS[$i]}" \
                "$(fnv "$work/scalar.$i.err")" "$(fnv "$work/a64.$i.err")"
            return 1
        fi
    done
}

run_names_tier() {
    local want=$1 text
    text=$(a64 run -m "$MODEL" -p "$PROMPT" --temp 0 -n 8 -t 1 2>"$work/err") || { cat "$work/err"; return 1; }
    grep -q "generated 8 tokens" "$work/err" && grep -q "kernels $want " "$work/err" && [ -n "$text" ] ||
        { cat "$work/err"; return 1; }
}

missing_tier_is_an_error() {
    local status=0
    a64 run -m "$MODEL" -p "$PROMPT" -n 1 --kernels "$1" >/dev/null 2>"$work/err" || status=$?
    [ "$status" -eq 1 ] && [ "$(wc -l <"$work/err")" -eq 1 ] && grep -q "kernels $1" "$work/err" ||
        { echo "  exit $status, stderr:"; cat "$work/err"; return 1; }
}

for cpu in $CPUS; do
    case $cpu in
        cortex-a53 | cortex-a72) tier=neon ;;
        max | neoverse-n2 | neoverse-v1) tier=i8mm ;;
        *) tier=dotprod ;;
    esac
    echo "== cpu $cpu (tier $tier)"
    check "$cpu: tokenize --ids equals x86-64" tokenize_equal
    if [ "$cpu" = "${CPUS%% *}" ]; then
        check "$cpu: scalar greedy text equals x86-64's ($N_GEN tokens)" scalar_text_equal
    fi
    check "$cpu: $tier gives x86-64 scalar's logits (perplexity)" same_logits_as_x86_scalar
    check "$cpu: $tier prints x86-64's text and last logits ($N_SAME tokens, $PROMPTS_SAME prompts)" same_text_as_x86
    check "$cpu: run --temp 0 on $tier" run_names_tier "$tier"
    case $tier in
        neon) check "$cpu: --kernels dotprod is a clear error" missing_tier_is_an_error dotprod ;;
        dotprod) check "$cpu: --kernels i8mm is a clear error" missing_tier_is_an_error i8mm ;;
    esac
done

echo "== $((checks - failed)) of $checks checks passed"
[ "$failed" -eq 0 ]
