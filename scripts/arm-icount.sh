#!/usr/bin/env bash
# scripts/arm-icount.sh — instructions executed per token on aarch64, measured on x86.
#
# Usage: bash scripts/arm-icount.sh [options] [MODEL.gguf ...]
#
# Runs edgellm's aarch64 CLI (`edgellm bench`) and llama.cpp's aarch64 build (a small driver
# over the public llama.h API, scripts/arm-icount/llama-icount.c) on the same GGUF files under
# QEMU user mode with the TCG plugin `libinsn.so`, one thread, and prints instructions per
# prompt token (pp) and per generated token (tg) for each emulated CPU model.
#
# Each figure is the difference of two runs of different length divided by the token-count
# difference, so model loading, tokenizer set-up and warm-up cancel out.
#
# What an instruction count ignores: latency of each instruction, issue width (IPC), memory
# stalls and cache misses, memory bandwidth, branch mispredictions, and the cost of threads.
# It is a proxy for the work done, not a time. To estimate a board:
#   seconds per token ≈ instructions per token ÷ (IPC × clock)   (see docs/arm-icount.md).
#
# Options:
#   --cpus "A B ..."    CPU models (default: "cortex-a53 cortex-a72 cortex-a76 neoverse-n2")
#   --pp "P1 P2"        two prompt lengths (default: "16 48")
#   --tg "N1 N2"        two generation lengths (default: "8 24")
#   --only edgellm|llama   measure only one side
#   --setup-only        build everything, measure nothing
#   -h, --help          this text
# MODEL files default to SmolLM2 Q4_0 and the shipped ~/.cache/edgellm/models/SmolLM2-135M-Instruct.Q4_1.gguf
# (the Q4_0 copy is made once in $EDGELLM_ARM_CACHE/models with the host `edgellm quantize`,
# through an F16 copy of the Q4_1 file). Other copies to try: Q8_0, Q4_K_M (same way).
#
# Environment: EDGELLM_ARM_CACHE (build outputs and counts; default
# ~/.cache/edgellm/arm-icount). Builds are cached: a second run only measures (and re-uses
# counts already measured for the same binary, model, CPU and length).
# On demand only (not CI). Needs root for apt-get on first run. Builds run under nice -n 19 -j2.
# Which llama.cpp build runs on which CPU: armv8-a on cortex-a53/a72, armv8.2-a+dotprod on
# cortex-a76, armv8.6-a+i8mm on neoverse-n2 (the features each core has).
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${EDGELLM_ARM_CACHE:-$HOME/.cache/edgellm/arm-icount}
CPUS="cortex-a53 cortex-a72 cortex-a76 neoverse-n2"
PP="16 48"
TG="8 24"
ONLY=""
SETUP_ONLY=0
MODELS=()
while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --cpus) CPUS=$2; shift 2 ;;
        --pp) PP=$2; shift 2 ;;
        --tg) TG=$2; shift 2 ;;
        --only) ONLY=$2; shift 2 ;;
        --setup-only) SETUP_ONLY=1; shift ;;
        -*) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
        *) MODELS+=("$1"); shift ;;
    esac
done
mkdir -p "$CACHE"
NICE="nice -n 19"
log() { echo "[arm-icount] $*" >&2; }

# ---------------------------------------------------------------------------------------
# 1. A plugin-enabled qemu-aarch64 and the counting plugin, from Debian's qemu source.
# ---------------------------------------------------------------------------------------
QEMU="$CACHE/qemu/build/qemu-aarch64"
PLUGIN="$CACHE/qemu/build/tests/tcg/plugins/libinsn.so"

