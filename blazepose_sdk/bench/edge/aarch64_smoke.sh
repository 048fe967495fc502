#!/usr/bin/env bash
# aarch64 install-and-run proof for blazepose-sdk, on an x86_64 Debian/Ubuntu host.
#
# Builds (once, cached) an arm64 Debian bookworm root with debootstrap, runs it under
# qemu-user-static through binfmt_misc, and inside it does what a Raspberry Pi OS (64-bit,
# bookworm: Python 3.11) user does: make a venv, `pip install` the wheel with its dependencies
# from PyPI (aarch64 wheels), run `blazepose run` on a photo, and run the benchmark suite's quick
# mode when the checkout has one. Prints a summary (Python, wheels, pose found) at the end.
#
# Timings under emulation mean nothing; the point is that install and run work on aarch64.
# Not run in CI (several minutes the first time: debootstrap, then ~80 MB of wheels).
#
# Usage (as root):   bash blazepose_sdk/bench/edge/aarch64_smoke.sh [path/to/blazepose_sdk-*.whl]
# Without a wheel argument the checkout is built with `python3 -m build --wheel`.
#
# Environment:
#   BLAZEPOSE_ARM64_ROOT    the cached arm64 root      (default /var/tmp/blazepose-arm64-root)
#   BLAZEPOSE_ARM64_SUITE   Debian suite                (default bookworm: Python 3.11, like Pi OS 12)
#   BLAZEPOSE_ARM64_MIRROR  Debian mirror               (default: the first Debian archive this machine's
#                           apt sources name, from /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list)
#   BLAZEPOSE_ARM64_LOG     full log of this run        (default $BLAZEPOSE_ARM64_ROOT.log)
#   BLAZEPOSE_REFERENCE_DIR host folder with the official reference models
#                           (default: the SDK's user cache, filled by `blazepose models fetch-reference`)
#   BLAZEPOSE_TEST_IMAGE    photo to run on             (default ../shared/data/basketball1.png)
#   BLAZEPOSE_ARM64_BENCH_ARGS  arguments after `blazepose bench latency` (default --quick;
#                           about 25 min under emulation on 2 cores; "--quick --threads 1 --no-rss"
#                           takes a fraction of that)
#   PIP_CERT                a CA bundle for pip inside the root (default: the host pip's global.cert),
#                           needed only behind a TLS-intercepting proxy
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"  # blazepose_sdk/bench/edge -> the checkout
ROOTFS="${BLAZEPOSE_ARM64_ROOT:-/var/tmp/blazepose-arm64-root}"
SUITE="${BLAZEPOSE_ARM64_SUITE:-bookworm}"
# The Debian archive this machine's apt uses (deb822 "URIs:" lines or one-line "deb URI suite"
# entries), skipping the security archive; never a host name written here.
apt_mirror() {
    local uri
    uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null \
          | awk '/^URIs:/ { for (i = 2; i <= NF; i++) print $i }' | grep -v -- '-security' | head -n 1)
    if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
        uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break } }' \
              /etc/apt/sources.list | grep -v -- '-security' | head -n 1)
    fi
    printf '%s' "$uri"
}
MIRROR="${BLAZEPOSE_ARM64_MIRROR:-$(apt_mirror)}"
if [ -z "$MIRROR" ]; then
    echo "aarch64_smoke: no Debian mirror in this machine's apt sources; set BLAZEPOSE_ARM64_MIRROR" >&2
    exit 2
fi
LOG="${BLAZEPOSE_ARM64_LOG:-${ROOTFS}.log}"
IMAGE="${BLAZEPOSE_TEST_IMAGE:-$REPO/../shared/data/basketball1.png}"
BENCH_ARGS="${BLAZEPOSE_ARM64_BENCH_ARGS:---quick}"
# The Debian packages a Raspberry Pi OS image already has for a pip user.
ROOT_PACKAGES="python3,python3-venv,python3-pip,ca-certificates"
# The user inside the root (Raspberry Pi OS's first user has uid 1000).
PI_USER=pi
PI_UID=1000
PI_HOME=/home/$PI_USER
DONE_MARK="$ROOTFS/.blazepose-bootstrap-done"
START_S=$SECONDS

