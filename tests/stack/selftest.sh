#!/bin/bash
# selftest.sh - proves tests/stack/stack.sh: brings up clamd, Postfix and
# Dovecot privately on loopback with Debian's clamav-milter as the milter,
# sends a clean message (250, delivered to alice's maildir with an
# X-Virus-Scanned header) and an EICAR message (5xx at end of DATA), then
# checks IMAP and POP3 logins. Prints "N passed, N failed"; exits non-zero
# on failure; always tears everything down. Needs root.
#
# usage: tests/stack/selftest.sh [STACK_DIR]   (default: a fresh temp dir)
# Ports: kernel-chosen free ports unless STACK_SMTP_PORT etc. are set.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/stack/stack.sh disable=SC2034
. "$here/stack.sh"

export STACK_DIR=${1:-$(mktemp -d /tmp/stack-selftest.XXXXXX)}
own_dir=${1:+no}
[ -n "${STACK_SMTP_PORT:-}" ] || stack_random_ports || exit 1
MILTER_SOCK=$STACK_DIR/milter/clamav-milter.sock
STACK_SMTPD_MILTERS=unix:$MILTER_SOCK
pass=0
fail=0

ok() {
	pass=$((pass + 1))
	echo "ok   - $*"
}

not_ok() {
	fail=$((fail + 1))
	echo "FAIL - $*"
}

# check DESCRIPTION CMD...: one test case
check() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}

milter_start() {
	local d=$STACK_DIR/milter
	mkdir -p "$d/tmp" || return 1
	cat >"$d/clamav-milter.conf" <<EOF
MilterSocket unix:$MILTER_SOCK
MilterSocketMode 666
FixStaleSocket yes
User root
Foreground yes
PidFile $d/clamav-milter.pid
TemporaryDirectory $d/tmp
ClamdSocket unix:$STACK_CLAMD_SOCK
OnClean Accept
OnInfected Reject
OnFail Defer
AddHeader Replace
LogFile $d/clamav-milter.log
LogTime yes
LogInfected Full
LogClean Full
EOF
	stack_bg clamav-milter "$d/run.pid" clamav-milter -c "$d/clamav-milter.conf"
	stack__wait_unix "$MILTER_SOCK" 30 "$(cat "$d/run.pid")" ||
		{ echo "clamav-milter did not start:" >&2; tail -n 5 "$STACK_DIR/clamav-milter.out" "$d/clamav-milter.log" >&2; return 1; }
}

milter_stop() {
	stack_kill_pidfile "$STACK_DIR/milter/run.pid" 10 clamav-milter
	stack_kill_pidfile "$STACK_DIR/milter/clamav-milter.pid" 5 clamav-milter
}

teardown() {
	stack_postfix_stop
	milter_stop
	stack_down
	if [ "$own_dir" != no ] && [ "$fail" = 0 ]; then
		rm -rf "$STACK_DIR"
	else
		echo "logs kept in $STACK_DIR"
	fi
}
trap teardown EXIT
trap 'exit 130' INT TERM

# write_msg FILE SUBJECT BODY: a small RFC 5322 message (CRLF line ends)
write_msg() {
	printf '%s\r\n' "From: Bob <bob@example.org>" "To: Alice <alice@example.org>" \
		"Subject: $2" "Message-ID: <$2.$$@example.org>" \
		"Date: $(LC_ALL=C date -R)" "X-Virus-Scanned: forged" "" "$3" >"$1"
}

imap_pop3_login() {
	python3 - "$STACK_IMAP_PORT" "$STACK_POP3_PORT" <<'PY'
import imaplib, poplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("alice", "secret")
typ, data = m.select("INBOX")
n = int(data[0])
typ, hits = m.search(None, "SUBJECT", "clean-")
m.logout()
p = poplib.POP3("127.0.0.1", int(sys.argv[2]))
p.user("alice@example.org")
p.pass_("secret")
count, _ = p.stat()
p.quit()
sys.exit(0 if n >= 1 and hits[0] and count == n else 1)
PY
}

