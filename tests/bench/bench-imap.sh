#!/bin/bash
# bench-imap.sh - IMAP SEARCH benchmark: mailsift FTS against dovecot-fts-xapian
# and against Dovecot without FTS, on one maildir holding the corpus.
#
# A thin wrapper: the work is done by bench_imap.py next to it (see there for
# what is measured and the environment variables MSGS, QUERIES, NOFTS_QUERIES,
# NOFTS_TIMEOUT, SEED), then bench_imap_reuse.py measures indexing with and
# without archive reuse over the real pipeline. usage: bench-imap.sh BUILD
# (needs root)
set -eu
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
export MAILSIFT_BUILD=$build
python3 "$here/bench_imap.py"
echo
echo "== archive reuse"
python3 "$here/bench_imap_reuse.py"
