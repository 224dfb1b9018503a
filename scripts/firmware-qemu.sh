#!/usr/bin/env bash
# Build the bare-metal firmware, boot it in QEMU with SmolLM2-135M (and, on virt, Gemma 3 270M
# and Qwen2.5-Coder-0.5B) in RAM, and check that it generates the same greedy token ids as the
# host runtime. Every boot runs the firmware on four cores (-smp 4; the raspi machines always
# have four); the `cores` step checks that one core and four give identical results. Also
# boots corrupt / missing model images, a machine with fewer cores than the firmware is set
# up for and an image for the wrong board, and expects a clear error and a non-zero exit.
# See docs/firmware.md.
#
# usage: scripts/firmware-qemu.sh [STEP...]
#   steps: raspi3b   Pi 3 machine, kernel8.img (enters at EL2), NEON tier
#          virt      virt -cpu cortex-a76 (Pi 5 core, dotprod tier), ELF (enters at EL1)
#          virt-max  virt -cpu max (FEAT_I8MM: the i8mm tier, read from the ID registers), ELF
#          virt-gemma3  the same machine and ELF with Gemma 3 270M (Q4_K_M) instead of SmolLM2
#          virt-qwen2   the same with Qwen2.5-Coder-0.5B-Instruct (Q4_K_M)
#          raspi4b   Pi 4 machine, kernel8.img, NEON tier
#          virt-dtb  virt -cpu cortex-a53, arm64 Image + -initrd: model found via the device tree
#          virt-el3  virt,secure=on -cpu cortex-a72 ELF: entered at EL3, dropped to EL1 (a
#                    1-core image: at EL3 no PSCI can start the others)
#          cores     virt -cpu cortex-a76, arm64 Image + -initrd, SmolLM2: one core
#                    (-smp 1, edgellm.cores=1 on the command line) and four (-smp 4) must give
#                    the same TOKENS, TEXT_HEX and LOGITS_FNV lines (and the host's ids)
#          fewer-cores  the 4-core virt ELF on -smp 2: must refuse with exit status 5
#          wrong-board  the raspi3b kernel8.img on -M raspi4b: must refuse with exit status 5
#          fault     virt and raspi3b built with feature fault-test: a data abort must be
#                    reported (EC, ESR, ELR, FAR) with exit status 4
#          corrupt   bad images (flipped magic, truncated, missing, larger than RAM) on virt
#                    and a flipped magic on raspi3b: each must print ERROR and exit non-zero
#   default: raspi3b virt virt-max virt-gemma3 virt-qwen2 cores fewer-cores wrong-board corrupt
#   `all`: every step
#
# environment:
#   EDGELLM_MODEL           model of every step except virt-gemma3 / virt-qwen2 (default
#                           $EDGELLM_HOME/models/SmolLM2-135M-Instruct.Q4_1.gguf, EDGELLM_HOME
#                           defaults to ~/.cache/edgellm)
#   EDGELLM_FW_GEMMA3_MODEL model of virt-gemma3 (default $EDGELLM_HOME/models/gemma-3-270m-q4_k_m.gguf)
#   EDGELLM_FW_QWEN2_MODEL  model of virt-qwen2 (default
#                           $EDGELLM_HOME/models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf)
#   EDGELLM_FW_PROMPT       prompt (default "The capital of France is")
#   EDGELLM_FW_MAX_TOKENS   tokens to generate (default 16, at least 16 for the check)
#   EDGELLM_FW_HOST_TIER    kernel tier of the host reference and `edgellm run` (default auto:
#                           the host's best; every tier gives the firmware's bits)
#   EDGELLM_BIN             a built `edgellm` to compare text with (default: built from host-cli/)
#   FW_NO_CLI=1             skip the `edgellm run` comparison
#   FW_TIMEOUT              seconds per boot (default 300)
#   CARGO_TARGET_DIR        build folder (default firmware/target)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
FW=$ROOT/firmware
HOME_DIR=${EDGELLM_HOME:-$HOME/.cache/edgellm}
MODEL=${EDGELLM_MODEL:-$HOME_DIR/models/SmolLM2-135M-Instruct.Q4_1.gguf}
# The model of each kind of step ("default": every SmolLM2 step), and how to fetch it.
declare -A MODELS=(
    [default]=$MODEL
    [gemma3]=${EDGELLM_FW_GEMMA3_MODEL:-$HOME_DIR/models/gemma-3-270m-q4_k_m.gguf}
    [qwen2]=${EDGELLM_FW_QWEN2_MODEL:-$HOME_DIR/models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf}
)
declare -A FETCH=([default]=smollm2 [gemma3]=gemma3-270m [qwen2]=qwen2.5-coder-0.5b)
declare -A ENV_NAME=([default]=EDGELLM_MODEL [gemma3]=EDGELLM_FW_GEMMA3_MODEL [qwen2]=EDGELLM_FW_QWEN2_MODEL)
export EDGELLM_FW_PROMPT=${EDGELLM_FW_PROMPT:-The capital of France is}
export EDGELLM_FW_MAX_TOKENS=${EDGELLM_FW_MAX_TOKENS:-16}
TIMEOUT=${FW_TIMEOUT:-300}
TARGET=${CARGO_TARGET_DIR:-$FW/target}
OUT=$TARGET/qemu-runs
mkdir -p "$OUT"

