#!/bin/bash
# Benchmark: the LUKS2 KDF as the init runs it against cryptsetup's.
# (usage() below has the whole text; -h prints it.)
set -euo pipefail
usage() {
    cat <<'EOF'
The LUKS2 KDF as the init runs it (RustCrypto's argon2 and pbkdf2, built
as the release profile builds them) against cryptsetup's own on the same
machine, same header, same parameters: `cryptsetup open --test-passphrase`
runs the keyslot's KDF (plus its area decryption, AF merge and digest
check, a few ms) and nothing else.

  bench/kdf.sh [-r REPS] [-m MEMORY_KIB] [-t PASSES] [-p THREADS] [-i PBKDF2_ITERATIONS]

Defaults: Argon2id with 256 MiB, 4 passes, 1 thread (the init runs the
lanes one after another, as the argon2 crate does without std); PBKDF2
with 1 000 000 iterations. Prints the minimum and median of each, and
the ratio ours/cryptsetup.
EOF
    exit 2
}
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/common.sh
. "$top/scripts/common.sh"
reps=3 mem=262144 passes=4 threads=1 iters=1000000
while getopts "r:m:t:p:i:h" o; do
    case $o in r) reps=$OPTARG ;; m) mem=$OPTARG ;; t) passes=$OPTARG ;; p) threads=$OPTARG ;; i) iters=$OPTARG ;; *) usage ;; esac
done
prepare >/dev/null
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
printf 'bench passphrase' > "$w/key"
(cd "$top" && cargo build --release --quiet --example kdf --target x86_64-unknown-linux-gnu)
ex=$top/target/x86_64-unknown-linux-gnu/release/examples/kdf

# min and median of REPS timed runs of a command, in ms
time_cmd() {
    local i t0 t1
    for ((i = 0; i < reps; i++)); do
        t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N)
        echo $(((t1 - t0) / 1000000))
    done | sort -n | awk '{v[NR] = $1} END {print v[1], v[int((NR + 1) / 2)]}'
}

echo "# $(date -u +%F) $(uname -m), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); cryptsetup $(cryptsetup --version | cut -d' ' -f2)"
for kdf in argon2id pbkdf2; do
    rm -f "$w/hdr.img"; truncate -s 32M "$w/hdr.img"
    if [ $kdf = argon2id ]; then
        opts=(--pbkdf argon2id --pbkdf-memory "$mem" --pbkdf-force-iterations "$passes" --pbkdf-parallel "$threads")
    else
        opts=(--pbkdf pbkdf2 --pbkdf-force-iterations "$iters")
    fi
    cryptsetup luksFormat -q --type luks2 "${opts[@]}" --key-file "$w/key" "$w/hdr.img"
    read -r c_min c_med < <(time_cmd cryptsetup open --test-passphrase --key-file "$w/key" "$w/hdr.img")
    line=$("$ex" "$w/hdr.img" "$reps")
    params=$(awk '{NF -= 2; $1 = ""; print substr($0, 2)}' <<< "$line")
    o_min=$(awk '{print $(NF - 1)}' <<< "$line")
    o_med=$(awk '{print $NF}' <<< "$line")
    printf '%-10s %-34s cryptsetup %6s / %6s ms   ours %6s / %6s ms   ratio %s / %s\n' "$kdf" "$params" "$c_min" "$c_med" "$o_min" "$o_med" \
        "$(echo "scale=2; $o_min / $c_min" | bc)" "$(echo "scale=2; $o_med / $c_med" | bc)"
done
