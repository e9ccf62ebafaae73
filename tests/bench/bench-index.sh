#!/bin/sh
# bench-index.sh - import speed and index size: mailsift against notmuch.
#
# Imports the corpus with `mailsift import` and, in the same run, indexes a
# copy of the same messages with Debian's `notmuch new`; prints messages/s
# and index bytes of both and the ratios. Then attachment extraction:
# corpus A plus 200 messages carrying PDF and Office attachments made from
# Debian's documents (bench_extract_msgs.py), imported with extract = yes
# and extract = no; the 200 alone both ways give the extraction time per MB
# of attachment (derived: the difference over the attachment bytes), and
# 50 runs of mailsift-extract on a tiny JSON the cost of starting one.
# usage: bench-index.sh BUILD
set -eu
build=$(cd "${1:-build}" && pwd)
corpus=${MAILSIFT_CORPUS:-$(cd "$(dirname "$0")/../.." && pwd)/../shared/corpus/spamassassin}
tmp=$(mktemp -d /tmp/mailsift-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

n=$(find "$corpus" -type f | wc -l)
mkdir -p "$tmp/mail"
cp -r "$corpus"/. "$tmp/mail/"
cat -- $(find "$corpus" "$tmp/mail" -type f) >/dev/null # warm the page cache for both

now() { date +%s.%N; }

cat >"$tmp/plugin.conf" <<CONF
[archive]
dir = $tmp/archive
CONF
t0=$(now)
"$build/mailsift" -c "$tmp/plugin.conf" import "$corpus" 2>"$tmp/ms.log" || { cat "$tmp/ms.log"; exit 1; }
t1=$(now)
ms_idx=$(du -sb "$tmp/archive/shards" | cut -f1)
ms_store=$(du -sb "$tmp/archive/store" | cut -f1)

cat >"$tmp/notmuch-config" <<CONF
[database]
path=$tmp/mail
[user]
name=Bench
primary_email=bench@example.org
[new]
tags=unread;inbox
[search]
exclude_tags=
[maildir]
synchronize_flags=false
CONF
t2=$(now)
notmuch --config="$tmp/notmuch-config" new >"$tmp/nm.log" 2>&1 || { cat "$tmp/nm.log"; exit 1; }
t3=$(now)
nm_idx=$(du -sb "$tmp/mail/.notmuch" | cut -f1)
nm_count=$(notmuch --config="$tmp/notmuch-config" count '*')

awk -v n="$n" -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v mi="$ms_idx" \
    -v ms="$ms_store" -v ni="$nm_idx" -v nc="$nm_count" 'BEGIN {
	ours = n / (b - a); peer = n / (d - c)
	printf "messages: %d (notmuch indexed %d)\n", n, nc
	printf "mailsift import: %.2f s, %.0f msg/s, index %.1f MB (+ message store %.1f MB)\n", b - a, ours, mi / 1e6, ms / 1e6
	printf "notmuch new:     %.2f s, %.0f msg/s, index %.1f MB\n", d - c, peer, ni / 1e6
	printf "ratio: speed %.2fx notmuch (target >= 2), index size %.2fx notmuch (target <= 1)\n", ours / peer, mi / ni
}'

# ---- attachment extraction: on and off ----
mkdir -p "$tmp/att"
att_bytes=$("$(dirname "$0")/bench_extract_msgs.py" "$tmp/att" 200)
rm -rf "$tmp/att/.made"
import_secs() { # CONF-EXTRACT(yes|no) DIR...
	ext=$1; shift
	rm -rf "$tmp/ax"
	printf '[archive]\ndir = %s\nextract = %s\n' "$tmp/ax" "$ext" >"$tmp/ax.conf"
	s0=$(now)
	"$build/mailsift" -c "$tmp/ax.conf" import "$@" 2>"$tmp/ax.log" || { cat "$tmp/ax.log" >&2; exit 1; }
	s1=$(now)
	awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%.3f", b - a }'
}
on_all=$(import_secs yes "$corpus" "$tmp/att")
off_all=$(import_secs no "$corpus" "$tmp/att")
on_att=$(import_secs yes "$tmp/att")
off_att=$(import_secs no "$tmp/att")
s0=$(now)
i=0
while [ $i -lt 50 ]; do
	printf '{"a":1}' | "$build/mailsift-extract" --format json >/dev/null
	i=$((i + 1))
done
s1=$(now)
awk -v n="$n" -v on="$on_all" -v off="$off_all" -v ona="$on_att" -v offa="$off_att" \
    -v mb="$att_bytes" -v a="$s0" -v b="$s1" 'BEGIN {
	m = n + 200
	printf "extraction: corpus A + 200 attachment messages (%d), %.1f MB of attachments\n", m, mb / 1e6
	printf "  extract = yes: %.2f s, %.0f msg/s\n", on, m / on
	printf "  extract = no:  %.2f s, %.0f msg/s\n", off, m / off
	printf "  the 200 alone: %.2f s with, %.2f s without\n", ona, offa
	printf "note: import %.0f msg/s with extraction, %.0f msg/s without; extraction %.2f s per MB of attachment (derived); extractor start %.1f ms (50 runs, with the shell pipe around it)\n", m / on, m / off, (ona - offa) / (mb / 1e6), (b - a) * 1000 / 50
}'
