#!/bin/sh
# bench-index.sh - import speed and index size: mailsift against notmuch.
#
# Imports the corpus with `mailsift import` and, in the same run, indexes a
# copy of the same messages with Debian's `notmuch new`; prints messages/s
# and index bytes of both and the ratios. usage: bench-index.sh BUILD
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
