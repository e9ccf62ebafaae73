#!/bin/sh
# bench-compliance.sh - export, export --verify and expire --dry-run over
# the whole of corpus A.
#
# Imports the corpus (6,046 messages) into a fresh archive, then times, each
# as the whole command: `export --format mbox '*'`, `export --verify` of it,
# `export --format eml '*'`, `export --verify` of that, and `expire
# --dry-run` with a [retention] policy (a default, two rules) and a hold
# (skipped, with a note, while this build has no expire or hold command).
# Prints msg/s of each next to the targets: export >= 2,000 msg/s, verify
# >= 3,000 msg/s, and the bare file-creation rate of this file system as
# a baseline for the eml export. The page cache is warm (import just read
# everything); each export ends with its syncfs, as it always does.
# usage: bench-compliance.sh BUILD
set -eu
build=$(cd "${1:-build}" && pwd)
corpus=${MAILSIFT_CORPUS:-$(cd "$(dirname "$0")/../.." && pwd)/../shared/corpus/spamassassin}
tmp=$(mktemp -d /tmp/mailsift-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
ms="$build/mailsift"

cat >"$tmp/plugin.conf" <<CONF
[archive]
dir = $tmp/archive
[retention]
default = 10y
rule = 90d subject:free
rule = 30y from:@spamassassin.taint.org
CONF

now() { date +%s.%N; }
# run NAME CMD...: times CMD (its stderr into $tmp/NAME.log), prints seconds
run() {
	name=$1; shift
	t0=$(now)
	"$@" >"$tmp/$name.out" 2>"$tmp/$name.log" || { echo "$name failed:"; cat "$tmp/$name.log" "$tmp/$name.out" | tail -5; exit 1; }
	t1=$(now)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }

t_import=$(run import "$ms" -c "$tmp/plugin.conf" import "$corpus")
n=$("$ms" -c "$tmp/plugin.conf" count '*')
echo "archive: $n messages (import $t_import s)"

line() { # line WHAT SECONDS TARGET
	r=$(rate "$n" "$2")
	verdict=$(awk -v r="$r" -v t="$3" 'BEGIN { print (r >= t ? "ok" : "BELOW TARGET") }')
	printf "%-26s %7.2f s  %6s msg/s  (target >= %s: %s)\n" "$1" "$2" "$r" "$3" "$verdict"
}
t=$(run mbox "$ms" -c "$tmp/plugin.conf" export --format mbox '*' -o "$tmp/mbox")
line "export --format mbox" "$t" 2000
t=$(run vmbox "$ms" -c "$tmp/plugin.conf" export --verify "$tmp/mbox")
line "export --verify (mbox)" "$t" 3000
t=$(run eml "$ms" -c "$tmp/plugin.conf" export --format eml '*' -o "$tmp/eml")
line "export --format eml" "$t" 2000
t=$(run veml "$ms" -c "$tmp/plugin.conf" export --verify "$tmp/eml")
line "export --verify (eml)" "$t" 3000
echo "export sizes: mbox $(du -sb "$tmp/mbox" | cut -f1) bytes, eml $(du -sb "$tmp/eml" | cut -f1) bytes"
# The eml export is one file per message, so it is bound by how fast this
# file system creates files (on a busy shared ext4, inode allocation skips
# recently deleted inodes and gets slow). For scale: the bare cost of
# creating and writing the same files, with nothing else.
t=$(run baseline python3 -c '
import os, sys
src, dst = sys.argv[1], sys.argv[2]
os.mkdir(dst)
for name in os.listdir(src):
    data = open(os.path.join(src, name), "rb").read()
    fd = os.open(os.path.join(dst, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, data)
    os.close(fd)
os.sync()' "$tmp/eml" "$tmp/eml-copy")
printf "%-26s %7.2f s  %6s files/s (file system baseline for eml)\n" "create+write $n files" "$t" "$(rate "$n" "$t")"

if "$ms" 2>&1 | grep -q '^  expire'; then
	if "$ms" 2>&1 | grep -q '^  hold'; then
		"$ms" -c "$tmp/plugin.conf" hold add bench-matter --reason "bench" 'date:2002-08' >/dev/null 2>&1 ||
			echo "(hold add failed; expire runs without a hold)"
	fi
	t=$(run expire "$ms" -c "$tmp/plugin.conf" expire --dry-run)
	r=$(rate "$n" "$t")
	printf "%-26s %7.2f s  %6s msg/s  (no target)\n" "expire --dry-run" "$t" "$r"
	head -5 "$tmp/expire.out" "$tmp/expire.log" | sed 's/^/    /'
else
	echo "expire --dry-run: not measured (this build has no expire command yet)"
fi