# Where each board expects the model (firmware/build.rs, src/bsp/*) and the 16-byte
# descriptor (magic "EDGEGGUF" as a little-endian u64, then the length) just below it.
DESC_MAGIC=0x4655474745474445
VIRT_MODEL_ADDR=0x48000000
# The virt firmware uses the first GiB of RAM (src/bsp/virt.rs): the image goes 128 MiB in
# and must end below 0x8000_0000 (896 MiB at most; Qwen2.5-0.5B's 469 MiB leaves a 427 MiB
# heap), so every virt step runs with 1 GiB.
VIRT_RAM=1G
# Every machine runs four vCPUs, which is what the firmware is built for (EDGELLM_FW_CORES,
# default 4; the raspi machines always have four). One TCG thread round-robins them: idle
# cores wait in `wfe`, which single-threaded TCG turns into a switch to the next vCPU, so a
# boot costs about what one core costs. With one host thread per vCPU (thread=multi) idle
# cores spin instead, which on a shared 2-core host made boots 2-3x slower; the speed-up
# of real parallel emulation is measured separately (docs/firmware.md).
SMP="-smp 4 -accel tcg,thread=single"
RASPI_ACCEL="-accel tcg,thread=single"
RASPI_MODEL_ADDR=0x10000000

STEPS=("$@")
[ ${#STEPS[@]} -eq 0 ] && STEPS=(raspi3b virt virt-max virt-gemma3 virt-qwen2 cores fewer-cores wrong-board corrupt)
[ "${STEPS[0]}" = all ] && STEPS=(raspi3b virt virt-max virt-gemma3 virt-qwen2 raspi4b virt-dtb virt-el3 cores fewer-cores wrong-board corrupt fault)

# model_key STEP: the MODELS entry whose file STEP loads ("" for none).
model_key() {
    case $1 in
    raspi3b|raspi4b|virt|virt-max|virt-dtb|virt-el3|cores|corrupt) echo default;;
    virt-gemma3) echo gemma3;;
    virt-qwen2) echo qwen2;;
    fault|fewer-cores|wrong-board) echo "";;
    *) echo "unknown step: $1" >&2; exit 2;;
    esac
}
# The models whose tokens some step checks (each gets a host reference), and every model
# some step loads (each must exist).
RUN_KEYS=()
NEED_KEYS=()
for s in "${STEPS[@]}"; do
    k=$(model_key "$s") || exit 2
    [ -n "$k" ] || continue
    [[ " ${NEED_KEYS[*]} " == *" $k "* ]] || NEED_KEYS+=("$k")
    [ "$s" = corrupt ] && continue
    [[ " ${RUN_KEYS[*]} " == *" $k "* ]] || RUN_KEYS+=("$k")
done

RESULTS=()
FAILED=0
note() { printf '\n== %s\n' "$*"; }
record() { # name status detail
    RESULTS+=("$(printf '%-22s %-4s %s' "$1" "$2" "$3")")
    [ "$2" = PASS ] || [ "$2" = SKIP ] || FAILED=1
    printf -- '-> %s: %s %s\n' "$1" "$2" "$3"
}