# A `Types: deb-src` stanza for bookworm-backports, derived from the system's Debian source
# (its first stanza that is not the security archive), like .ci/run's ensure_backports_source.
ensure_backports_src() {
    # Already there: a .sources file naming both, or a one-line deb-src entry.
    if grep -lrs 'bookworm-backports' /etc/apt/sources.list.d/ | xargs -r grep -ls 'deb-src' |
        grep -q . || grep -qs '^deb-src .*bookworm-backports' /etc/apt/sources.list; then
        return 0
    fi
    local src=/etc/apt/sources.list.d/debian.sources
    [ -r "$src" ] || { echo "no $src to derive a deb-src source from" >&2; return 1; }
    awk 'BEGIN { RS = ""; ORS = "\n\n" }
         !done && $0 ~ /URIs:/ && $0 !~ /security/ {
             sub(/Types:[^\n]*/, "Types: deb-src")
             sub(/Suites:[^\n]*/, "Suites: bookworm-backports"); print; done = 1 }' \
        "$src" >/etc/apt/sources.list.d/backports-src.sources
    grep -q 'Types: deb-src' /etc/apt/sources.list.d/backports-src.sources
    # The binary backports suite too (meson and python3-pycotap come from there).
    if ! grep -rqs '^Suites:.*bookworm-backports' /etc/apt/sources.list.d/ --include='*.sources' \
         --exclude=backports-src.sources; then
        sed 's/^Types: deb-src/Types: deb/' /etc/apt/sources.list.d/backports-src.sources \
            >/etc/apt/sources.list.d/backports.sources
    fi
    apt-get update -q
}

build_qemu() {
    if [ -x "$QEMU" ] && [ -f "$PLUGIN" ]; then log "plugin qemu: cached ($QEMU)"; return 0; fi
    local t0=$SECONDS
    ensure_backports_src
    apt-get install -y -q --no-install-recommends ninja-build libglib2.0-dev pkg-config \
        xz-utils flex bison >/dev/null
    apt-get install -y -q --no-install-recommends -t bookworm-backports meson python3-pycotap >/dev/null
    mkdir -p "$CACHE/qemu-src"
    # Only the orig tarball is needed for a plain build (the .dsc/.debian.tar.xz may not arrive).
    if ! ls "$CACHE"/qemu-src/qemu_*.orig.tar.xz >/dev/null 2>&1; then
        (cd "$CACHE/qemu-src" && apt-get source -q --download-only -t bookworm-backports qemu) ||
            ls "$CACHE"/qemu-src/qemu_*.orig.tar.xz >/dev/null
    fi
    if [ ! -f "$CACHE/qemu/configure" ]; then
        rm -rf "$CACHE/qemu.tmp" && mkdir -p "$CACHE/qemu.tmp"
        tar -xf "$(ls "$CACHE"/qemu-src/qemu_*.orig.tar.xz | tail -1)" -C "$CACHE/qemu.tmp" \
            --strip-components=1
        mv "$CACHE/qemu.tmp" "$CACHE/qemu"
    fi
    # User mode only, with plugins. /usr/bin/python3: a pyenv python3 first on PATH may not
    # import Debian's meson.
    (cd "$CACHE/qemu" &&
        { [ -f build/build.ninja ] || $NICE ./configure --target-list=aarch64-linux-user \
            --enable-plugins --disable-system --disable-docs --disable-tools \
            --disable-install-blobs --python=/usr/bin/python3; } &&
        cd build && $NICE ninja -j2 qemu-aarch64 tests/tcg/plugins/libinsn.so)
    log "plugin qemu built in $((SECONDS - t0)) s"
}

# ---------------------------------------------------------------------------------------
# 2. llama.cpp (the copy vendored in the llama-cpp-sys-2 crate that crosscheck uses),
#    cross-compiled static for three ARM architecture levels, plus our driver.
# ---------------------------------------------------------------------------------------
# The llama.cpp build that matches a CPU model's features.
llama_arch_for() {
    case "$1" in
        cortex-a53|cortex-a72) echo armv8-a ;;
        cortex-a55|cortex-a76) echo armv8.2-a+dotprod ;;
        neoverse-n2|max) echo armv8.6-a+i8mm ;;
        *) echo "no llama.cpp arch known for CPU $1" >&2; return 1 ;;
    esac
}

# The vendored llama.cpp of the llama-cpp-sys-2 version in crosscheck/Cargo.lock.
llama_src() {
    local ver dir
    ver=$(awk '/^name = "llama-cpp-sys-2"$/ { getline; gsub(/[^0-9.]/, ""); print }' \
        "$ROOT/crosscheck/Cargo.lock")
    dir=$(ls -d "$HOME"/.cargo/registry/src/*/llama-cpp-sys-2-"$ver"/llama.cpp 2>/dev/null | head -1)
    if [ -z "$dir" ]; then
        # crosscheck's dependencies bring the vendored source.
        (cd "$ROOT/crosscheck" && cargo fetch -q) >&2
        dir=$(ls -d "$HOME"/.cargo/registry/src/*/llama-cpp-sys-2-"$ver"/llama.cpp | head -1)
    fi
    echo "$dir"
}

