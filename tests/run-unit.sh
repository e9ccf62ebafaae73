#!/bin/sh
# run-unit.sh - runs each Check unit test binary; fails if any fails.
# usage: run-unit.sh DIR TEST...
dir=$1; shift
fail=0
for t in "$@"; do
	CK_FORK=yes "$dir/$t" || fail=1
done
exit $fail
