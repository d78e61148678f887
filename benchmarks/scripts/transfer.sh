#!/usr/bin/env bash
# Transfer figures of `nimbus sandbox cp` against `nimbus dev` on this
# machine (issue 13): upload and download throughput of one big file, a tree
# of many small files each way, and the peak RSS of the nimbus client
# process (against the server, and with --local where the backend runs in
# the same process). A local `cp` of the same file is measured in the same
# run as the floor, since absolute figures move with the machine's load.
#
# Usage: benchmarks/scripts/transfer.sh [SIZE_MIB (default 1024)] [FILES (default 10000)]
# NIMBUS_BIN=path uses that binary instead of building this checkout.
# Needs: go, GNU time (/usr/bin/time), cmp, head, awk.
set -euo pipefail
cd "$(dirname "$0")/../.."

SIZE_MIB=${1:-1024}
FILES=${2:-10000}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/nimbus-transfer-bench.XXXXXX")
DEV_PID=
cleanup() {
	if [ -n "$DEV_PID" ]; then kill -INT "$DEV_PID" 2>/dev/null || true; wait "$DEV_PID" 2>/dev/null || true; fi
	rm -rf "$WORK"
}
trap cleanup EXIT

if [ -n "${NIMBUS_BIN:-}" ]; then
	NIMBUS=$NIMBUS_BIN
else
	go build -o "$WORK/nimbus" .
	NIMBUS="$WORK/nimbus"
fi
export NIMBUS_DEV_DATA="$WORK/data" XDG_CONFIG_HOME="$WORK/config"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 18787)
"$NIMBUS" dev --addr "127.0.0.1:$PORT" >"$WORK/dev.out" 2>"$WORK/dev.err" &
DEV_PID=$!
for _ in $(seq 100); do grep -q listening "$WORK/dev.err" 2>/dev/null && break; sleep 0.1; done
export NIMBUS_ENDPOINT="http://127.0.0.1:$PORT"
NIMBUS_TOKEN=$("$NIMBUS" dev token)
export NIMBUS_TOKEN

# CPU ticks of the server and of the sandbox commands it ran and reaped
# (cat, sha256sum, find: utime+stime+cutime+cstime).
ticks() { awk '{print $14+$15+$16+$17}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
# measure NAME BYTES CMD...: wall, client CPU, server CPU, client peak RSS.
measure() {
	local name=$1 bytes=$2; shift 2
	local before after
	before=$(ticks "$DEV_PID")
	/usr/bin/time -f "%e %U %S %M" -o "$WORK/time" "$@" >/dev/null
	after=$(ticks "$DEV_PID")
	read -r wall user sys rss <"$WORK/time"
	local server
	server=$(awk -v t=$((after - before)) -v hz="$hz" 'BEGIN{printf "%.2f", t/hz}')
	local rate=""
	if [ "$bytes" -gt 0 ]; then rate=$(awk -v b="$bytes" -v w="$wall" 'BEGIN{printf "%.0f MB/s", b/1e6/w}'); fi
	printf '%-34s %8ss %14s  client cpu %6.2fs  server+sandbox cpu %6ss  client peak RSS %6.1f MiB\n' \
		"$name" "$wall" "$rate" "$(awk -v u="$user" -v s="$sys" 'BEGIN{print u+s}')" "$server" "$(awk -v k="$rss" 'BEGIN{print k/1024}')"
}

echo "== conditions: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), $(go version | cut -d' ' -f3)"
head -c $((SIZE_MIB << 20)) /dev/urandom >"$WORK/big.bin"
BYTES=$((SIZE_MIB << 20))

measure "floor: local cp of ${SIZE_MIB} MiB" "$BYTES" cp "$WORK/big.bin" "$WORK/floor.bin"
rm -f "$WORK/floor.bin"
measure "upload ${SIZE_MIB} MiB" "$BYTES" "$NIMBUS" sandbox cp -q "$WORK/big.bin" bench:/home/user/big.bin
measure "download ${SIZE_MIB} MiB" "$BYTES" "$NIMBUS" sandbox cp -q bench:/home/user/big.bin "$WORK/back.bin"
cmp "$WORK/big.bin" "$WORK/back.bin"
rm -f "$WORK/back.bin"
"$NIMBUS" sandbox destroy bench >/dev/null

mkdir -p "$WORK/tree"
for ((i = 0; i < FILES; i++)); do
	d="$WORK/tree/d$((i % 100))/e$((i % 7))"
	[ -d "$d" ] || mkdir -p "$d"
	printf 'file %d %0*d\n' "$i" $((100 + i % 900)) 0 >"$d/f$i.txt"
done
TREE_BYTES=$(du -sb "$WORK/tree" | cut -f1)
measure "upload tree of $FILES files" 0 "$NIMBUS" sandbox cp -q -r "$WORK/tree" bench:/home/user/tree
measure "download tree of $FILES files" 0 "$NIMBUS" sandbox cp -q -r bench:/home/user/tree "$WORK/tree-back"
diff -r "$WORK/tree" "$WORK/tree-back"
measure "sync tree again (nothing changed)" 0 "$NIMBUS" sandbox sync -q "$WORK/tree" bench:/home/user/tree
"$NIMBUS" sandbox destroy bench >/dev/null
echo "   (tree: $TREE_BYTES bytes)"

# --local: the backend runs inside the nimbus process, so its memory counts.
measure "upload ${SIZE_MIB} MiB --local" "$BYTES" "$NIMBUS" sandbox cp -q --local "$WORK/big.bin" benchlocal:/home/user/big.bin
measure "download ${SIZE_MIB} MiB --local" "$BYTES" "$NIMBUS" sandbox cp -q --local benchlocal:/home/user/big.bin "$WORK/back.bin"
cmp "$WORK/big.bin" "$WORK/back.bin"
"$NIMBUS" sandbox destroy --local benchlocal >/dev/null
echo "== after: load average $(cut -d' ' -f1-3 /proc/loadavg)"