ensure_cross_gcc() {
    command -v aarch64-linux-gnu-g++ >/dev/null && return 0
    apt-get install -y -q --no-install-recommends gcc-aarch64-linux-gnu g++-aarch64-linux-gnu \
        libc6-dev-arm64-cross >/dev/null
}

# Build dir per arch: $CACHE/llama/<arch with + replaced by _>.
llama_dir() { echo "$CACHE/llama/${1//+/_}"; }

build_llama() {
    local arch=$1 src dir t0=$SECONDS
    dir=$(llama_dir "$arch")
    src=$(llama_src)
    ensure_cross_gcc
    if [ ! -f "$dir/lib-done" ]; then
        mkdir -p "$dir"
        cat >"$dir/toolchain.cmake" <<TC
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
TC
        # Only the libraries: no tools, examples, tests, server or network code.
        $NICE cmake -S "$src" -B "$dir/build" -DCMAKE_TOOLCHAIN_FILE="$dir/toolchain.cmake" \
            -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF -DGGML_NATIVE=OFF \
            -DGGML_CPU_ARM_ARCH="$arch" -DGGML_OPENMP=OFF -DGGML_CCACHE=OFF \
            -DLLAMA_BUILD_COMMON=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
            -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_CURL=OFF \
            -DLLAMA_OPENSSL=OFF >"$dir/cmake.log" 2>&1
        $NICE cmake --build "$dir/build" -j2 --target llama >"$dir/build.log" 2>&1 ||
            { log "llama.cpp build failed: see $dir/build.log"; return 1; }
        touch "$dir/lib-done"
        log "llama.cpp $arch built in $((SECONDS - t0)) s"
    fi
    # The driver, static, against the static libraries.
    local drv="$ROOT/scripts/arm-icount/llama-icount.c"
    if [ ! -x "$dir/llama-icount" ] || [ "$drv" -nt "$dir/llama-icount" ]; then
        local libs
        libs=$(find "$dir/build" -name 'libllama.a' -o -name 'libggml*.a' | sort -r)
        # Order: llama, then ggml (the backend registry), ggml-cpu, ggml-base.
        $NICE aarch64-linux-gnu-gcc -O2 -march="$arch" -c "$drv" -I "$src/include" \
            -I "$src/ggml/include" -o "$dir/llama-icount.o"
        $NICE aarch64-linux-gnu-g++ -static -o "$dir/llama-icount" "$dir/llama-icount.o" \
            $(echo "$libs" | grep '/libllama.a') $(echo "$libs" | grep '/libggml.a') \
            $(echo "$libs" | grep '/libggml-cpu.a') $(echo "$libs" | grep '/libggml-base.a') \
            -lpthread -lm 2>"$dir/link.log" ||
            { cat "$dir/link.log" >&2; return 1; }
        # (link.log holds glibc's usual warning about dlopen in a static binary; harmless.)
    fi
}

# ---------------------------------------------------------------------------------------
# 3. edgellm's aarch64 CLI, in the workspace's default target dir (shared with other builds).
# ---------------------------------------------------------------------------------------
EDGELLM="$ROOT/target/aarch64-unknown-linux-gnu/release/edgellm"
build_edgellm() {
    local t0=$SECONDS
    rustup target list --installed | grep -qx aarch64-unknown-linux-gnu ||
        rustup target add aarch64-unknown-linux-gnu
    ensure_cross_gcc
    # cargo decides itself whether anything changed.
    (cd "$ROOT" && $NICE cargo build -q --release -p edgellm --target aarch64-unknown-linux-gnu -j2)
    log "edgellm aarch64 build: $((SECONDS - t0)) s"
}

