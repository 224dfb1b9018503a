#!/usr/bin/env bash
# Run the edgellm-kernels tests for aarch64 under qemu-user, once per CPU model:
#   cortex-a53  (Raspberry Pi 3; NEON only: the dotprod tier must be skipped, not SIGILL)
#   cortex-a76  (Raspberry Pi 5; NEON + dotprod: the neon and dotprod tiers run, i8mm is skipped)
#   max         (every feature QEMU has, FEAT_I8MM included: all three aarch64 tiers run)
# and check that the kernels build bare metal (aarch64-unknown-none, no_std).
#
# Environment:
#   PROPTEST_CASES  proptest cases per property (default 64 here: emulation is slow)
#   CPUS            CPU models to run (default "cortex-a53 cortex-a76 max")
#   QEMU_LD_PREFIX  sysroot for the dynamic loader (default /usr/aarch64-linux-gnu)
# Extra arguments go to the test binaries (e.g. a test name filter).
# Needs: rust target aarch64-unknown-linux-gnu + aarch64-unknown-none, aarch64-linux-gnu-gcc,
# qemu-aarch64 (see ../../shared/ARM.md). Exit status is non-zero if any step fails.
set -uo pipefail

cd "$(dirname "$0")/.."
export PROPTEST_CASES="${PROPTEST_CASES:-64}"
CPUS="${CPUS:-cortex-a53 cortex-a76 max}"
SYSROOT="${QEMU_LD_PREFIX:-/usr/aarch64-linux-gnu}"
TARGET=aarch64-unknown-linux-gnu

for tool in qemu-aarch64 aarch64-linux-gnu-gcc; do
    command -v "$tool" >/dev/null || { echo "error: $tool not found (see shared/ARM.md)" >&2; exit 2; }
done

log_dir="$(mktemp -d)"
summary=()
failed=0

echo "== building kernel tests for $TARGET"
if ! cargo test -p edgellm-kernels --target "$TARGET" --no-run; then
    echo "error: test build failed" >&2
    exit 1
fi

for cpu in $CPUS; do
    echo "== cpu $cpu (PROPTEST_CASES=$PROPTEST_CASES)"
    log="$log_dir/$cpu.log"
    start=$SECONDS
    CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L $SYSROOT -cpu $cpu" \
        cargo test --no-fail-fast -p edgellm-kernels --target "$TARGET" -- "$@" 2>&1 | tee "$log"
    status=${PIPESTATUS[0]}
    secs=$((SECONDS - start))
    passed=$(grep -oE '[0-9]+ passed' "$log" | awk '{s += $1} END {print s + 0}')
    fails=$(grep -oE '[0-9]+ failed' "$log" | awk '{s += $1} END {print s + 0}')
    # Which tiers this CPU model offers (the tier tests skip the others): the detection test
    # prints it; its output is captured in the run above, so ask it once more, uncaptured.
    tier=$(CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L $SYSROOT -cpu $cpu" \
        cargo test -q -p edgellm-kernels --target "$TARGET" --lib -- \
        arch::aarch64::tests::dotprod_offered_iff_detected --exact --nocapture 2>&1 |
        sed -n 's/^cpu: dotprod = \([a-z]*\); detected tier = \([a-z0-9]*\)$/best tier \2 (dotprod: \1)/p')
    if grep -qE 'SIGILL|Illegal instruction' "$log"; then
        status=1
        note="SIGILL"
    else
        note=""
    fi
    if [ "$status" -eq 0 ]; then verdict=PASS; else verdict=FAIL; failed=1; fi
    summary+=("$(printf '%-12s %-4s %5s passed %3s failed %5ss  %s %s' \
        "$cpu" "$verdict" "$passed" "$fails" "$secs" "${tier:-tier unknown}" "$note")")
done

echo "== bare-metal build (aarch64-unknown-none, no_std)"
if cargo build -p edgellm-kernels --no-default-features --target aarch64-unknown-none; then
    summary+=("$(printf '%-12s %-4s' aarch64-none PASS)  (no_std build)")
else
    summary+=("$(printf '%-12s %-4s' aarch64-none FAIL)  (no_std build)")
    failed=1
fi

echo
echo "== summary (logs in $log_dir)"
printf '%s\n' "${summary[@]}"
exit $failed
