#!/usr/bin/env bash
# ci/compare/run.sh OLD_BIN NEW_BIN: proves two builder binaries behave the same, byte for byte.
#
# Both binaries run the same list of commands (renders in every mode, show, profiles, hosts,
# detect, diff, verify, pin, schema, completions, manpage, help, errors), each in its own folder
# (old/ and new/ under a scratch folder) with the same environment and the same relative paths,
# so nothing in their outputs may differ: every output tree is compared with `diff -r`
# (symlinks by target; modes, sizes and link targets through a listing of each tree), overlays
# and images also with `cmp`, and stdout, stderr and the exit code of every command, after a
# small sed that only removes what legitimately varies between two runs (timings, rates,
# the scratch folder's name). See ci/compare/README.md.
#
# Offline: the upstream artifacts are fakes in their real release layouts
# (ci/compare/fake-upstream.py), served by `python3 -m http.server` on 127.0.0.1; the profiles
# extend the shipped ones (built into each binary) with loopback urls and computed pins.
#
# Output: one line per case, `same CASE`, `DIFFERENT CASE: FIRST DIFFERING FILE (and N more);
# cmp: FIRST DIFFERING ARCHIVE first differs at byte B` or
# `BROKEN CASE: WHY` (the case did not do what it is there for with OLD, e.g. an unexpected
# exit code, so its sameness would prove nothing). Exit status 0 only when every case is same.
#
# Environment:
#   COMPARE_NEGATIVE=1  negative control: NEW runs with another SOURCE_DATE_EPOCH, so the run
#                       must report DIFFERENT cases and exit non-zero (run it with NEW=OLD)
#   COMPARE_KEEP=1      keep the scratch folder (kept anyway when something differs)
#   COMPARE_EPOCH       SOURCE_DATE_EPOCH for both (default 1700000000)
#   TMPDIR              where the scratch folder goes
set -euo pipefail
unset CWD STDIN   # per-command knobs of c() below, never taken from the caller