# ---------------------------------------------------------------------------------------
# 4. Model files. Defaults: the shipped SmolLM2 Q4_1 and a Q4_0 copy made by edgellm's own
#    quantizer (through an F16 copy, as README's quantize section does).
# ---------------------------------------------------------------------------------------
MODELS_DIR=${EDGELLM_HOME:-$HOME/.cache/edgellm}/models
SRC_MODEL="$MODELS_DIR/SmolLM2-135M-Instruct.Q4_1.gguf"
host_edgellm() {
    local bin="$ROOT/target/release/edgellm"
    [ -x "$bin" ] || (cd "$ROOT" && $NICE cargo build -q --release -p edgellm -j2)
    $NICE "$bin" "$@"
}
# A copy of SmolLM2 of TYPE in $CACHE/models (made once).
quantized_copy() {
    local type=$1 out="$CACHE/models/SmolLM2-135M-Instruct.$1.gguf"
    if [ ! -f "$out" ]; then
        mkdir -p "$CACHE/models"
        local f16="$CACHE/models/SmolLM2-135M-Instruct.F16.gguf"
        [ -f "$SRC_MODEL" ] || host_edgellm fetch smollm2 >&2
        [ -f "$f16" ] || host_edgellm quantize "$SRC_MODEL" "$f16" --type F16 \
            --allow-requantize -t 2 >&2
        host_edgellm quantize "$f16" "$out" --type "$type" -t 2 >&2
    fi
    echo "$out"
}

# ---------------------------------------------------------------------------------------
# 5. Counting: one run under the plugin qemu; the plugin's "total insns" line. Counts are
#    deterministic, so they are cached by (binary, model, CPU, arguments).
# ---------------------------------------------------------------------------------------
# count CPU MODEL PROGRAM ARGS...: instructions executed by PROGRAM ARGS on CPU.
count() {
    local cpu=$1 model=$2; shift 2
    local key f plog
    key=$(printf '%s\n' "$cpu" "$*" "$(sha256sum "$1" | cut -c1-16)" \
        "$(stat -c '%s %Y' "$model")" | sha256sum | cut -c1-24)
    f="$CACHE/counts/$key"
    if [ ! -s "$f" ]; then
        mkdir -p "$CACHE/counts"
        plog="$CACHE/counts/$key.plugin.log"
        EDGELLM_HOME="$CACHE/home" $NICE "$QEMU" -L /usr/aarch64-linux-gnu -cpu "$cpu" \
            -plugin "$PLUGIN,inline=on" -d plugin -D "$plog" "$@" >"$f.out" 2>&1 ||
            { log "failed: qemu -cpu $cpu $* (see $f.out)"; return 1; }
        sed -n 's/^total insns: //p' "$plog" >"$f.tmp"
        [ -s "$f.tmp" ] || { log "no count in $plog"; return 1; }
        mv "$f.tmp" "$f"
        printf '%s\n' "$cpu $*" >"$f.what"
    fi
    cat "$f"
}

# Instructions per token: (count(long) - count(short)) / (tokens(long) - tokens(short)).
per_token() { awk -v a="$1" -v b="$2" -v d="$3" 'BEGIN { printf "%.0f", (b - a) / d }'; }

# pair DIVISOR CPU MODEL SHORT_CMD... -- LONG_CMD...: instructions per token from two runs,
# or nothing if either run failed (the failure is logged; the table shows "—").
pair() {
    local d=$1 cpu=$2 model=$3; shift 3
    local short=() a b
    while [ "$1" != -- ]; do short+=("$1"); shift; done
    shift
    a=$(count "$cpu" "$model" "${short[@]}") || return 0
    b=$(count "$cpu" "$model" "$@") || return 0
    per_token "$a" "$b" "$d"
}

# edgellm bench measures memory bandwidth once per CPU name and caches it in
# $EDGELLM_HOME/bandwidth.json; fill that cache first (un-counted), or the first counted tg run
# would include a 256 MiB probe that the second one skips.
seed_bandwidth() {
    local cpu=$1 model=$2
    mkdir -p "$CACHE/home"
    EDGELLM_HOME="$CACHE/home" $NICE "$QEMU" -L /usr/aarch64-linux-gnu -cpu "$cpu" \
        "$EDGELLM" bench -m "$model" -p 0 -n 1 -t 1 -r 1 >/dev/null 2>&1
}

# ---------------------------------------------------------------------------------------
# Main: build, then count each (model, CPU, side) at two lengths.
# ---------------------------------------------------------------------------------------
T_ALL=$SECONDS
build_qemu
[ "$ONLY" = llama ] || build_edgellm
if [ "$ONLY" != edgellm ]; then
    needed=$(for c in $CPUS; do llama_arch_for "$c"; done | sort -u)
    for a in $needed; do build_llama "$a"; done