log() { printf '[aarch64-smoke %4ds] %s\n' "$((SECONDS - START_S))" "$*" | tee -a "$LOG" >&2; }
die() { log "FAILED: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (debootstrap, chroot and binfmt_misc need it)"
mkdir -p "$(dirname "$LOG")"
: > "$LOG"
log "log: $LOG   root: $ROOTFS   suite: $SUITE"

# --- 1. host tools (all Debian packages) --------------------------------------------------------
missing=()
command -v debootstrap >/dev/null || missing+=(debootstrap)
[ -x /usr/bin/qemu-aarch64-static ] || missing+=(qemu-user-static)
command -v update-binfmts >/dev/null || missing+=(binfmt-support)
if [ ${#missing[@]} -gt 0 ]; then
    log "installing host packages: ${missing[*]}"
    apt-get update -qq >>"$LOG" 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >>"$LOG" 2>&1
fi

# --- 2. binfmt_misc: the kernel hands aarch64 ELF files to qemu-aarch64-static ------------------
# Needed for everything inside the root: pip and python start child processes, which a bare
# `qemu-aarch64-static prog` cannot follow. The F flag (Debian's default) makes the kernel open
# the interpreter at registration time, so no qemu binary has to be copied into the root.
if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc \
        || die "cannot mount binfmt_misc (a container without it cannot run foreign binaries)"
fi
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || update-binfmts --import qemu-aarch64 >>"$LOG" 2>&1 || true
update-binfmts --enable qemu-aarch64 >>"$LOG" 2>&1 || true
grep -q '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null \
    || die "binfmt_misc has no enabled qemu-aarch64 entry (see $LOG)"
grep -q '^flags:.*F' /proc/sys/fs/binfmt_misc/qemu-aarch64 \
    || die "the qemu-aarch64 binfmt entry lacks the F (fix-binary) flag; copy /usr/bin/qemu-aarch64-static into the root or re-register it"

# --- 3. the arm64 root (cached) -----------------------------------------------------------------
if [ ! -e "$DONE_MARK" ]; then
    log "debootstrap $SUITE arm64 into $ROOTFS (several minutes under emulation)"
    rm -rf "$ROOTFS"
    debootstrap --arch=arm64 --variant=minbase --include="$ROOT_PACKAGES" "$SUITE" "$ROOTFS" "$MIRROR" \
        >>"$LOG" 2>&1 || die "debootstrap failed (tail of $LOG: $(tail -3 "$LOG" | tr '\n' ' '))"
    chroot "$ROOTFS" /usr/sbin/useradd --create-home --uid "$PI_UID" --shell /bin/bash "$PI_USER"
    touch "$DONE_MARK"
else
    log "reusing the cached root $ROOTFS"
fi

# --- 4. mounts for the chroot, undone on exit ---------------------------------------------------
MOUNTED=()
cleanup() {
    local i
    for ((i = ${#MOUNTED[@]} - 1; i >= 0; i--)); do umount -l "${MOUNTED[$i]}" 2>/dev/null || true; done
}
trap cleanup EXIT
mount_in() {  # mount_in TYPE_OR_--bind SOURCE TARGET_IN_ROOT
    local target="$ROOTFS$3"
    [ -e "$target" ] || mkdir -p "$target"
    if findmnt --mountpoint "$target" >/dev/null 2>&1; then return; fi
    if [ "$1" = --bind ]; then mount --bind "$2" "$target"; else mount -t "$1" "$2" "$target"; fi
    MOUNTED+=("$target")
}
mount_in proc proc /proc
mount_in sysfs sys /sys
mount_in --bind /dev /dev
mount_in --bind /dev/pts /dev/pts
# The root sees the host's /proc/cpuinfo (x86). The cpuinfo library inside the TFLite runtime
# (XNNPACK, ruy) parses it as ARM and crashes with SIGSEGV in allocate_tensors(). Show it what a
# Raspberry Pi 4 reports instead (Cortex-A72: implementer 0x41, part 0xd08), one entry per host
# CPU. On a real device none of this is needed.
CPUINFO="$ROOTFS/.blazepose-cpuinfo-arm64"
: > "$CPUINFO"
for ((cpu = 0; cpu < $(nproc); cpu++)); do
    printf 'processor\t: %d\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\nCPU revision\t: 3\n\n' "$cpu" >> "$CPUINFO"
done
mount_in --bind "$CPUINFO" /proc/cpuinfo
cp -L /etc/resolv.conf "$ROOTFS/etc/resolv.conf"

as_pi() {  # run a bash snippet inside the root as the pi user, in a clean environment
    local extra=()
    [ -n "${ROOT_PIP_CERT:-}" ] && extra+=("PIP_CERT=$ROOT_PIP_CERT")
    chroot --userspec="$PI_UID:$PI_UID" "$ROOTFS" /usr/bin/env -i \
        HOME="$PI_HOME" USER="$PI_USER" PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 \
        PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 BLAZEPOSE_DATA_DIR="$PI_HOME/shared/data" "${extra[@]}" \
        /bin/bash -c "cd $PI_HOME && $1"
}

ARCH_IN_ROOT="$(as_pi 'uname -m')"
[ "$ARCH_IN_ROOT" = aarch64 ] || die "uname -m in the root says $ARCH_IN_ROOT, expected aarch64"
log "root runs: $ARCH_IN_ROOT, $(as_pi 'python3 --version'), $(as_pi '. /etc/os-release && echo $PRETTY_NAME')"

# --- 5. what goes into the root: the wheel, the reference models, a photo -----------------------
WHEEL="${1:-}"
if [ -z "$WHEEL" ]; then
    WHEEL_DIR="$(mktemp -d /tmp/blazepose-wheel.XXXXXX)"
    log "building the sdist and wheel from $REPO (python3 -m build)"
    python3 -m build --outdir "$WHEEL_DIR" "$REPO" >>"$LOG" 2>&1 \
        || die "python3 -m build failed (pip install build?) - see $LOG"
    WHEEL="$(ls "$WHEEL_DIR"/blazepose_sdk-*.whl)"
fi
[ -f "$WHEEL" ] || die "no wheel at $WHEEL"
install -d -o "$PI_UID" -g "$PI_UID" "$ROOTFS$PI_HOME/dist" "$ROOTFS$PI_HOME/data" "$ROOTFS$PI_HOME/out"
rm -f "$ROOTFS$PI_HOME"/dist/*.whl "$ROOTFS$PI_HOME"/out/*
install -o "$PI_UID" -g "$PI_UID" -m 644 "$WHEEL" "$ROOTFS$PI_HOME/dist/"
WHEEL_NAME="$(basename "$WHEEL")"

[ -f "$IMAGE" ] || die "test photo not found: $IMAGE (set BLAZEPOSE_TEST_IMAGE)"
install -o "$PI_UID" -g "$PI_UID" -m 644 "$IMAGE" "$ROOTFS$PI_HOME/data/"
IMAGE_NAME="$(basename "$IMAGE")"

REF_DIR="${BLAZEPOSE_REFERENCE_DIR:-$(cd "$REPO" && python3 -c 'from blazepose_sdk.assets.models import reference_dir; print(reference_dir())' 2>>"$LOG" || true)}"
REF_VERSION="$(cd "$REPO" && python3 -c 'from blazepose_sdk.assets.models import REFERENCE_NPM_VERSION as v; print(v)')"
[ -f "$REF_DIR/pose_detection.tflite" ] \
    || die "reference models not found in '$REF_DIR': run \`blazepose models fetch-reference\` on the host first"
# The SDK's default user cache inside the root; the files stay in the root, never in the repo.
ROOT_REF="$PI_HOME/.cache/blazepose_sdk/reference/$REF_VERSION"
install -d -o "$PI_UID" -g "$PI_UID" "$ROOTFS$PI_HOME/.cache" "$ROOTFS$PI_HOME/.cache/blazepose_sdk" \
    "$ROOTFS$PI_HOME/.cache/blazepose_sdk/reference" "$ROOTFS$ROOT_REF"
install -o "$PI_UID" -g "$PI_UID" -m 644 "$REF_DIR"/*.tflite "$ROOTFS$ROOT_REF/"
[ -f "$REF_DIR/manifest.json" ] && install -o "$PI_UID" -g "$PI_UID" -m 644 "$REF_DIR/manifest.json" "$ROOTFS$ROOT_REF/"

# pip inside the root checks TLS with the root's CA bundle; behind an intercepting proxy the
# host's bundle is needed too.
HOST_CERT="${PIP_CERT:-$(python3 -m pip config get global.cert 2>/dev/null || true)}"
if [ -n "$HOST_CERT" ] && [ -f "$HOST_CERT" ]; then
    cp "$HOST_CERT" "$ROOTFS/etc/ssl/certs/host-ca-bundle.crt"
    ROOT_PIP_CERT=/etc/ssl/certs/host-ca-bundle.crt
fi

# --- 6. install as a Raspberry Pi OS user: a venv, then pip install the wheel -------------------
# (Bookworm's system Python is "externally managed": pip refuses to install into it.)
log "pip install $WHEEL_NAME into a fresh venv (dependencies from PyPI)"
as_pi "rm -rf blazepose-venv && python3 -m venv blazepose-venv" >>"$LOG" 2>&1 || die "venv creation failed"
as_pi "blazepose-venv/bin/pip install --progress-bar off dist/$WHEEL_NAME" > "$ROOTFS$PI_HOME/out/pip-install.log" 2>&1 \
    || { cat "$ROOTFS$PI_HOME/out/pip-install.log" >>"$LOG"; die "pip install failed (see $LOG)"; }
cat "$ROOTFS$PI_HOME/out/pip-install.log" >>"$LOG"
PY_VERSION="$(as_pi 'blazepose-venv/bin/python -c "import platform, sys; print(sys.version.split()[0], platform.machine())"')"
WHEELS_USED="$(grep -oE '[A-Za-z0-9_.+-]+\.whl' "$ROOTFS$PI_HOME/out/pip-install.log" | sort -u || true)"
VERSIONS="$(as_pi 'blazepose-venv/bin/pip list --format=freeze' | grep -iE '^(blazepose-sdk|numpy|opencv-python-headless|ai-edge-litert|tflite-runtime|tqdm)==' || true)"
RUNTIME="$(as_pi 'blazepose-venv/bin/python -c "from blazepose_sdk.stages.runtime import runtime_name; print(runtime_name())"' 2>>"$LOG")" \
    || die "the installed SDK cannot load a TFLite runtime (see $LOG)"

# --- 7. the CLI on a photo ----------------------------------------------------------------------
log "blazepose run $IMAGE_NAME --model reference-full (under emulation: slow)"
CLI_OUT="$(as_pi "cd out && ../blazepose-venv/bin/blazepose run ../data/$IMAGE_NAME --model reference-full \
    --json pose.jsonl --out annotated.png --threads 2" 2>&1)" || { echo "$CLI_OUT" >>"$LOG"; die "blazepose run failed: $CLI_OUT"; }
echo "$CLI_OUT" >>"$LOG"
POSE_FOUND=no
LANDMARKS="-"
if grep -q '^with_pose: 1' <<<"$CLI_OUT"; then
    POSE_FOUND=yes
    LANDMARKS="$(as_pi 'blazepose-venv/bin/python -c "
import json
r = json.loads(open(\"out/pose.jsonl\").readline())
p = r[\"pose\"]
print(len(p[\"landmarks\"]), \"landmarks, presence %.3f, nose at (%.1f, %.1f) px\" % (p[\"presence\"], *p[\"landmarks\"][0][:2]))
"')"
fi

# The same command on the host (x86_64, the checkout's SDK): both runtimes run the same float
# models, so the landmarks must agree to a fraction of a pixel.
HOST_DIFF="skipped (the checkout's SDK does not run on this host)"
HOST_JSON="$(mktemp /tmp/blazepose-host-pose.XXXXXX.jsonl)"
if [ "$POSE_FOUND" = yes ] && (cd "$REPO" && python3 -m blazepose_sdk run "$IMAGE" --model reference-full \
        --json "$HOST_JSON" --threads 2) >>"$LOG" 2>&1; then
    HOST_DIFF="$(python3 - "$HOST_JSON" "$ROOTFS$PI_HOME/out/pose.jsonl" <<'PY'
import json, sys
host, arm = (json.loads(open(path).readline())["pose"] for path in sys.argv[1:])
if host is None:
    print("host found no pose")
else:
    diff = max(abs(a - b) for h, r in zip(host["landmarks"], arm["landmarks"]) for a, b in zip(h[:2], r[:2]))
    # Same float models on both runtimes: only kernel/rounding differences are expected.
    print(f"{diff:.3f} px max |x,y| difference over 33 landmarks" + ("" if diff < 1.0 else " - MISMATCH"))
PY
)"
fi
rm -f "$HOST_JSON"

# --- 8. the benchmark suite's quick mode, where the checkout has one ----------------------------
BENCH_STATUS="skipped (no blazepose_sdk/bench/__main__.py in this checkout)"
BENCH_TAIL=""
if [ -f "$REPO/blazepose_sdk/bench/__main__.py" ]; then
    if python3 -c "import sys, zipfile; sys.exit('blazepose_sdk/bench/__main__.py' not in zipfile.ZipFile(sys.argv[1]).namelist())" "$WHEEL"; then
        log "pip install the [bench] extra and run: blazepose bench latency $BENCH_ARGS (slow under emulation)"
        as_pi "blazepose-venv/bin/pip install --progress-bar off 'dist/${WHEEL_NAME}[bench]'" >>"$LOG" 2>&1 \
            || die "pip install [bench] failed (see $LOG)"
        # The suite's sample data (basketball1.png, vtest.avi); as_pi points BLAZEPOSE_DATA_DIR here.
        install -d -o "$PI_UID" -g "$PI_UID" "$ROOTFS$PI_HOME/shared" "$ROOTFS$PI_HOME/shared/data" "$ROOTFS$PI_HOME/work"
        install -o "$PI_UID" -g "$PI_UID" -m 644 "$(dirname "$IMAGE")"/* "$ROOTFS$PI_HOME/shared/data/" 2>/dev/null || true
        # Slow under emulation: --quick times every reference model at 1, 2 and 4 threads.
        rm -rf "$ROOTFS/tmp/blazepose-bench"
        if as_pi "cd work && ../blazepose-venv/bin/blazepose bench latency $BENCH_ARGS --no-progress --out /tmp/blazepose-bench" \
                2>&1 | tee -a "$LOG" > "$ROOTFS$PI_HOME/out/benchmark.log"; then
            BENCH_STATUS="latency $BENCH_ARGS ran (exit 0); results in $ROOTFS/tmp/blazepose-bench"
        else
            BENCH_STATUS="FAILED"
        fi
        BENCH_TAIL="$(tail -n 25 "$ROOTFS$PI_HOME/out/benchmark.log")"
    else
        BENCH_STATUS="skipped (the wheel does not carry the benchmarks package)"
    fi
fi

# --- 9. summary ---------------------------------------------------------------------------------
{
    echo
    echo "===== blazepose-sdk aarch64 smoke summary ====="
    echo "root:            $ROOTFS ($SUITE arm64, qemu-user-static via binfmt_misc)"
    echo "python:          $PY_VERSION"
    echo "tflite runtime:  $RUNTIME"
    echo "packages:"
    sed 's/^/  /' <<<"$VERSIONS"
    echo "wheels pip used:"
    sed 's/^/  /' <<<"$WHEELS_USED"
    echo "cli output:"
    sed 's/^/  /' <<<"$CLI_OUT"
    echo "pose found:      $POSE_FOUND ($LANDMARKS)"
    echo "vs x86_64 host:  $HOST_DIFF"
    echo "benchmark quick: $BENCH_STATUS"
    [ -z "$BENCH_TAIL" ] || sed 's/^/  /' <<<"$BENCH_TAIL"
    echo "elapsed:         $((SECONDS - START_S)) s (emulated; timings mean nothing)"
    echo "full log:        $LOG"
} | tee -a "$LOG"

[ "$POSE_FOUND" = yes ] || die "no pose found on $IMAGE_NAME"
[[ "$HOST_DIFF" != *MISMATCH* ]] || die "aarch64 landmarks differ from the x86_64 host's by 1 px or more"
[ "$BENCH_STATUS" != FAILED ] || die "the benchmark quick mode failed (see $LOG)"