start=$(date +%s)
echo "# stack in $STACK_DIR; smtp $STACK_SMTP_PORT lmtp $STACK_LMTP_PORT imap $STACK_IMAP_PORT pop3 $STACK_POP3_PORT"
check "clamd starts and answers PING" stack_clamd_start
check "clamav-milter starts" milter_start
check "dovecot starts (IMAP answers)" stack_dovecot_start
check "postfix starts (SMTP answers)" stack_postfix_start
if [ "$fail" != 0 ]; then
	echo "Bail out: the stack did not come up"
	echo "$pass passed, $fail failed"
	exit 1
fi
stack_eicar >"$STACK_DIR/eicar.txt"
check "EICAR test string is detected by clamd" \
	test "$(stack_clamd_cmd "$STACK_CLAMD_SOCK" "SCAN $STACK_DIR/eicar.txt")" = \
	"$STACK_DIR/eicar.txt: Eicar-Test-Signature.UNOFFICIAL FOUND"

tag=$$.$(date +%s)
write_msg "$STACK_DIR/clean.eml" "clean-$tag" "Hello Alice, this is a clean message."
reply=$(stack_send bob@example.org alice@example.org "$STACK_DIR/clean.eml")
echo "#   clean: $reply"
check "clean message accepted with 250" test "${reply%% *}" = 250
new=$STACK_DIR/mail/alice/new
f=$(stack_wait_mail alice "^Subject: clean-$tag" 30)
check "clean message delivered to alice's maildir new/" test "${f%/*}" = "$new"
check "delivered message has X-Virus-Scanned from clamav-milter" \
	grep -q '^X-Virus-Scanned: clamav-milter' "${f:-/dev/null}"
check "forged X-Virus-Scanned header was replaced" \
	test "$(grep -c '^X-Virus-Scanned: forged' "${f:-/dev/null}")" = 0
check "delivered file owned by vmail" test "$(stat -c %U "${f:-/dev/null}")" = vmail

write_msg "$STACK_DIR/eicar.eml" "eicar-$tag" "$(stack_eicar)"
reply=$(stack_send bob@example.org alice@example.org "$STACK_DIR/eicar.eml")
echo "#   eicar: $reply"
check "EICAR message rejected with 5xx at end of DATA" test "${reply:0:1}" = 5
sleep 1
check "EICAR message not delivered" test -z "$(grep -l "Subject: eicar-$tag" "$new"/* 2>/dev/null)"
check "EICAR rejection logged by postfix as milter-reject END-OF-MESSAGE" \
	grep -q 'milter-reject: END-OF-MESSAGE' "$STACK_DIR/postfix/postfix.log"

reply=$(stack_send bob@example.org mallory@elsewhere.test "$STACK_DIR/clean.eml")
check "relay to another domain refused (5xx)" test "${reply:0:1}" = 5
check "IMAP and POP3 logins see alice's mail" imap_pop3_login

{ echo "From bob@example.org Thu Jan  1 00:00:00 2026"; cat "$STACK_DIR/clean.eml"; } |
	sed "s/clean-$tag/mbox-$tag/" >"$STACK_DIR/mbox.eml"
reply=$(stack_send bob@example.org bob@example.org "$STACK_DIR/mbox.eml")
f=$(stack_wait_mail bob "^Subject: mbox-$tag" 30)
check "message with a leading mbox From line delivered with its headers" \
	grep -q "message-id=<mbox-$tag" "$STACK_DIR/postfix/postfix.log"

milter_stop
reply=$(stack_send bob@example.org alice@example.org "$STACK_DIR/clean.eml")
echo "#   milter down: $reply"
check "milter down: message tempfailed (4xx)" test "${reply:0:1}" = 4

echo "# $(($(date +%s) - start)) s"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