fi
if [ ${#MODELS[@]} -eq 0 ]; then
    MODELS=("$(quantized_copy Q4_0)" "$SRC_MODEL")
fi
[ "$SETUP_ONLY" = 1 ] && { log "setup done in $((SECONDS - T_ALL)) s"; exit 0; }

read -r P1 P2 <<<"$PP"
read -r N1 N2 <<<"$TG"
# Written to temporary files and moved into place at the end.
OUT_MD="$CACHE/results.md.$$"
OUT_JSON="$CACHE/results.json.$$"
{
    echo "| CPU | type | llama.cpp build | edgellm pp | llama.cpp pp | pp ratio | edgellm tg | llama.cpp tg | tg ratio |"
    echo "|---|---|---|---:|---:|---:|---:|---:|---:|"
} >"$OUT_MD"
echo "[" >"$OUT_JSON"
first=1
M() { awk -v x="$1" 'BEGIN { if (x == "") print "—"; else printf "%.1f M", x / 1e6 }'; }
R() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "") print "—"; else printf "%.2f×", a / b }'; }
for model in "${MODELS[@]}"; do
    type=$(basename "$model" .gguf); type=${type##*.}
    for cpu in $CPUS; do
        arch=$(llama_arch_for "$cpu")
        e_pp="" e_tg="" l_pp="" l_tg=""
        if [ "$ONLY" != llama ]; then
            seed_bandwidth "$cpu" "$model"
            # bench runs a warm-up pass plus -r 1 pass: a ppP test evaluates 2 × P tokens,
            # a tgN test 1 + N tokens.
            E=("$EDGELLM" bench -m "$model")
            e_pp=$(pair $((2 * (P2 - P1))) "$cpu" "$model" "${E[@]}" -p "$P1" -n 0 -t 1 -r 1 -- \
                "${E[@]}" -p "$P2" -n 0 -t 1 -r 1)
            e_tg=$(pair $((N2 - N1)) "$cpu" "$model" "${E[@]}" -p 0 -n "$N1" -t 1 -r 1 -- \
                "${E[@]}" -p 0 -n "$N2" -t 1 -r 1)
        fi
        if [ "$ONLY" != edgellm ]; then
            drv="$(llama_dir "$arch")/llama-icount"
            # The driver has the same structure: pp = 2 × P tokens, tg = 1 + N tokens.
            l_pp=$(pair $((2 * (P2 - P1))) "$cpu" "$model" "$drv" "$model" pp "$P1" -- \
                "$drv" "$model" pp "$P2")
            l_tg=$(pair $((N2 - N1)) "$cpu" "$model" "$drv" "$model" tg "$N1" -- \
                "$drv" "$model" tg "$N2")
        fi
        echo "| $cpu | $type | $arch | $(M "$e_pp") | $(M "$l_pp") | $(R "$e_pp" "$l_pp") | $(M "$e_tg") | $(M "$l_tg") | $(R "$e_tg" "$l_tg") |" >>"$OUT_MD"
        [ $first = 1 ] || echo "," >>"$OUT_JSON"
        first=0
        printf '  {"cpu": "%s", "type": "%s", "model": "%s", "llama_arch": "%s", "edgellm_pp": %s, "llama_pp": %s, "edgellm_tg": %s, "llama_tg": %s}' \
            "$cpu" "$type" "$model" "$arch" "${e_pp:-null}" "${l_pp:-null}" "${e_tg:-null}" "${l_tg:-null}" >>"$OUT_JSON"
        log "$cpu $type done ($((SECONDS - T_ALL)) s)"
    done
done
printf '\n]\n' >>"$OUT_JSON"
mv "$OUT_MD" "$CACHE/results.md"
mv "$OUT_JSON" "$CACHE/results.json"
echo
echo "Instructions per token (qemu-aarch64 $("$QEMU" --version | head -1 | awk '{print $3}'), one thread; pp $P1→$P2, tg $N1→$N2):"
echo
cat "$CACHE/results.md"
echo
log "table: $CACHE/results.md, JSON: $CACHE/results.json ($((SECONDS - T_ALL)) s in all)"
