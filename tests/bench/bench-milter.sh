#!/bin/bash
# bench-milter.sh - SMTP throughput through Postfix three ways in one run:
# no milter, Debian's clamav-milter, and mailsift-milter, all against the
# same clamd (one signature), delivering to a discard transport.
# smtp-source sends $MSGS messages of $LEN bytes over $SESSIONS sessions.
# Also runs a null milter (tests/bench/null_milter.c: libmilter, does
# nothing) to show the cost of the milter protocol itself.
# Prints messages/s for each and the ratios; checks that mailsift spooled
# every message (entries in the spool's segments, read by tests/lib/mstest.py)
# and that clamd scanned every one of ours (its log, LogClean on, has a line
# per scan: counted over our run only). usage: bench-milter.sh BUILD
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=$(cd "${1:-build}" && pwd)
MSGS=${MSGS:-2000}
SESSIONS=${SESSIONS:-20}
LEN=${LEN:-5000}
# shellcheck source=tests/stack/stack.sh
. "$top/tests/stack/stack.sh"

export STACK_DIR
STACK_DIR=$(mktemp -d /tmp/mailsift-bench-milter.XXXXXX)
chmod 755 "$STACK_DIR"
stack_random_ports || exit 1
# discard delivery; clamd spills each INSTREAM to tmpfs (as admins do), so
# file-system churn does not dominate all of them
stack_bench_settings
STACK_CLAMD_LOG_CLEAN=yes
OURS=$STACK_DIR/milter.sock
NULLM=$STACK_DIR/null.sock
THEIRS=$STACK_DIR/clamav-milter.sock

cleanup() {
	stack_mailsift_stop
	stack_kill_pidfile "$STACK_DIR/clamav-milter.pid" 15 clamav-milter
	stack_kill_pidfile "$STACK_DIR/null.pid" 15 null_milter
	stack_down
	rm -rf "$STACK_DIR" "$STACK_CLAMD_TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

start_ours() {
	stack_mailsift_conf && stack_mailsift_start "$build" mailsift-milter
}

start_theirs() {
	mkdir -p "$STACK_DIR/cm"
	cat >"$STACK_DIR/cm/clamav-milter.conf" <<CONF
MilterSocket unix:$THEIRS
MilterSocketMode 666
FixStaleSocket yes
User root
PidFile $STACK_DIR/clamav-milter.pid
TemporaryDirectory $STACK_DIR/cm
ClamdSocket unix:$STACK_CLAMD_SOCK
OnClean Accept
OnInfected Reject
OnFail Defer
AddHeader Replace
LogFile $STACK_DIR/cm/clamav-milter.log
CONF
	clamav-milter -c "$STACK_DIR/cm/clamav-milter.conf"
}

# A milter that does nothing: what the milter protocol alone costs.
start_null() {
	cc -std=c11 -O2 -Wall -Wextra -Werror -o "$STACK_DIR/null_milter" \
		"$here/null_milter.c" -lmilter || return 1
	stack_bg null "$STACK_DIR/null.pid" "$STACK_DIR/null_milter" "unix:$NULLM"
}

wait_sock() {
	local i
	for i in $(seq 100); do
		[ -S "$1" ] && return 0
		sleep 0.1
	done
	echo "bench-milter: $1 never appeared" >&2
	return 1
}

# run LABEL MILTERS: prints messages/s
run() {
	STACK_SMTPD_MILTERS=$2 stack_postfix_start >&2 || return 1
	local t0 t1
	t0=$(date +%s.%N)
	smtp-source -s "$SESSIONS" -m "$MSGS" -l "$LEN" -f sender@example.net \
		-t bob@example.org "127.0.0.1:$STACK_SMTP_PORT" || return 1
	t1=$(date +%s.%N)
	stack_postfix_stop >&2
	awk -v n="$MSGS" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f\n", n / (b - a) }'
}

stack_clamd_start >/dev/null || exit 1
start_ours || exit 1
start_theirs || exit 1
start_null || exit 1
wait_sock "$OURS" && wait_sock "$THEIRS" && wait_sock "$NULLM" || exit 1
if [ -n "${BENCH_ONLY_OURS:-}" ]; then # for profiling our milter alone
	none=1 theirs=1 null=1
else
	none=$(run none "") || exit 1
	null=$(run null "unix:$NULLM") || exit 1
	theirs=$(run clamav-milter "unix:$THEIRS") || exit 1
fi
log_lines() { wc -l <"$STACK_DIR/clamd/clamd.log" 2>/dev/null || echo 0; }
before=$(log_lines)
ours=$(run mailsift "unix:$OURS") || exit 1
sleep 1 # clamd's last log lines
scanned=$(tail -n +"$((before + 1))" "$STACK_DIR/clamd/clamd.log" | grep -cE ': (OK|.* FOUND)$')
spooled=$(python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import mstest
print(len(mstest.spool_entries(sys.argv[2], pending_only=False)))' "$top/tests/lib" "$STACK_DIR/spool")
echo "smtp-source -s $SESSIONS -m $MSGS -l $LEN into Postfix (discard), one clamd:"
echo "  no milter:       $none msg/s"
echo "  null milter:     $null msg/s (libmilter, does nothing: the protocol's own cost)"
echo "  clamav-milter:   $theirs msg/s"
echo "  mailsift-milter: $ours msg/s ($spooled of $MSGS messages spooled durably, $scanned scanned per clamd's log)"
awk -v n="$none" -v t="$theirs" -v o="$ours" -v z="$null" 'BEGIN {
	printf "ratio: mailsift %.2fx clamav-milter (target >= 1.15), %.2fx null milter (target >= 0.85), %.2fx no milter; clamav-milter %.2fx no milter; null milter %.2fx no milter\n", o / t, o / z, o / n, t / n, z / n
}'
[ "$spooled" -eq "$MSGS" ] || { echo "bench-milter: only $spooled of $MSGS spooled" >&2; exit 1; }
[ "$scanned" -eq "$MSGS" ] || { echo "bench-milter: clamd logged $scanned scans of $MSGS" >&2; exit 1; }