command -v qemu-system-aarch64 >/dev/null || { echo "error: qemu-system-aarch64 not found (apt-get install qemu-system-arm; raspi4b needs QEMU >= 9)"; exit 2; }
OBJCOPY=$(command -v aarch64-linux-gnu-objcopy || command -v llvm-objcopy || command -v rust-objcopy || true)
[ -n "$OBJCOPY" ] || { echo "error: no objcopy for aarch64 (apt-get install binutils-aarch64-linux-gnu)"; exit 2; }
for k in "${NEED_KEYS[@]}"; do
    if [ ! -f "${MODELS[$k]}" ]; then
        echo "error: model not found at ${MODELS[$k]}: run \`edgellm fetch ${FETCH[$k]}\` first (or set ${ENV_NAME[$k]})"
        exit 2
    fi
done
MODEL_SIZE=$(stat -c %s "$MODEL" 2>/dev/null || echo 0)
if [ "$EDGELLM_FW_MAX_TOKENS" -lt 16 ]; then
    echo "error: EDGELLM_FW_MAX_TOKENS must be at least 16 for the check"; exit 2
fi

# ---------------------------------------------------------------- expected ids (host side)
# For each model a step runs: the ids of the host reference (EXPECTED) and the bytes of
# `edgellm run`'s text (CLI_HEX).
declare -A EXPECTED=() EXPECTED_FNV=() CLI_HEX=()
HOST_BIN=""
host_reference() { # key
    local key=$1 model=${MODELS[$1]} sfx="" t0 n golden slug
    [ "$key" = default ] || sfx=-$key
    note "host reference ($(basename "$model")): same runtime calls as the firmware, greedy (temp 0)"
    t0=$(date +%s)
    if [ -z "$HOST_BIN" ]; then
        local triple
        triple=$(rustc -vV | sed -n 's/^host: //p')
        (cd "$FW/host-ref" && CARGO_TARGET_DIR=$TARGET/host-ref cargo build --release --quiet --target "$triple")
        HOST_BIN=$TARGET/host-ref/$triple/release/edgellm-firmware-host-ref
    fi
    # Every kernel tier of both architectures computes the scalar reference's bits, so the
    # host's best tier (AVX2 / AVX-512 here) must give the firmware's NEON / dotprod logits.
    "$HOST_BIN" "$model" "$EDGELLM_FW_PROMPT" "$EDGELLM_FW_MAX_TOKENS" "${EDGELLM_FW_HOST_TIER:-auto}" | tee "$OUT/host-ref$sfx.txt"
    EXPECTED[$key]=$(sed -n 's/^TOKENS: //p' "$OUT/host-ref$sfx.txt")
    EXPECTED_FNV[$key]=$(sed -n 's/^LOGITS_FNV: //p' "$OUT/host-ref$sfx.txt")
    echo "host reference took $(( $(date +%s) - t0 )) s (build included)"
    n=$(wc -w <<<"${EXPECTED[$key]}")
    if [ "$n" -lt 16 ] && [ "$n" -lt "$EDGELLM_FW_MAX_TOKENS" ]; then
        echo "note: the host stopped after $n tokens (end of generation)"
    fi
    # The checked-in list (produced by this same host reference) guards against the host
    # runtime drifting silently; it applies to the default prompt and length only, and is
    # named after the model file (lower case, dots as dashes).
    slug=$(basename "$model" .gguf | tr 'A-Z.' 'a-z-')
    golden=$FW/expected/$slug.capital-of-france.16.tokens
    if [ "$EDGELLM_FW_PROMPT" = "The capital of France is" ] && [ "$EDGELLM_FW_MAX_TOKENS" = 16 ] && [ -f "$golden" ]; then
        if [ "$(sed -n 's/^TOKENS: //p' "$golden")" = "${EXPECTED[$key]}" ]; then
            record "host-vs-golden$sfx" PASS "host ids equal $(basename "$golden")"
        else
            record "host-vs-golden$sfx" FAIL "host ids differ from $(basename "$golden") (runtime changed? regenerate it, see docs/firmware.md)"
        fi
    fi
}
for k in "${RUN_KEYS[@]}"; do host_reference "$k"; done

