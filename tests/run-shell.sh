#!/bin/sh
# run-shell.sh - runs the command-level tests (tests/cli/*) against BUILD.
# Each test prints its own "N passed, N failed" line; this fails if any
# test exits non-zero. usage: run-shell.sh BUILD TEST...
build=$1; shift
fail=0
for t in "$@"; do
	echo "== $t"
	MAILSIFT_BUILD=$build "$t" || { echo "FAILED: $t"; fail=1; }
done
exit $fail
