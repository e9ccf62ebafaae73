#!/bin/bash
# bench-imap.sh - IMAP SEARCH benchmark: mailsift FTS against dovecot-fts-xapian
# and against Dovecot without FTS, on one maildir holding the corpus.
#
# A thin wrapper: the work is done by bench_imap.py next to it (see there for
# what is measured and the environment variables MSGS, QUERIES, NOFTS_QUERIES,
# NOFTS_TIMEOUT, SEED). usage: bench-imap.sh BUILD   (needs root)
set -eu
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
MAILSIFT_BUILD=$build exec python3 "$here/bench_imap.py"