# ---------------------------------------------------------------- edgellm run (host CLI)
# `edgellm run --temp 0` prints the generated text, not ids: the firmware's TEXT_HEX line
# (the generated text's bytes) must equal its stdout. It runs the host reference's kernel
# tier (default: the host's best), and its stderr's `logits fnv` must equal LOGITS_FNV.
# Set EDGELLM_BIN to use a built binary, FW_NO_CLI=1 to skip; a CLI that does not build is
# reported as SKIP.
if [ ${#RUN_KEYS[@]} -gt 0 ] && [ "${FW_NO_CLI:-0}" != 1 ]; then
    if [ -z "${EDGELLM_BIN:-}" ]; then
        note "host CLI: building edgellm"
        if (cd "$ROOT" && CARGO_TARGET_DIR=$TARGET/host-cli cargo build --release -p edgellm) >"$OUT/build-cli.log" 2>&1; then
            EDGELLM_BIN=$TARGET/host-cli/release/edgellm
        else
            record edgellm-run SKIP "the edgellm CLI did not build (see $OUT/build-cli.log)"
        fi
    fi
    if [ -n "${EDGELLM_BIN:-}" ]; then
        for k in "${RUN_KEYS[@]}"; do
            sfx=""
            [ "$k" = default ] || sfx=-$k
            note "host CLI: edgellm run --model $(basename "${MODELS[$k]}") --temp 0 --kernels ${EDGELLM_FW_HOST_TIER:-auto}"
            if "$EDGELLM_BIN" run --model "${MODELS[$k]}" -p "$EDGELLM_FW_PROMPT" -n "$EDGELLM_FW_MAX_TOKENS" --temp 0 -c 512 \
                --kernels "${EDGELLM_FW_HOST_TIER:-auto}" \
                >"$OUT/edgellm-run$sfx.txt" 2>"$OUT/edgellm-run$sfx.err"; then
                # Drop the newline `edgellm run` adds after the text.
                CLI_HEX[$k]=$(head -c -1 "$OUT/edgellm-run$sfx.txt" | od -An -tx1 -v | tr -d ' \n')
                echo "edgellm run: $(cat "$OUT/edgellm-run$sfx.txt")"
                cat "$OUT/edgellm-run$sfx.err"
                cli_fnv=$(sed -n 's/.*| logits fnv //p' "$OUT/edgellm-run$sfx.err")
                if [ "$cli_fnv" != "${EXPECTED_FNV[$k]:-}" ]; then
                    record "edgellm-run$sfx" FAIL "edgellm run's last logits ($cli_fnv) differ from the host reference's (${EXPECTED_FNV[$k]:-})"
                fi
            else
                cat "$OUT/edgellm-run$sfx.err"
                record "edgellm-run$sfx" FAIL "edgellm run failed (see $OUT/edgellm-run$sfx.err)"
            fi
        done
    fi
fi

# ---------------------------------------------------------------- build
build() { # board [extra features] [cores] -> prints ELF path
    local board=$1 extra=${2:-} cores=${3:-} elf
    local t0 log=$OUT/build-$board$extra${cores:+-cores$cores}.log
    t0=$(date +%s)
    # rustc warns that `-strict-align` is unstable (see firmware/.cargo/config.toml): keep
    # the log and show it only when the build fails.
    # `cores` (EDGELLM_FW_CORES) changes the build: cargo rebuilds the firmware crate.
    if ! (cd "$FW" && CARGO_TARGET_DIR=$TARGET env ${cores:+EDGELLM_FW_CORES=$cores} \
        cargo build --release --no-default-features --features "$board,qemu$extra") >"$log" 2>&1; then
        cat "$log" >&2
        echo "error: firmware build for $board$extra failed" >&2
        exit 2
    fi
    echo "built $board$extra in $(( $(date +%s) - t0 )) s" >&2
    elf=$TARGET/aarch64-unknown-none/release/edgellm-firmware
    cp "$elf" "$OUT/edgellm-firmware-$board.elf"
    "$OBJCOPY" -O binary "$elf" "$OUT/kernel8-$board.img"
    echo "$OUT/edgellm-firmware-$board.elf"
}

# ---------------------------------------------------------------- boot + check
# boot NAME EXPECT_STATUS EXPECT_TEXT qemu-args...  (UART -> $OUT/NAME.log)
boot() {
    local name=$1 want_status=$2 want_text=$3; shift 3
    local log=$OUT/$name.log status t0 t1
    note "$name: qemu-system-aarch64 $*"
    t0=$(date +%s)
    set +e
    timeout "$TIMEOUT" qemu-system-aarch64 -nographic -semihosting "$@" </dev/null 2>&1 | tee "$log"
    status=${PIPESTATUS[0]}
    set -e
    t1=$(date +%s)
    BOOT_SECS=$((t1 - t0))
    if [ "$status" = 124 ]; then
        record "$name" FAIL "timed out after ${TIMEOUT}s"
        return 1
    fi
    if [ "$status" != "$want_status" ]; then
        record "$name" FAIL "exit status $status, expected $want_status (${BOOT_SECS}s)"
        return 1
    fi
    if ! grep -q -- "$want_text" "$log"; then
        record "$name" FAIL "exit $status but no '$want_text' on the UART"
        return 1
    fi
    return 0
}

check_tokens() { # name [model key]
    local name=$1 key=${2:-default} got speed want cli fnv
    want=${EXPECTED[$key]:-}
    fnv=$(sed -n 's/^LOGITS_FNV: //p' "$OUT/$name.log" | tr -d '\r')
    cli=${CLI_HEX[$key]:-}
    got=$(sed -n 's/^TOKENS: //p' "$OUT/$name.log" | tr -d '\r')
    speed=$(sed -n 's/^SPEED: //p' "$OUT/$name.log" | tr -d '\r')
    if [ -z "$got" ]; then
        record "$name" FAIL "no TOKENS line"
    elif [ "$got" != "$want" ]; then
        record "$name" FAIL "ids differ: firmware [$got] host [$want]"
    elif [ "$fnv" != "${EXPECTED_FNV[$key]:-}" ]; then
        record "$name" FAIL "ids equal the host's but the last logits differ: LOGITS_FNV firmware $fnv host ${EXPECTED_FNV[$key]:-}"
    elif [ -n "$cli" ] && [ "$(sed -n 's/^TEXT_HEX: //p' "$OUT/$name.log" | tr -d '\r')" != "$cli" ]; then
        record "$name" FAIL "ids equal the host reference's but the text differs from edgellm run's"
    elif [ -n "$cli" ]; then
        record "$name" PASS "$(wc -w <<<"$got") ids and the last logits ($fnv) equal the host's, text equals edgellm run's; ${BOOT_SECS}s; $speed"
    else
        record "$name" PASS "$(wc -w <<<"$got") ids and the last logits ($fnv) equal the host's; ${BOOT_SECS}s; $speed"
    fi
}

loader_args() { # addr size file
    local addr=$1 size=$2 file=$3
    printf -- '-device loader,file=%s,addr=%s,force-raw=on ' "$file" "$addr"
    printf -- '-device loader,addr=%#x,data=%s,data-len=8 ' $((addr - 16)) "$DESC_MAGIC"
    printf -- '-device loader,addr=%#x,data=%s,data-len=8' $((addr - 8)) "$size"
}

for step in "${STEPS[@]}"; do
    case $step in
    raspi3b|raspi4b)
        build "$step" >/dev/null
        # shellcheck disable=SC2046
        boot "$step" 0 "^TOKENS:" -M "$step" $RASPI_ACCEL -kernel "$OUT/kernel8-$step.img" \
            $(loader_args $RASPI_MODEL_ADDR "$MODEL_SIZE" "$MODEL") && check_tokens "$step" || true
        ;;
    virt)
        elf=$(build virt)
        # shellcheck disable=SC2046
        boot virt-cortex-a76 0 "^TOKENS:" -M virt -cpu cortex-a76 -m $VIRT_RAM $SMP -nic none -kernel "$elf" \
            $(loader_args $VIRT_MODEL_ADDR "$MODEL_SIZE" "$MODEL") && check_tokens virt-cortex-a76 || true
        ;;
    virt-max)
        # -cpu max has FEAT_I8MM: the firmware must find it in ID_AA64ISAR1_EL1, take the
        # i8mm tier (its prompt GEMMs run `smmla`) and still give the host's bits.
        elf=$(build virt)
        # shellcheck disable=SC2046
        if boot virt-max 0 "^TOKENS:" -M virt -cpu max -m $VIRT_RAM $SMP -nic none -kernel "$elf" \
            $(loader_args $VIRT_MODEL_ADDR "$MODEL_SIZE" "$MODEL"); then
            if grep -q "kernels: i8mm tier" "$OUT/virt-max.log"; then
                check_tokens virt-max
            else
                record virt-max FAIL "the firmware did not take the i8mm tier on -cpu max"
            fi
        fi
        ;;
    virt-gemma3|virt-qwen2)
        key=${step#virt-}
        elf=$(build virt)
        # shellcheck disable=SC2046
        boot "virt-cortex-a76-$key" 0 "^TOKENS:" -M virt -cpu cortex-a76 -m $VIRT_RAM $SMP -nic none -kernel "$elf" \
            $(loader_args $VIRT_MODEL_ADDR "$(stat -c %s "${MODELS[$key]}")" "${MODELS[$key]}") \
            && check_tokens "virt-cortex-a76-$key" "$key" || true
        ;;
    virt-el3)
        # Entered at EL3 nothing below the firmware implements PSCI (QEMU turns its own off
        # and keeps the other cores powered off), so this step runs a one-core image.
        elf=$(build virt "" 1)
        # shellcheck disable=SC2046
        boot virt-el3-cortex-a72 0 "entered at EL3" -M virt,secure=on -cpu cortex-a72 -m $VIRT_RAM $SMP -nic none -kernel "$elf" \
            $(loader_args $VIRT_MODEL_ADDR "$MODEL_SIZE" "$MODEL") && check_tokens virt-el3-cortex-a72 || true
        ;;
    virt-dtb)
        build virt >/dev/null
        # shellcheck disable=SC2086
        boot virt-dtb-cortex-a53 0 "from device tree" -M virt -cpu cortex-a53 -m $VIRT_RAM $SMP -nic none \
            -kernel "$OUT/kernel8-virt.img" -initrd "$MODEL" && check_tokens virt-dtb-cortex-a53 || true
        ;;
    cores)
        # The same image on one core and on four: work is split by output rows, so every
        # bit must agree (the last step's logits too, LOGITS_FNV). The Image boot passes a
        # device tree, whose command line sets the core count.
        build virt >/dev/null
        ok=1
        for n in 1 4; do
            # shellcheck disable=SC2086
            boot "cores-$n-virt" 0 "^TOKENS:" -M virt -cpu cortex-a76 -m $VIRT_RAM -smp $n -accel tcg,thread=single -nic none \
                -kernel "$OUT/kernel8-virt.img" -initrd "$MODEL" -append "edgellm.cores=$n" \
                && check_tokens "cores-$n-virt" || ok=0
        done
        if [ $ok = 1 ]; then
            lines() { grep -E '^(TOKENS|TEXT_HEX|LOGITS_FNV):' "$OUT/$1.log" | tr -d '\r'; }
            if [ "$(lines cores-1-virt)" = "$(lines cores-4-virt)" ] && grep -q "^cores: 4 running" "$OUT/cores-4-virt.log"; then
                record cores-1-vs-4 PASS "1 and 4 cores: same ids, text and logits ($(lines cores-4-virt | sed -n 's/^LOGITS_FNV: //p'))"
            else
                record cores-1-vs-4 FAIL "1 and 4 cores differ: see $OUT/cores-1-virt.log and cores-4-virt.log"
            fi
        fi
        ;;
    fewer-cores)
        elf=$(build virt)
        boot fewer-cores-virt 5 "set to run on 4 cores but the board has only 2" -M virt -cpu cortex-a76 -m $VIRT_RAM -smp 2 -nic none -kernel "$elf" \
            && record fewer-cores-virt PASS "4-core image on 2 cores: exit 5 with the core-count error" || true
        ;;
    wrong-board)
        build raspi3b >/dev/null
        # shellcheck disable=SC2086
        boot wrong-board-raspi4b 5 "is for a Raspberry Pi 3 (raspi3b) but runs on a Raspberry Pi 4" -M raspi4b $RASPI_ACCEL \
            -kernel "$OUT/kernel8-raspi3b.img" \
            && record wrong-board-raspi4b PASS "exit 5 with the wrong-board error" || true
        ;;
    corrupt)
        elf=$(build virt)
        bad=$OUT/bad-magic.gguf
        cp "$MODEL" "$bad" && printf 'GGUX' | dd of="$bad" bs=1 seek=0 conv=notrunc status=none
        # shellcheck disable=SC2046
        boot corrupt-magic-virt 1 "does not start with the GGUF magic" -M virt -cpu cortex-a53 -m $VIRT_RAM $SMP -nic none -kernel "$elf" \
            $(loader_args $VIRT_MODEL_ADDR "$MODEL_SIZE" "$bad") && record corrupt-magic-virt PASS "exit 1 with the magic error" || true
        trunc=$OUT/truncated.gguf
        head -c 4000000 "$MODEL" > "$trunc"
        # shellcheck disable=SC2046
        boot corrupt-truncated-virt 2 "not a valid GGUF file" -M virt -cpu cortex-a53 -m $VIRT_RAM $SMP -nic none -kernel "$elf" \
            $(loader_args $VIRT_MODEL_ADDR 4000000 "$trunc") && record corrupt-truncated-virt PASS "exit 2 with the GGUF parse error" || true
        boot missing-image-virt 1 "no model image" -M virt -cpu cortex-a53 -m $VIRT_RAM $SMP -nic none -kernel "$elf" \
            && record missing-image-virt PASS "exit 1 with the missing-image error" || true
        # A descriptor claiming more bytes than fit in RAM (what a dropped blob looks like).
        # shellcheck disable=SC2046
        boot oversize-image-virt 1 "does not fit in RAM" -M virt -cpu cortex-a53 -m $VIRT_RAM $SMP -nic none -kernel "$elf" \
            $(loader_args $VIRT_MODEL_ADDR 2000000000 "$trunc") && record oversize-image-virt PASS "exit 1 with the RAM-bounds error" || true
        build raspi3b >/dev/null
        # shellcheck disable=SC2046
        boot corrupt-magic-raspi3b 1 "does not start with the GGUF magic" -M raspi3b $RASPI_ACCEL -kernel "$OUT/kernel8-raspi3b.img" \
            $(loader_args $RASPI_MODEL_ADDR "$MODEL_SIZE" "$bad") && record corrupt-magic-raspi3b PASS "exit 1 with the magic error" || true
        rm -f "$bad" "$trunc"
        ;;
    fault)
        elf=$(build virt ,fault-test)
        boot fault-virt 4 "FATAL: synchronous exception .*data abort.*FAR=0xa0000000" -M virt -cpu cortex-a53 -m $VIRT_RAM $SMP -nic none -kernel "$elf" \
            && record fault-virt PASS "data abort reported, exit 4" || true
        build raspi3b ,fault-test >/dev/null
        boot fault-raspi3b 4 "FATAL: synchronous exception .*data abort.*FAR=0xa0000000" -M raspi3b $RASPI_ACCEL -kernel "$OUT/kernel8-raspi3b.img" \
            && record fault-raspi3b PASS "data abort reported, exit 4" || true
        ;;
    *)
        echo "unknown step: $step"; exit 2;;
    esac
done

note "summary (prompt: \"$EDGELLM_FW_PROMPT\", $EDGELLM_FW_MAX_TOKENS tokens; expected ids from the host runtime via firmware/host-ref)"
for k in "${RUN_KEYS[@]}"; do
    echo "expected TOKENS ($(basename "${MODELS[$k]}")): ${EXPECTED[$k]:-}"
done
printf '%s\n' "${RESULTS[@]}"
echo "logs: $OUT"
if [ "$FAILED" = 0 ]; then echo "firmware-qemu: all passed"; else echo "firmware-qemu: FAILED"; fi
exit $FAILED