usage() { echo "usage: $0 OLD_BIN NEW_BIN   (env: COMPARE_NEGATIVE=1, COMPARE_KEEP=1)" >&2; exit 2; }
[[ $# -eq 2 ]] || usage
die() { echo "compare: $*" >&2; exit 2; }
for b in "$1" "$2"; do [[ -x $b && -f $b ]] || die "not an executable file: $b"; done
OLD_BIN=$(realpath "$1")
NEW_BIN=$(realpath "$2")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
for t in python3 diff cmp sed find sort ssh-keygen sha256sum; do
    command -v "$t" >/dev/null || die "$t is required"
done
HAVE_MINISIGN=0
command -v minisign >/dev/null && HAVE_MINISIGN=1

EPOCH=${COMPARE_EPOCH:-1700000000}
[[ $EPOCH =~ ^[0-9]+$ ]] || die "COMPARE_EPOCH must be a number of seconds"
NEGATIVE=${COMPARE_NEGATIVE:-0}
EPOCH_NEW=$EPOCH
[[ $NEGATIVE == 1 ]] && EPOCH_NEW=$((EPOCH + 86400))
START=$SECONDS

WORK=$(mktemp -d "${TMPDIR:-/tmp}/builder-compare.XXXXXX")
SERVER_PID=
KEEP=${COMPARE_KEEP:-0}
# shellcheck disable=SC2317  # called by the trap
cleanup() {
    if [[ -n $SERVER_PID ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [[ $KEEP == 1 ]]; then
        echo "compare: scratch folder kept: $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
# Fake upstream on loopback, profiles, keys
# ---------------------------------------------------------------------------------------------
python3 "$HERE/fake-upstream.py" artifacts "$WORK/srv"
echo "compare: fake upstream artifacts ready ($((SECONDS - START)) s)" >&2
# Port 0: the kernel picks a free port; the server prints it ("... port N ...").
python3 -u -m http.server --bind 127.0.0.1 --directory "$WORK/srv" 0 >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
PORT=
for _ in $(seq 100); do
    PORT=$(sed -n 's/.* port \([0-9][0-9]*\).*/\1/p' "$WORK/server.log" | head -n1)
    [[ -n $PORT ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; die "http.server did not start"; }
    sleep 0.1
done
[[ -n $PORT ]] || die "http.server did not report its port"
BASE=http://127.0.0.1:$PORT
python3 - "$BASE/pins.json" <<'EOF' || die "the loopback server does not answer at $BASE"
import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=10).read()
EOF
# A port nothing listens on (bound, then closed), for the unreachable-host case.
DEAD_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')

P=$WORK/p
python3 "$HERE/fake-upstream.py" profiles "$WORK/srv" "$BASE" "$P"
cat >"$P/bad-host.toml" <<EOF
# containerd.toml with crictl on a loopback port nothing listens on.
schema = 1
extends = "./containerd.toml"
name = "bad-host"
arch = ["amd64"]
[[artifact]]
name = "crictl"
url = "http://127.0.0.1:$DEAD_PORT/crictl-v{version}-linux-{arch}.tar.gz"
sha256 = "$(printf '%064d' 0)"
EOF
# Keys: made once, shared by both sides (signatures must then be the same bytes).
ssh-keygen -q -t ed25519 -C builder -N '' -f "$P/ssh_ed25519"
ssh-keygen -q -t ed25519 -C builder -N 'a pass phrase' -f "$P/ssh_ed25519_enc"
ssh-keygen -q -t ecdsa -b 256 -C builder -N '' -f "$P/ssh_ecdsa"
{ echo "builder $(cat "$P/ssh_ed25519.pub")"; echo "builder $(cat "$P/ssh_ecdsa.pub")"; } >"$P/allowed_signers"
if [[ $HAVE_MINISIGN == 1 ]]; then
    minisign -G -W -p "$P/minisign.pub" -s "$P/minisign.key" >/dev/null
fi

# ---------------------------------------------------------------------------------------------
# Normalisation of stdout and stderr: only what legitimately differs between two runs.
# ---------------------------------------------------------------------------------------------
cat >"$WORK/normalise.sed" <<'EOF'
# Durations in progress lines: "in 0.3 s", "in 12 ms", "in 1.2 µs" -> "in <T>".
s/\bin [0-9][0-9.]* \?\(µs\|us\|ms\|s\|min\)\b/in <T>/g
# Transfer rates: "9.4 MB/s", "812.0 KB/s", "1.1 GiB/s" -> "<RATE>".
s/\b[0-9][0-9.]* \?[KMGT]\?i\?B\/s\b/<RATE>/g
EOF
# The scratch folder's own name (each side's folder, then the folder itself) -> <SIDE>, <WORK>.
# Commands use relative paths, so these rarely match; they keep a printed absolute path
# from making a false difference.
WORK_RE=$(printf '%s' "$WORK" | sed 's/[][\.*^$/]/\\&/g')
printf 's/%s\\/\\(old\\|new\\)\\b/<SIDE>/g\ns/%s/<WORK>/g\n' "$WORK_RE" "$WORK_RE" >>"$WORK/normalise.sed"
# Downloads finish in any order when several run at once (--jobs above 1), and so do their
# progress lines: each run of consecutive "fetched"/"cached" lines is sorted (everything else
# keeps its place). Cases run with --jobs 1 keep the order, which is then compared as it is.
cat >"$WORK/sort-downloads.awk" <<'EOF'
/^(fetched|cached) / { if (!open) fflush(); print | "LC_ALL=C sort"; open = 1; next }
open { close("LC_ALL=C sort"); open = 0 }
{ print }
END { if (open) close("LC_ALL=C sort") }
EOF
# normalise SORT: stdin to stdout; SORT=1 also sorts the download lines.
normalise() {
    if [[ $1 == 1 ]]; then
        sed -f "$WORK/normalise.sed" | awk -f "$WORK/sort-downloads.awk"
    else
        sed -f "$WORK/normalise.sed"
    fi
}

# ---------------------------------------------------------------------------------------------
# Running one side
# ---------------------------------------------------------------------------------------------
# The environment of every command: nothing from the caller's (no BUILDER_*, RUST_LOG, ...).
base_env() {
    BASE_ENV=(PATH="$PATH" HOME="$SIDE/home" XDG_CACHE_HOME="$SIDE/home/.cache"
              TMPDIR="$SIDE/tmp" LANG=C.UTF-8 TZ=UTC TERM=dumb SOURCE_DATE_EPOCH="$SIDE_EPOCH")
}

# Listing of a tree: type, mode, size (files), link target; sorted by path. Folders' sizes
# depend on the filesystem, not on builder, and are left out.
listing() {
    (cd "$1" && find . -mindepth 1 \( -type d -printf 'd %m - %P\n' \) \
        -o \( -type l -printf 'l %m - %P -> %l\n' \) -o -printf '%y %m %s %P\n') | LC_ALL=C sort -k4
}

# c CASE[/SUB] WANT_RC [VAR=VALUE]... -- ARGS...
# Runs `builder ARGS` in $SIDE (or $CWD) with the fixed environment plus VAR=VALUE (and stdin
# from $STDIN, else /dev/null). Records cmd, rc, normalised stdout and stderr in res/CASE[/SUB]/
# and the raw streams in raw/; lists res/CASE[/SUB]/out/ (where renders write) if it exists.
# An exit code other than WANT_RC is written to broken (reported as BROKEN for OLD).
c() {
    local name=$1 want=$2
    shift 2
    local envs=()
    while [[ $1 != -- ]]; do envs+=("$1"); shift; done
    shift
    local res=$SIDE/res/$name raw=$SIDE/raw/$name rc=0 sort=1
    [[ " $* " == *" --jobs 1 "* ]] && sort=0
    mkdir -p "$res" "$raw"
    { printf '%q ' "${envs[@]}" builder "$@"; echo; } | normalise 0 >"$res/cmd"
    (cd "${CWD:-$SIDE}" && exec env -i "${BASE_ENV[@]}" "${envs[@]}" "$SIDE_BIN" "$@" \
        <"${STDIN:-/dev/null}" >"$raw/stdout" 2>"$raw/stderr") || rc=$?
    echo "$rc" >"$res/rc"
    normalise $sort <"$raw/stdout" >"$res/stdout"
    normalise $sort <"$raw/stderr" >"$res/stderr"
    [[ -d $res/out ]] && listing "$res/out" >"$res/tree.txt"
    if [[ $rc != "$want" ]]; then
        echo "$name: exit $rc, expected $want ($(head -c 300 "$raw/stderr" | tr '\n' ' '))" >>"$SIDE/broken"
    fi
    return 0
}

# expect CASE[/SUB] FILE REGEX: FILE (under raw/CASE[/SUB]/, or res/...) must match REGEX
# (grep -E). What the case is there for, e.g. that the second render came from the cache.
expect() {
    local name=$1 file=$2 re=$3 f
    f=$SIDE/raw/$name/$file
    [[ -e $f ]] || f=$SIDE/res/$name/$file
    if grep -Eq -- "$re" "$f" 2>/dev/null; then
        echo "yes: $file ~ $re" >>"$SIDE/res/$name/expect"
    else
        echo "no: $file ~ $re" >>"$SIDE/res/$name/expect"
        echo "$name: $file does not match /$re/" >>"$SIDE/broken"
    fi
}

# check CASE[/SUB] WHAT CMD...: CMD (run in $SIDE) must succeed; e.g. a signature that the real
# ssh-keygen or minisign accepts, so the case compares what it is meant to.
check() {
    local name=$1 what=$2
    shift 2
    if (cd "$SIDE" && "$@") >>"$SIDE/raw/$name/check.log" 2>&1; then
        echo "yes: $what" >>"$SIDE/res/$name/expect"
    else
        echo "no: $what" >>"$SIDE/res/$name/expect"
        echo "$name: $what failed" >>"$SIDE/broken"
    fi
}
# shellcheck disable=SC2317  # called through check
sshsig() {  # sshsig DIR: ssh-keygen -Y verify of DIR/SHA256SUMS.sig
    ssh-keygen -Y verify -f p/allowed_signers -I builder -n file -s "$1/SHA256SUMS.sig" <"$1/SHA256SUMS"
}

# The cases. Everything relative to $SIDE, which holds p/ (profiles, keys, join files) and
# fx/ (tests/fixtures/detect); every render has its own --cache-dir under cache/.
cases() {
    local R=(render --no-output-cache)
    local CP=p/containerd.toml DP=p/cri-dockerd.toml
    local SYSEXT_URL="$BASE/ext/{arch}/node.raw"

    # --- renders -------------------------------------------------------------------------
    # Baked mode, both arches of each shipped profile.
    c render-containerd 0 -- "${R[@]}" -p $CP --out res/render-containerd/out --cache-dir cache/containerd
    c render-cri-dockerd 0 -- "${R[@]}" -p $DP --out res/render-cri-dockerd/out --cache-dir cache/cri-dockerd
    # The same containerd render again from the warm download cache, --offline.
    c render-containerd-offline 0 -- "${R[@]}" -p $CP --out res/render-containerd-offline/out \
        --cache-dir cache/containerd --offline
    # Fetch mode (and a cloud's size limit); with join parameters.
    c render-containerd-fetch 0 -- "${R[@]}" -p $CP --out res/render-containerd-fetch/out \
        --cache-dir cache/containerd-fetch --cloud aws --overlay-url "$BASE/published/{arch}/overlay.tar.gz"
    c render-containerd-join 0 -- "${R[@]}" -p $CP --out res/render-containerd-join/out \
        --cache-dir cache/containerd-join --cloud gcp --join-config p/join.toml
    c render-cri-dockerd-fetch-join-env 0 BUILDER_JOIN_API_SERVER=10.0.0.11:6443 \
        BUILDER_JOIN_TOKEN=uvwxyz.0123456789uvwxyz \
        BUILDER_JOIN_CA_CERT_HASH=sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 \
        BUILDER_JOIN_DISCOVERY_TIMEOUT=2m30s -- \
        "${R[@]}" -p $DP --out res/render-cri-dockerd-fetch-join-env/out --cache-dir cache/crid-fetch \
        --cloud azure --overlay-url "file:///var/lib/overlays/{arch}/overlay.tar.gz"
    # systemd-sysext images and Ignition configs.
    c render-containerd-sysext 0 -- "${R[@]}" -p $CP --out res/render-containerd-sysext/out \
        --cache-dir cache/containerd-sysext --format sysext --sysext-url "$SYSEXT_URL" --join-config p/join.toml
    c render-cri-dockerd-sysext 0 -- "${R[@]}" -p $DP --out res/render-cri-dockerd-sysext/out \
        --cache-dir cache/crid-sysext --format overlay,sysext --sysext-url "$SYSEXT_URL"
    # zstd overlays.
    c render-containerd-zstd 0 -- "${R[@]}" -p $CP --out res/render-containerd-zstd/out \
        --cache-dir cache/containerd-zstd --compression zstd
    c render-cri-dockerd-zstd 0 BUILDER_COMPRESSION=zstd -- "${R[@]}" -p $DP \
        --out res/render-cri-dockerd-zstd/out --cache-dir cache/crid-zstd
    # Signed: OpenSSH Ed25519 (plain, and encrypted through BUILDER_SIGN_KEY and the
    # passphrase variable), minisign; with --output json on stdout.
    c render-containerd-sign-ssh 0 -- "${R[@]}" -p $CP --out res/render-containerd-sign-ssh/out \
        --cache-dir cache/containerd-sign --sign-key p/ssh_ed25519 --output json
    expect render-containerd-sign-ssh stdout '"signature": \{'
    check render-containerd-sign-ssh "ssh-keygen -Y verify" sshsig res/render-containerd-sign-ssh/out/containerd/arm64
    c render-containerd-sign-ssh-enc 0 BUILDER_SIGN_KEY=p/ssh_ed25519_enc \
        "BUILDER_SIGN_PASSPHRASE=a pass phrase" -- "${R[@]}" -p $CP \
        --out res/render-containerd-sign-ssh-enc/out --cache-dir cache/containerd-sign-enc --arch arm64
    c render-containerd-sign-ecdsa 0 -- "${R[@]}" -p $CP --out res/render-containerd-sign-ecdsa/out \
        --cache-dir cache/containerd-sign-ecdsa --arch amd64 --sign-key p/ssh_ecdsa
    check render-containerd-sign-ecdsa "ssh-keygen -Y verify" sshsig res/render-containerd-sign-ecdsa/out/containerd/amd64
    c render-sign-wrong-passphrase 1 BUILDER_SIGN_KEY=p/ssh_ed25519_enc BUILDER_SIGN_PASSPHRASE=wrong -- \
        "${R[@]}" -p $CP --out res/render-sign-wrong-passphrase/out --cache-dir cache/wrong-passphrase
    if [[ $HAVE_MINISIGN == 1 ]]; then
        c render-cri-dockerd-sign-minisign 0 -- "${R[@]}" -p $DP \
            --out res/render-cri-dockerd-sign-minisign/out --cache-dir cache/crid-sign --sign-key p/minisign.key
        check render-cri-dockerd-sign-minisign "minisign -V" minisign -Vm \
            res/render-cri-dockerd-sign-minisign/out/cri-dockerd/arm64/SHA256SUMS -p p/minisign.pub
    fi
    # One download at a time: the progress lines' order is then compared too.
    c render-cri-dockerd-jobs1 0 -- "${R[@]}" -p $DP --out res/render-cri-dockerd-jobs1/out \
        --cache-dir cache/crid-jobs1 --jobs 1
    # --output json alone; -q.
    c render-containerd-json 0 -- "${R[@]}" -p $CP --out res/render-containerd-json/out \
        --cache-dir cache/containerd-json -o json
    c render-cri-dockerd-quiet 0 -- "${R[@]}" -p $DP --out res/render-cri-dockerd-quiet/out \
        --cache-dir cache/crid-quiet -q --arch amd64
    # Through --mirror: the profile keeps upstream's urls (the manifest names them).
    c render-containerd-mirror 0 -- "${R[@]}" -p p/containerd-mirror.toml --out res/render-containerd-mirror/out \
        --cache-dir cache/mirror --mirror "https://github.com/=$BASE/github.com/" \
        --mirror "https://raw.githubusercontent.com/=$BASE/raw.githubusercontent.com/"
    # One arch, then the other into the same output (the first is kept).
    c render-arch-split/amd64 0 -- "${R[@]}" -p $CP --arch amd64 --out res/render-arch-split/out \
        --cache-dir cache/split
    c render-arch-split/arm64 0 -- "${R[@]}" -p $CP --arch arm64 --out res/render-arch-split/out \
        --cache-dir cache/split
    listing "$SIDE/res/render-arch-split/out" >"$SIDE/res/render-arch-split/tree.txt"
    # The second render for builder diff: runc bumped, a kubelet flag added.
    c render-containerd-bumped 0 -- "${R[@]}" -p p/containerd-bumped.toml --out res/render-containerd-bumped/out \
        --cache-dir cache/bumped
    # The output cache: rendered, then into another folder (from the cache), then the same
    # folder again (up to date), then --force. The cache's outputs are compared too.
    c render-output-cache/1-first 0 -- render -p $CP --out res/render-output-cache/1-first/out --cache-dir cache/oc
    c render-output-cache/2-reused 0 -- render -p $CP --out res/render-output-cache/2-reused/out --cache-dir cache/oc
    expect render-output-cache/2-reused stderr 'reused.*output cache'
    c render-output-cache/3-up-to-date 0 -- render -p $CP --out res/render-output-cache/2-reused/out --cache-dir cache/oc
    expect render-output-cache/3-up-to-date stderr 'up to date'
    c render-output-cache/4-force 0 -- render -p $CP --out res/render-output-cache/4-force/out --cache-dir cache/oc --force
    cache_listing cache/oc/outputs-v1 >"$SIDE/res/render-output-cache/outputs-v1.txt"
    # Failures: a wrong pin, an unreachable host, a bad join file, --sysext-url alone.
    c render-bad-pin 1 -- "${R[@]}" -p p/bad-pin.toml --out res/render-bad-pin/out --cache-dir cache/bad-pin \
        --jobs 1
    c render-unreachable 1 -- "${R[@]}" -p p/bad-host.toml --out res/render-unreachable/out \
        --cache-dir cache/unreachable --retries 1 --connect-timeout 2
    c render-join-bad 1 -- "${R[@]}" -p $CP --out res/render-join-bad/out --cache-dir cache/join-bad \
        --join-config p/join-bad.toml
    c render-sysext-embedded-too-big 1 -- "${R[@]}" -p $CP --out res/render-sysext-embedded-too-big/out \
        --cache-dir cache/sysext-embedded --format sysext --arch amd64 --cloud aws
    c render-sysext-url-alone 1 -- "${R[@]}" -p $CP --out res/render-sysext-url-alone/out \
        --cache-dir cache/sysext-alone --sysext-url "$SYSEXT_URL"

    # --- diff ----------------------------------------------------------------------------
    local A=res/render-containerd/out/containerd B=res/render-containerd-bumped/out/containerd
    c diff/changed 3 -- diff $A $B
    c diff/changed-json 3 -- diff $A $B --output json
    c diff/arch-folders 3 -- diff $A/arm64 $B/arm64
    c diff/manifests 3 -- diff $A/amd64/manifest.json $B/amd64/manifest.json -o json
    c diff/same 0 -- diff $A res/render-containerd-join/out/containerd
    c diff/zstd 3 -- diff $A res/render-containerd-zstd/out/containerd -o json
    c diff/arch-only-in-new 3 -- diff res/render-containerd-sign-ssh-enc/out/containerd $A
    c diff/profiles 3 -- diff $A res/render-cri-dockerd/out/cri-dockerd
    c diff/missing 1 -- diff $A res/nothing-here
    c diff/profile-vs-arch 1 -- diff $A $B/amd64

    # --- verify --------------------------------------------------------------------------
    c verify/out 0 -- verify res/render-containerd/out
    c verify/out-json 0 -- verify res/render-containerd/out -o json
    c verify/arch 0 -- verify res/render-cri-dockerd/out/cri-dockerd/arm64
    c verify/zstd 0 -- verify res/render-containerd-zstd/out/containerd
    c verify/sysext 0 -- verify res/render-containerd-sysext/out -o json
    c verify/output-cache 0 -- verify res/render-output-cache/2-reused/out
    c verify/ssh-key 0 -- verify res/render-containerd-sign-ssh/out --key p/ssh_ed25519.pub
    c verify/ssh-key-json 0 -- verify res/render-containerd-sign-ssh/out --key p/ssh_ed25519.pub -o json
    c verify/ecdsa-key 0 -- verify res/render-containerd-sign-ecdsa/out --key p/ssh_ecdsa.pub
    c verify/ssh-enc-key 0 -- verify res/render-containerd-sign-ssh-enc/out --key p/ssh_ed25519_enc.pub
    c verify/unsigned-with-key 1 -- verify res/render-containerd/out --key p/ssh_ed25519.pub
    if [[ $HAVE_MINISIGN == 1 ]]; then
        c verify/minisign-key 0 -- verify res/render-cri-dockerd-sign-minisign/out --key p/minisign.pub
        c verify/other-key 1 -- verify res/render-containerd-sign-ssh/out --key p/minisign.pub -o json
    fi
    # Tampered copies: a rootfs file, then an overlay byte.
    mkdir -p tampered
    cp -a res/render-containerd/out/containerd/amd64 tampered/rootfs-file
    chmod u+w tampered/rootfs-file/rootfs/etc/crictl.yaml
    echo '# edited' >>tampered/rootfs-file/rootfs/etc/crictl.yaml
    c verify/tampered-rootfs 1 -- verify tampered/rootfs-file
    c verify/tampered-rootfs-json 1 -- verify tampered/rootfs-file -o json
    cp -a res/render-containerd/out/containerd/arm64 tampered/overlay-byte
    python3 -c 'import sys; f=open(sys.argv[1],"r+b"); f.seek(1000); b=f.read(1); f.seek(1000); f.write(bytes([b[0]^1]))' \
        tampered/overlay-byte/overlay.tar.gz
    c verify/tampered-overlay 1 -- verify tampered/overlay-byte
    c verify/missing 1 -- verify res/nothing-here

    # --- show, profiles, hosts, schema, completions, manpage, help ------------------------
    c show/containerd 0 -- show --profile containerd
    c show/cri-dockerd 0 -- show --profile cri-dockerd
    c show/loopback-containerd 0 -- show --profile $CP
    c show/loopback-cri-dockerd 0 -- show -p $DP
    c show/bumped 0 -- show --profile p/containerd-bumped.toml
    c show/unknown 1 -- show --profile no-such-profile
    # Every profile fixture of the tests (the invalid ones with their one-line errors), from
    # the repo root, where their `extends` and the .err files expect to be run.
    local f
    for f in "$REPO"/tests/fixtures/profiles/invalid/*.toml "$REPO"/tests/fixtures/profiles/valid/*.toml; do
        local kind=${f%/*}; kind=${kind##*/}
        local want=1; [[ $kind == valid ]] && want=0
        CWD=$REPO c "show-fixtures/$kind-$(basename "$f" .toml)" $want -- show --profile "${f#"$REPO"/}"
    done
    c profiles/builtin 0 -- profiles
    CWD=$REPO c profiles/repo-root 0 -- profiles
    c hosts/containerd 0 -- hosts --profile containerd
    c hosts/cri-dockerd 0 -- hosts --profile cri-dockerd
    c hosts/loopback 0 -- hosts --profile $DP
    c hosts/mirror 0 -- hosts --profile p/containerd-mirror.toml --mirror "https://github.com/=$BASE/github.com/"
    c hosts/mirror-credentials 0 "BUILDER_MIRROR=https://github.com/=http://user:s3cret@127.0.0.1:$PORT/github.com/" -- \
        hosts --profile cri-dockerd
    c schema 0 -- schema
    local sh
    for sh in bash zsh fish powershell elvish; do c "completions/$sh" 0 -- completions $sh; done
    c manpage/stdout 0 -- manpage
    c manpage/dir 0 -- manpage --dir res/manpage/dir/out
    c help/version 0 -- --version
    c help/top 0 -- --help
    local sub
    for sub in render profiles show detect hosts diff verify completions manpage pin schema; do
        c "help/$sub" 0 -- "$sub" --help
    done
    c help/no-args 1 --
    c help/bad-flag 1 -- render --no-such-flag

    # --- detect ----------------------------------------------------------------------------
    c detect/mixed 3 -- detect --nodes fx/nodes-mixed.json --pods fx/pods-mixed.json
    c detect/mixed-json 3 -- detect --nodes fx/nodes-mixed.json --pods fx/pods-mixed.json --output json
    c detect/mixed-plan 3 -- detect --nodes fx/nodes-mixed.json --pods fx/pods-mixed.json --plan
    c detect/mixed-plan-json 3 -- detect --nodes fx/nodes-mixed.json --pods fx/pods-mixed.json --plan -o json
    c detect/nodes-only-plan 3 -- detect --nodes fx/nodes-mixed.json --plan
    c detect/migrated 0 -- detect --nodes fx/nodes-migrated.json --pods fx/pods-clean.json
    c detect/migrated-json 0 -- detect --nodes fx/nodes-migrated.json --pods fx/pods-clean.json -o json
    c detect/single 3 -- detect --nodes fx/node-single.json -o json
    c detect/empty-list 0 -- detect --nodes fx/empty-list.json
    STDIN=$SIDE/fx/nodes-mixed.json c detect/stdin-json 3 -- detect --nodes - -o json
    STDIN=$SIDE/fx/pods-mixed.json c detect/stdin-pods 3 -- detect --nodes fx/nodes-mixed.json --pods - --plan -o json
    for f in kubelet-cmdline-dockershim kubelet-cmdline-containerd kubelet-cmdline-cri-dockerd; do
        local rc=0; [[ $f == *dockershim ]] && rc=3
        c "detect/$f" $rc -- detect --kubelet-cmdline "fx/$f"
        c "detect/$f-json" $rc -- detect --kubelet-cmdline "fx/$f" -o json --plan
    done
    for f in kubeadm-flags-dockershim kubeadm-flags-containerd kubeadm-flags-cri-dockerd; do
        local rc=0; [[ $f == *dockershim ]] && rc=3
        c "detect/$f" $rc -- detect --flags-env "fx/$f.env" --plan
        c "detect/$f-json" $rc -- detect --flags-env "fx/$f.env" -o json
    done
    c detect/cmdline-pods-node 3 -- detect --kubelet-cmdline fx/kubelet-cmdline-dockershim \
        --pods fx/pods-mixed.json --node-name worker-legacy-1 --plan
    c detect/cmdline-pods-node-json 3 -- detect --kubelet-cmdline fx/kubelet-cmdline-dockershim \
        --pods fx/pods-mixed.json --node-name worker-legacy-2 -o json
    c detect/cmdline-pods-no-name 1 -- detect --kubelet-cmdline fx/kubelet-cmdline-dockershim --pods fx/pods-mixed.json
    c detect/binary 1 -- detect --nodes fx/binary.bin
    c detect/not-json 1 -- detect --nodes fx/not-json.yaml
    c detect/truncated 1 -- detect --nodes fx/nodes-truncated.json
    c detect/not-nodes 1 -- detect --nodes fx/pods-mixed.json
    c detect/deployment 1 -- detect --nodes fx/deployment.json
    c detect/bad-pods 1 -- detect --nodes fx/nodes-mixed.json --pods fx/nodes-mixed.json
    c detect/not-a-cmdline 1 -- detect --kubelet-cmdline fx/not-a-kubelet-cmdline
    c detect/no-input 1 -- detect
    c detect/bad-output 1 -- detect --nodes fx/nodes-mixed.json --output yaml

    # --- pin -------------------------------------------------------------------------------
    c pin/dry-run 0 -- pin --profile p/pin-site.toml --cache-dir cache/pin --retries 1
    cp p/pin-site.toml p/pin-site-write.toml
    c pin/write 0 -- pin --profile p/pin-site-write.toml --cache-dir cache/pin --retries 1 --write
    mkdir -p res/pin/write/out && cp p/pin-site-write.toml res/pin/write/out/
    listing res/pin/write/out >res/pin/write/tree.txt
    c pin/again 0 -- pin --profile p/pin-site-write.toml --cache-dir cache/pin --retries 1 --write
    c pin/render-pinned 0 -- "${R[@]}" -p p/pin-site-write.toml --arch amd64 --out res/pin/render-pinned/out \
        --cache-dir cache/pin
    c pin/no-checksum-file 1 -- pin --profile p/pin-crid.toml --cache-dir cache/pin-crid --retries 1
    c pin/trust-download 0 -- pin --profile p/pin-crid.toml --cache-dir cache/pin-crid --retries 1 --trust-download
    c pin/builtin 1 -- pin --profile containerd --cache-dir cache/pin-builtin
}

# Files under a cache folder with their digests (not their times).
cache_listing() {
    [[ -d $SIDE/$1 ]] || { echo "(no $1)"; return; }
    (cd "$SIDE/$1" && find . -type f -printf '%P\n' | LC_ALL=C sort | while read -r f; do
        printf '%s %s\n' "$(sha256sum <"$f" | cut -d' ' -f1)" "$f"
    done)
}

# run_side NAME BIN EPOCH: every case with BIN in $WORK/NAME.
run_side() {
    SIDE=$WORK/$1 SIDE_EPOCH=$3
    mkdir -p "$SIDE"/{bin,home,tmp,res,raw,cache}
    # Run through a link named builder: clap prints argv[0]'s name in usage lines.
    ln -s "$2" "$SIDE/bin/builder"
    SIDE_BIN=$SIDE/bin/builder
    cp -r "$P" "$SIDE/p"
    cp -r "$REPO/tests/fixtures/detect" "$SIDE/fx"
    : >"$SIDE/broken"
    base_env
    cd "$SIDE"
    cases
}

# ---------------------------------------------------------------------------------------------
# Run both sides (side by side: they share nothing but the read-only loopback server)
# ---------------------------------------------------------------------------------------------
OLD_VERSION=$("$OLD_BIN" --version 2>&1 || true)
NEW_VERSION=$("$NEW_BIN" --version 2>&1 || true)
if [[ $OLD_VERSION != "$NEW_VERSION" ]]; then
    echo "compare: warning: OLD is '$OLD_VERSION', NEW is '$NEW_VERSION': the version is in every" \
        "generated file's header, manifest.json, the SBOMs, the provenance and the input digest," \
        "so every render will differ" >&2
fi
echo "compare: OLD=$OLD_BIN" >&2
echo "compare: NEW=$NEW_BIN${NEGATIVE:+}$([[ $NEGATIVE == 1 ]] && echo " (negative control: SOURCE_DATE_EPOCH=$EPOCH_NEW)")" >&2
( run_side old "$OLD_BIN" "$EPOCH" ) >"$WORK/old.log" 2>&1 &
OLD_PID=$!
( run_side new "$NEW_BIN" "$EPOCH_NEW" ) >"$WORK/new.log" 2>&1 &
NEW_PID=$!
wait "$OLD_PID" || { cat "$WORK/old.log" >&2; die "the OLD side's harness failed"; }
wait "$NEW_PID" || { cat "$WORK/new.log" >&2; die "the NEW side's harness failed"; }
echo "compare: both sides ran every case ($((SECONDS - START)) s)" >&2

# ---------------------------------------------------------------------------------------------
# Cross checks: each binary reads what the other wrote (same inputs, so same results)
# ---------------------------------------------------------------------------------------------
# cross-output-cache: each binary renders with a copy of the OTHER's output cache: it must be
#   reused, and the outputs must be the same.
# cross-verify: each binary verifies the other's signed render.
cross() {
    local me=$1 other=$2 epoch=$3
    SIDE=$WORK/$me SIDE_BIN=$WORK/$me/bin/builder SIDE_EPOCH=$epoch
    base_env
    cd "$SIDE"
    rm -rf cache/cross-oc
    cp -a "$WORK/$other/cache/oc" cache/cross-oc
    c cross-output-cache 0 -- render -p p/containerd.toml --out res/cross-output-cache/out --cache-dir cache/cross-oc
    expect cross-output-cache stderr 'reused.*output cache'
    c cross-verify/signed 0 -- verify "$WORK/$other/res/render-containerd-sign-ssh/out" --key p/ssh_ed25519.pub
    c cross-verify/sysext 0 -- verify "$WORK/$other/res/render-cri-dockerd-sysext/out" -o json
}
( cross old new "$EPOCH" ) >>"$WORK/old.log" 2>&1 || { cat "$WORK/old.log" >&2; die "cross checks failed (OLD)"; }
( cross new old "$EPOCH_NEW" ) >>"$WORK/new.log" 2>&1 || { cat "$WORK/new.log" >&2; die "cross checks failed (NEW)"; }
# The path each verify read names the other side: the same after <SIDE>... but not the same
# side, so the sed above maps both to <SIDE>.

# ---------------------------------------------------------------------------------------------
# Compare
# ---------------------------------------------------------------------------------------------
mkdir -p "$WORK/diffs"
n_same=0 n_diff=0 n_broken=0
while read -r case; do
    o=$WORK/old/res/$case n=$WORK/new/res/$case
    why=$(grep -E "^$case(/|:)" "$WORK/old/broken" | head -n1 || true)
    if [[ -n $why ]]; then
        echo "BROKEN $case: OLD: ${why#*: }"
        n_broken=$((n_broken + 1))
        continue
    fi
    if diff -rq --no-dereference "$o" "$n" >"$WORK/diffs/$case.list" 2>&1; then
        echo "same $case"
        n_same=$((n_same + 1))
        rm -f "$WORK/diffs/$case.list"
        continue
    fi
    n_diff=$((n_diff + 1))
    diff -ru --no-dereference "$o" "$n" >"$WORK/diffs/$case.diff" 2>&1 || true
    count=$(wc -l <"$WORK/diffs/$case.list")
    first=$(head -n1 "$WORK/diffs/$case.list")
    # "Files OLD/x and NEW/x differ" -> x; "Only in DIR: y" -> only in old|new: y
    first=$(printf '%s\n' "$first" | sed -e "s#^Files $WORK_RE/old/res/\\([^ ]*\\) and .* differ\$#\\1#" \
        -e "s#^Symbolic links $WORK_RE/old/res/\\([^ ]*\\) and .* differ\$#\\1 (link target)#" \
        -e "s#^Only in $WORK_RE/\\(old\\|new\\)/res/\\(.*\\): \\(.*\\)\$#only in \\1: \\2/\\3#" \
        -e "s#^File $WORK_RE/old/res/\\([^ ]*\\) is .*#\\1 (file type)#")
    detail=
    ((count > 1)) && detail=" (and $((count - 1)) more)"
    # The first archive or image that differs, by cmp: where its bytes part.
    archive=$(sed -n "s#^Files $WORK_RE/old/res/\\([^ ]*\\.\\(tar\\.gz\\|tar\\.zst\\|raw\\)\\) and .*#\\1#p" \
        "$WORK/diffs/$case.list" | head -n1)
    if [[ -n $archive ]]; then
        cmp_out=$({ cmp "$WORK/old/res/$archive" "$WORK/new/res/$archive" 2>&1 || true; } | head -n1)
        case $cmp_out in
        *" differ: byte "*) b=${cmp_out#*differ: byte }; detail+="; cmp: ${archive#"$case"/} first differs at byte ${b%%,*}" ;;
        *) detail+="; cmp: ${cmp_out//"$WORK/"/}" ;;
        esac
    fi
    echo "DIFFERENT $case: $first$detail"
done < <(cd "$WORK/old/res" && find . -mindepth 1 -maxdepth 1 -type d -printf '%P\n' | LC_ALL=C sort)
# A case only NEW produced would be a harness bug; say so.
extra=$(cd "$WORK/new/res" && find . -mindepth 1 -maxdepth 1 -type d -printf '%P\n' | LC_ALL=C sort |
    while read -r d; do [[ -d $WORK/old/res/$d ]] || echo "$d"; done)
for d in $extra; do echo "DIFFERENT $d: only in new"; n_diff=$((n_diff + 1)); done

elapsed=$((SECONDS - START))
echo "compare: $n_same same, $n_diff different, $n_broken broken, in ${elapsed} s" >&2
[[ $HAVE_MINISIGN == 1 ]] || echo "compare: minisign not installed: the minisign cases were not run" >&2
if ((n_diff + n_broken > 0)); then
    KEEP=1
    echo "compare: per-case diffs in $WORK/diffs/ (outputs in $WORK/old/res and $WORK/new/res)" >&2
fi
if [[ $NEGATIVE == 1 ]]; then
    if ((n_diff > 0)); then
        echo "compare: negative control: the harness caught the changed SOURCE_DATE_EPOCH ($n_diff cases)" >&2
        exit 1
    fi
    echo "compare: negative control FAILED: NEW ran with another SOURCE_DATE_EPOCH and nothing differed" >&2
    exit 2
fi
((n_diff + n_broken == 0)) || exit 1
exit 0
