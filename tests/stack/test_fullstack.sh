#!/bin/bash
# test_fullstack.sh - mailsift-milter in a real mail path on loopback:
# swaks -> Postfix (smtpd_milters = our milter) -> clamd scan -> LMTP ->
# Dovecot maildir. A clean message is delivered with our headers (forged
# ones gone) and handed to the spool; an EICAR message is rejected at end
# of DATA with 550; with the milter stopped Postfix tempfails.
# Prints "N passed, N failed". Needs root.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=$top/${MAILSIFT_BUILD:-build}
# shellcheck source=tests/stack/stack.sh
. "$here/stack.sh"

export STACK_DIR
STACK_DIR=$(mktemp -d /tmp/mailsift-fullstack.XXXXXX)
chmod 755 "$STACK_DIR"
stack_random_ports || exit 1
STACK_SMTPD_MILTERS=unix:$STACK_DIR/milter.sock
pass=0
fail=0

check() {
	local what=$1
	shift
	if "$@"; then
		pass=$((pass + 1))
		echo "ok   - $what"
	else
		fail=$((fail + 1))
		echo "FAIL - $what"
	fi
}

cleanup() {
	stack_mailsift_stop
	stack_down
	[ -n "${KEEP:-}" ] || rm -rf "$STACK_DIR"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

msg() { # msg SUBJECT BODY [EXTRA-HEADER]
	printf 'From: Sender <sender@example.net>\r\nTo: alice@example.org\r\n'
	printf 'Subject: %s\r\nMessage-ID: <%s@example.net>\r\n' "$1" "$1"
	[ -n "${3:-}" ] && printf '%s\r\n' "$3"
	printf '\r\n%s\r\n' "$2"
}

eicar_msg() {
	printf 'From: m@example.net\r\nTo: alice@example.org\r\nSubject: eicar\r\n'
	printf 'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n'
	printf -- '--B\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--B\r\n'
	printf 'Content-Type: application/octet-stream; name=readme.txt\r\n\r\n'
	stack_eicar
	printf '\r\n--B--\r\n'
}

has_header() { # FILE REGEX
	sed '/^$/q' "$1" | grep -qE "$2"
}

# spool_has ID: the spool holds an entry for ID (a segment entry or a file in
# new/, read by mstest.spool_entries, archived or not)
spool_has() {
	python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import mstest
sys.exit(0 if any(e["id"] == sys.argv[3] for e in mstest.spool_entries(sys.argv[2], False)) else 1)' \
		"$here/../lib" "$STACK_DIR/spool" "$1"
}

test_clean() {
	msg clean-one "hello alice" "X-Virus-Status: Clean (forged)" >"$STACK_DIR/clean.eml"
	local reply file id
	reply=$(stack_send sender@example.net alice@example.org "$STACK_DIR/clean.eml")
	check "clean message accepted (${reply%% *})" [ "${reply%% *}" = 250 ]
	file=$(stack_wait_mail alice clean-one 30)
	check "clean message delivered to alice's maildir" [ -n "$file" ]
	[ -n "$file" ] || return
	check "X-Virus-Scanned added" has_header "$file" '^X-Virus-Scanned: mailsift '
	check "X-Virus-Status: Clean added" has_header "$file" '^X-Virus-Status: Clean$'
	check "forged X-Virus-Status removed" bash -c "! sed '/^\$/q' '$file' | grep -q 'Clean (forged)'"
	id=$(sed '/^$/q' "$file" | sed -n 's/^X-Mailsift-Id: \([0-9a-f]*\)$/\1/p')
	check "X-Mailsift-Id added" [ ${#id} -eq 24 ]
	check "spool entry for $id" spool_has "$id"
	check "queue id logged" grep -qE '^mailsift-milter: [0-9A-Za-z]+: id='"$id" "$STACK_DIR/mailsift-milter.out"
}

test_eicar() {
	eicar_msg >"$STACK_DIR/eicar.eml"
	local reply
	reply=$(stack_send m@example.net alice@example.org "$STACK_DIR/eicar.eml")
	check "EICAR rejected at end of DATA: $reply" \
		grep -q '^550 5.7.1 Message rejected: virus found: Eicar-Test-Signature' <<<"$reply"
	check "Postfix logged the milter reject" \
		grep -q 'milter-reject: END-OF-MESSAGE' "$STACK_DIR/postfix/postfix.log"
}

test_milter_down() {
	stack_mailsift_stop
	msg down "milter is down" >"$STACK_DIR/down.eml"
	local reply
	reply=$(stack_send sender@example.net alice@example.org "$STACK_DIR/down.eml")
	check "milter down: Postfix tempfails ($reply)" [ "${reply%% *}" = 451 ]
}

check "clamd started" stack_clamd_start || exit 1
check "milter started" stack_mailsift_start "$build" mailsift-milter || exit 1
check "dovecot started" stack_dovecot_start || exit 1
check "postfix started" stack_postfix_start || exit 1
test_clean
test_eicar
test_milter_down
echo "fullstack: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
