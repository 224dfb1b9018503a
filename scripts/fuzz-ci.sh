#!/usr/bin/env bash
# Bounded fuzzing for CI (`.ci/run`'s "fuzz (bounded)" step): every cargo-fuzz target of
# fuzz/ runs for FUZZ_SECONDS from its checked-in seeds (fuzz/seeds/TARGET/, copied to a
# temporary corpus, so the run never changes the repository). Fails if any target crashes,
# hangs past FUZZ_TIMEOUT on one input or goes over FUZZ_RSS_MB; prints each target's
# executions. The crashing input is left in fuzz/artifacts/TARGET/ (and printed in base64).
#
# Installs what it needs when missing (CI is a clean machine, run as root): the nightly
# toolchain (minimal profile) and cargo-fuzz. The tokenizer target reads a real model:
# $EDGELLM_FUZZ_MODEL, default SmolLM2 in the edgellm cache (CI fetches it before this step).
#
# Environment: FUZZ_SECONDS (per target, default 30), FUZZ_TIMEOUT (seconds for one input,
# default 30), FUZZ_RSS_MB (libFuzzer's memory limit, default 2048), FUZZ_TARGETS (a
# space-separated subset of the list below).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The targets, in the order they run. To add one: write fuzz/fuzz_targets/NAME.rs and its
# [[bin]] in fuzz/Cargo.toml, put a few small seeds in fuzz/seeds/NAME/, and add NAME here.
TARGETS=(gguf_parse tokenizer chat_template logprob_file server_request)

secs=${FUZZ_SECONDS:-30}
timeout=${FUZZ_TIMEOUT:-30}
rss=${FUZZ_RSS_MB:-2048}
if [ -n "${FUZZ_TARGETS:-}" ]; then
    read -r -a TARGETS <<<"$FUZZ_TARGETS"
fi
start=$SECONDS

# ---------------------------------------------------------------- tools

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    echo "installing the nightly toolchain (cargo-fuzz needs it for the sanitizer flags)"
    rustup toolchain install nightly --profile minimal
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz"
    # Outside the repository, so that rust-toolchain.toml's pinned stable is not required.
    (cd / && cargo +nightly install cargo-fuzz --locked)
fi
echo "$(rustc +nightly --version); $(cargo +nightly fuzz --version)"

home=${EDGELLM_HOME:-$HOME/.cache/edgellm}
export EDGELLM_FUZZ_MODEL=${EDGELLM_FUZZ_MODEL:-$home/models/SmolLM2-135M-Instruct.Q4_1.gguf}
for t in "${TARGETS[@]}"; do
    if [ "$t" = tokenizer ] && [ ! -r "$EDGELLM_FUZZ_MODEL" ]; then
        echo "error: the tokenizer target needs a model: $EDGELLM_FUZZ_MODEL is missing" \
            "(run \`edgellm fetch smollm2\` or set EDGELLM_FUZZ_MODEL)" >&2
        exit 1
    fi
done

# ---------------------------------------------------------------- build

build_start=$SECONDS
(cd fuzz && cargo +nightly fuzz build)
echo "built the fuzz targets in $((SECONDS - build_start)) s"

# ---------------------------------------------------------------- run

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=()
summary=()
for t in "${TARGETS[@]}"; do
    corpus=$work/corpus-$t
    log=$work/$t.log
    mkdir -p "$corpus"
    seeds=0
    if [ -d "fuzz/seeds/$t" ]; then
        cp -r "fuzz/seeds/$t/." "$corpus/"
        seeds=$(find "$corpus" -type f | wc -l)
    fi
    printf '\n==== fuzz %s: %s s from %s seeds\n' "$t" "$secs" "$seeds"
    status=0
    (cd fuzz && cargo +nightly fuzz run "$t" "$corpus" -- \
        -max_total_time="$secs" -timeout="$timeout" -rss_limit_mb="$rss" \
        -print_final_stats=1) >"$log" 2>&1 || status=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -1)
    took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | sed 's/cov: //')
    if [ "$status" -eq 0 ]; then
        line="$t: ${runs:-?} executions in ${took:-?} s, no crash (coverage ${cov:-?} edges, corpus $seeds -> $(find "$corpus" -type f | wc -l) inputs)"
    else
        failed+=("$t")
        line="$t: FAILED (exit $status) after ${runs:-?} executions"
        # The crash report: libFuzzer's and the sanitizer's lines, the panic, the input.
        grep -E -A40 '^(==[0-9]+== ?ERROR|thread .* panicked|SUMMARY)' "$log" | head -120 || true
        tail -25 "$log"
    fi
    echo "$line"
    summary+=("$line")
done

printf '\n==== fuzz summary (%s s in all)\n' "$((SECONDS - start))"
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "crashed: ${failed[*]} (inputs in fuzz/artifacts/)"
    exit 1
fi
