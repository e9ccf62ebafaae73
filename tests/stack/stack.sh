# stack.sh - bring up private clamd, Postfix and Dovecot instances on loopback.
#
# A bash library (source it; needs root) used by full-stack tests, `make run`
# and benchmarks. Everything an instance needs (configs, sockets, logs, queue,
# maildirs) lives under $STACK_DIR; instances with distinct STACK_DIRs and
# ports do not collide. Nothing listens beyond 127.0.0.1 and no mail leaves
# the machine: only $STACK_DOMAIN is delivered, everything else bounces.
#
# Functions (each returns 0 on success, non-zero with a message on stderr):
#   stack_up / stack_down           start clamd, Dovecot, Postfix in order / stop all
#   stack_clamd_start / _stop       clamd on unix socket $STACK_DIR/clamd/clamd.sock
#   stack_postfix_start / _stop     Postfix, config dir $STACK_DIR/postfix/etc
#   stack_dovecot_start / _stop     Dovecot, config $STACK_DIR/dovecot/dovecot.conf
#   stack_wait_port HOST PORT SECS  wait until a TCP port accepts connections
#   stack_port_free HOST PORT       true if nothing listens on HOST:PORT
#   stack_send FROM TO FILE         submit FILE over SMTP, print the final reply
#   stack_eicar                     print the EICAR test string
#   stack_maildir USER              print USER's maildir path
#   stack_wait_mail USER PAT [SECS] wait for a delivered message matching PAT
#   stack_bg NAME PIDFILE CMD...    run a foreground daemon in the background, output to $STACK_DIR/NAME.out
#   stack_kill_pidfile FILE [SECS [COMM]]  TERM (then KILL) the process in FILE
#   stack_random_ports              pick four free loopback ports
#   stack_clamd_cmd SOCKET CMD      send zCMD to clamd (PING, VERSION, RELOAD)
#
# Variables (set before calling; defaults in brackets):
#   STACK_DIR                       base directory (required; made 0755)
#   STACK_SMTP_PORT [$SMTP_PORT or 2525]   STACK_LMTP_PORT [$LMTP_PORT or 2424]
#   STACK_IMAP_PORT [$IMAP_PORT or 1143]   STACK_POP3_PORT [$POP3_PORT or 1110]
#   STACK_DOMAIN [example.org]      the only domain delivered
#   STACK_USERS [alice bob carol]   STACK_PASSWORD [secret]
#   STACK_CLAMD [yes]  STACK_POSTFIX [yes]  STACK_DOVECOT [yes]   parts of stack_up
#   STACK_CLAMD_STREAM_MAX [25M]    clamd StreamMaxLength
#   STACK_CLAMD_LOG_CLEAN [no]      clamd LogClean (a log line per clean scan)
#   STACK_CLAMD_TMP [$STACK_DIR/clamd/tmp]  clamd TemporaryDirectory (INSTREAM
#                                   spills every message there: tmpfs is faster)
#   STACK_CLAMD_SIGNAME [Eicar-Test-Signature]   name of the EICAR signature
#   STACK_SMTPD_MILTERS []          Postfix smtpd_milters (empty: no milter)
#   STACK_NON_SMTPD_MILTERS []      Postfix non_smtpd_milters (sendmail, postdrop)
#   STACK_MILTER_DEFAULT_ACTION [tempfail]
#   STACK_DELIVERY [lmtp]           lmtp (to Dovecot) or discard (benchmarks)
#   STACK_RCPT_CHECK [yes]          reject recipients not in STACK_USERS at RCPT
#   STACK_POSTFIX_EXTRA []          extra main.cf lines ("name = value", newline separated)
#   STACK_DOVECOT_INDEX []          if set, INDEX= dir for mail_location (…/%n appended)
#   STACK_DOVECOT_MAIL_PLUGINS []   mail_plugins
#   STACK_DOVECOT_PLUGIN_DIR []     mail_plugin_dir (empty: Dovecot's default)
#   STACK_DOVECOT_PLUGIN_CONF []    lines inside plugin { }
#   STACK_DOVECOT_EXTRA []          extra dovecot.conf lines (appended at the end)
#   STACK_TIMEOUT [90]              seconds to wait for a daemon to come up
#
# shellcheck shell=bash disable=SC2016,SC2020,SC2086

stack__defaults() {
	[ -n "${STACK_DIR:-}" ] || { echo "stack: STACK_DIR must be set" >&2; return 1; }
	STACK_SMTP_PORT=${STACK_SMTP_PORT:-${SMTP_PORT:-2525}}
	STACK_LMTP_PORT=${STACK_LMTP_PORT:-${LMTP_PORT:-2424}}
	STACK_IMAP_PORT=${STACK_IMAP_PORT:-${IMAP_PORT:-1143}}
	STACK_POP3_PORT=${STACK_POP3_PORT:-${POP3_PORT:-1110}}
	STACK_DOMAIN=${STACK_DOMAIN:-example.org}
	STACK_USERS=${STACK_USERS:-alice bob carol}
	STACK_PASSWORD=${STACK_PASSWORD:-secret}
	STACK_CLAMD_STREAM_MAX=${STACK_CLAMD_STREAM_MAX:-25M}
	STACK_CLAMD_SIGNAME=${STACK_CLAMD_SIGNAME:-Eicar-Test-Signature}
	STACK_MILTER_DEFAULT_ACTION=${STACK_MILTER_DEFAULT_ACTION:-tempfail}
	STACK_DELIVERY=${STACK_DELIVERY:-lmtp}
	STACK_RCPT_CHECK=${STACK_RCPT_CHECK:-yes}
	STACK_TIMEOUT=${STACK_TIMEOUT:-90}
	case $STACK_DIR in
	/*) ;;
	*) STACK_DIR=$(cd "$STACK_DIR" 2>/dev/null && pwd) ||
		{ echo "stack: STACK_DIR must exist or be absolute" >&2; return 1; } ;;
	esac
	STACK_CLAMD_SOCK=$STACK_DIR/clamd/clamd.sock
	STACK_PF_CONF=$STACK_DIR/postfix/etc
	STACK_DC_CONF=$STACK_DIR/dovecot/dovecot.conf
}

stack__err() {
	echo "stack: $*" >&2
	return 1
}

# stack__mkdir: create STACK_DIR world-traversable; daemons running as
# postfix, vmail and dovenull must reach their sockets and files in it.
stack__mkdir() {
	stack__defaults || return 1
	mkdir -p "$STACK_DIR" && chmod 0755 "$STACK_DIR" || return 1
	local d=$STACK_DIR
	while [ "$d" != / ]; do
		d=$(dirname "$d")
		[ "$(($(stat -c %#a "$d") & 1))" = 1 ] ||
			stack__err "warning: $d is not world-searchable; postfix/vmail cannot reach $STACK_DIR" || true
	done
}

stack_eicar() {
	# two halves so that no file carries the whole test string
	printf '%s%s' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$' 'EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'
}

stack_maildir() {
	stack__defaults || return 1
	printf '%s\n' "$STACK_DIR/mail/$1"
}

# stack_wait_mail USER PATTERN [SECS]: wait (default 30 s) until a message
# containing PATTERN (grep -e) is in USER's INBOX (new/ or cur/); print its path.
stack_wait_mail() {
	stack__defaults || return 1
	local m=$STACK_DIR/mail/$1 i=0 f
	while :; do
		f=$(grep -l -e "$2" "$m"/new/* "$m"/cur/* 2>/dev/null | head -n 1)
		[ -n "$f" ] && { printf '%s\n' "$f"; return 0; }
		[ "$i" -ge $((${3:-30} * 5)) ] && return 1
		sleep 0.2
		i=$((i + 1))
	done
}

# stack_port_free HOST PORT: true if nothing accepts connections there.
stack_port_free() {
	! python3 - "$1" "$2" <<'PY'
import socket, sys
s = socket.socket()
s.settimeout(1)
sys.exit(0 if s.connect_ex((sys.argv[1], int(sys.argv[2]))) == 0 else 1)
PY
}

# stack_wait_port HOST PORT TIMEOUT: wait until HOST:PORT accepts a connection.
stack_wait_port() {
	python3 - "$1" "$2" "${3:-30}" <<'PY'
import socket, sys, time
host, port, end = sys.argv[1], int(sys.argv[2]), time.time() + float(sys.argv[3])
while True:
    s = socket.socket()
    s.settimeout(1)
    try:
        s.connect((host, port))
        sys.exit(0)
    except OSError:
        s.close()
        if time.time() > end:
            sys.exit(1)
        time.sleep(0.2)
PY
}

# stack__wait_unix SOCKET TIMEOUT PID: wait for a unix socket to accept a
# connection; give up early if process PID (when given) has died.
stack__wait_unix() {
	python3 - "$1" "$2" "${3:-0}" <<'PY'
import os, socket, sys, time
path, end, pid = sys.argv[1], time.time() + float(sys.argv[2]), int(sys.argv[3])
while True:
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path)
        sys.exit(0)
    except OSError:
        s.close()
    if pid:
        try:
            os.kill(pid, 0)
        except OSError:
            sys.exit(2)
    if time.time() > end:
        sys.exit(1)
    time.sleep(0.2)
PY
}

# stack_clamd_cmd SOCKET CMD: send a z-command, print clamd's reply.
stack_clamd_cmd() {
	python3 - "$1" "$2" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(b"z" + sys.argv[2].encode() + b"\0")
out = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    out += b
    if out.endswith(b"\0"):
        break
print(out.rstrip(b"\0").decode(errors="replace"))
PY
}

# stack_bg NAME PIDFILE CMD...: start CMD (a foreground daemon) in the
# background with stdio on $STACK_DIR/NAME.out, so it never holds the
# caller's terminal or pipes; record its pid in PIDFILE.
stack_bg() {
	local name=$1 pidfile=$2
	shift 2
	"$@" </dev/null >>"$STACK_DIR/$name.out" 2>&1 &
	echo $! >"$pidfile"
}

# stack_kill_pidfile FILE [SECS [COMM]]: TERM the process whose pid is in
# FILE, KILL it after SECS; with COMM, only if its name is COMM (a stale
# pid file must not kill an unrelated process). Removes FILE. Never fails.
stack_kill_pidfile() {
	local f=$1 secs=${2:-10} comm=${3:-} pid kids
	[ -s "$f" ] || { rm -f "$f"; return 0; }
	pid=$(head -n1 "$f" | tr -cd 0-9)
	rm -f "$f"
	[ -n "$pid" ] || return 0
	if [ -n "$comm" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" != "$comm" ]; then
		return 0
	fi
	kids=$(pgrep -P "$pid" | tr '\n' ' ')
	kill -TERM "$pid" 2>/dev/null || return 0
	stack__wait_gone "$secs" "$pid" && stack__wait_gone 5 $kids
	return 0
}

# stack__wait_gone SECS PID...: wait until no PID is alive (gone or a
# zombie), then KILL whatever is left.
stack__wait_gone() {
	local secs=$1 i=0 p live
	shift
	while :; do
		live=
		for p in "$@"; do
			case $(awk '{print $3}' "/proc/$p/stat" 2>/dev/null) in
			'' | Z | X) ;;
			*) live="$live $p" ;;
			esac
		done
		[ -z "$live" ] && return 0
		if [ "$i" -ge $((secs * 10)) ]; then
			kill -KILL $live 2>/dev/null || :
			sleep 0.2
			return 0
		fi
		sleep 0.1
		i=$((i + 1))
	done
}

# stack_random_ports: set STACK_{SMTP,LMTP,IMAP,POP3}_PORT to free ports
# chosen by the kernel (for tests that may run next to another stack).
stack_random_ports() {
	local p
	p=$(python3 -c '
import socket
ss = [socket.socket() for _ in range(4)]
for s in ss:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))') || return 1
	set -- $p
	STACK_SMTP_PORT=$1 STACK_LMTP_PORT=$2 STACK_IMAP_PORT=$3 STACK_POP3_PORT=$4
}

# ---------------------------------------------------------------- clamd

stack__clamd_config() {
	local d=$STACK_DIR/clamd hex
	local tmp=${STACK_CLAMD_TMP:-$d/tmp}
	mkdir -p "$d/db" "$tmp" || return 1
	hex=$(stack_eicar | od -An -tx1 | tr -d ' \n')
	printf '%s:0:*:%s\n' "$STACK_CLAMD_SIGNAME" "$hex" >"$d/db/test.ndb" || return 1
	cat >"$d/clamd.conf" <<EOF || return 1
# generated by tests/stack/stack.sh
LocalSocket $STACK_CLAMD_SOCK
LocalSocketMode 666
FixStaleSocket yes
DatabaseDirectory $d/db
TemporaryDirectory $tmp
Foreground yes
User root
LogFile $d/clamd.log
LogFileMaxSize 0
LogTime yes
PidFile $d/clamd.pid
StreamMaxLength $STACK_CLAMD_STREAM_MAX
SelfCheck 0
LogClean ${STACK_CLAMD_LOG_CLEAN:-no}
EOF
}

stack_clamd_start() {
	stack__mkdir || return 1
	local d=$STACK_DIR/clamd pid
	if [ -S "$STACK_CLAMD_SOCK" ] && stack__wait_unix "$STACK_CLAMD_SOCK" 0; then
		stack__err "clamd already running on $STACK_CLAMD_SOCK"
		return 1
	fi
	stack__clamd_config || return 1
	stack_bg clamd "$d/run.pid" clamd -c "$d/clamd.conf"
	pid=$(cat "$d/run.pid")
	if ! stack__wait_unix "$STACK_CLAMD_SOCK" "$STACK_TIMEOUT" "$pid"; then
		stack__err "clamd did not come up; see $d/clamd.log and $STACK_DIR/clamd.out"
		tail -n 5 "$d/clamd.log" "$STACK_DIR/clamd.out" >&2 2>/dev/null
		stack_clamd_stop
		return 1
	fi
	[ "$(stack_clamd_cmd "$STACK_CLAMD_SOCK" PING)" = PONG ] ||
		{ stack__err "clamd does not answer PING"; stack_clamd_stop; return 1; }
}

stack_clamd_stop() {
	stack__defaults || return 0
	stack_kill_pidfile "$STACK_DIR/clamd/run.pid" 15 clamd
	stack_kill_pidfile "$STACK_DIR/clamd/clamd.pid" 5 clamd
	rm -f "$STACK_CLAMD_SOCK"
	return 0
}

# ---------------------------------------------------------------- Postfix

# stack__pf_register DIR: list DIR in alternate_config_directories of the
# default main.cf (created, harmless, if missing); drops entries whose
# directory no longer exists. Serialised with flock against parallel runs.
stack__pf_register() {
	(
		flock -w 30 9 || exit 1
		if [ ! -e /etc/postfix/main.cf ]; then
			cat >/etc/postfix/main.cf <<'EOF'
# minimal default main.cf created by tests/stack/stack.sh; the default
# instance is not started by the tests (private instances use -c DIR).
compatibility_level = 3.6
inet_interfaces = loopback-only
mydestination =
relayhost =
default_transport = error:no outside delivery on this machine
maillog_file = /var/log/postfix.log
EOF
		fi
		local cur new e
		cur=$(postconf -h alternate_config_directories 2>/dev/null | tr ', ' '\n\n')
		new=$1
		for e in $cur; do
			[ "$e" = "$1" ] && exit 0
			case $e in
			/*) [ -d "$e" ] && new="$new, $e" ;;
			*) new="$new, $e" ;;
			esac
		done
		postconf -e "alternate_config_directories = $new"
	) 9>>/etc/postfix/.stack-sh.lock
}

stack__pf_main_cf() {
	local d=$STACK_DIR/postfix vt u
	case $STACK_DELIVERY in
	lmtp) vt=lmtp:inet:127.0.0.1:$STACK_LMTP_PORT ;;
	discard) vt=discard: ;;
	*) stack__err "STACK_DELIVERY must be lmtp or discard"; return 1 ;;
	esac
	for u in $STACK_USERS; do
		echo "$u@$STACK_DOMAIN $u/"
	done >"$d/etc/virtual_mailboxes" || return 1
	cat >"$d/etc/main.cf" <<EOF || return 1
# generated by tests/stack/stack.sh
compatibility_level = 3.6
queue_directory = $d/spool
data_directory = $d/data
maillog_file = $d/postfix.log
maillog_file_prefixes = $STACK_DIR
syslog_name = postfix-stack
myhostname = mx.$STACK_DOMAIN
mydomain = $STACK_DOMAIN
myorigin = \$myhostname
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mydestination =
relayhost =
relay_domains =
mynetworks = 127.0.0.0/8
local_transport = error:local delivery disabled
default_transport = error:no outside delivery from the test stack
relay_transport = error:no outside delivery from the test stack
virtual_mailbox_domains = $STACK_DOMAIN
virtual_mailbox_maps = texthash:$d/etc/virtual_mailboxes
virtual_transport = $vt
smtpd_reject_unlisted_recipient = $STACK_RCPT_CHECK
smtpd_relay_restrictions = reject_unauth_destination
smtpd_milters = ${STACK_SMTPD_MILTERS:-}
non_smtpd_milters = ${STACK_NON_SMTPD_MILTERS:-}
milter_default_action = $STACK_MILTER_DEFAULT_ACTION
milter_protocol = 6
alias_maps =
alias_database =
biff = no
smtpd_banner = \$myhostname ESMTP stack
EOF
	if [ -n "${STACK_POSTFIX_EXTRA:-}" ]; then
		printf '%s\n' "$STACK_POSTFIX_EXTRA" >>"$d/etc/main.cf" || return 1
	fi
	# never start an instance that would use the system's queue
	[ "$(postconf -c "$STACK_PF_CONF" -h queue_directory 2>/dev/null)" = "$d/spool" ] ||
		stack__err "$STACK_PF_CONF/main.cf is broken (queue_directory)"
}

# stack__pf_master_cf: Debian's master.cf with chroot off everywhere and the
# smtpd listener moved to 127.0.0.1:$STACK_SMTP_PORT.
stack__pf_master_cf() {
	local src=/etc/postfix/master.cf
	[ -f "$src" ] || src=/usr/share/postfix/master.cf.dist
	awk -v listen="127.0.0.1:$STACK_SMTP_PORT" '
	/^[#[:space:]]/ || NF < 8 { print; next }
	{
		if ($1 == "smtp" && $2 == "inet") $1 = listen
		$5 = "n"
		print
	}' "$src" >"$STACK_PF_CONF/master.cf" || return 1
	grep -q "^127.0.0.1:$STACK_SMTP_PORT " "$STACK_PF_CONF/master.cf" ||
		stack__err "no smtpd line in $STACK_PF_CONF/master.cf"
}

stack_postfix_start() {
	stack__mkdir || return 1
	local d=$STACK_DIR/postfix
	stack_port_free 127.0.0.1 "$STACK_SMTP_PORT" ||
		{ stack__err "127.0.0.1:$STACK_SMTP_PORT is already in use"; return 1; }
	mkdir -p "$STACK_PF_CONF" "$d/spool" "$d/data" || return 1
	chown postfix "$d/data" && chmod 0700 "$d/data" || return 1
	stack__pf_main_cf && stack__pf_master_cf || return 1
	cp /etc/postfix/dynamicmaps.cf "$STACK_PF_CONF/" 2>/dev/null
	stack__pf_register "$STACK_PF_CONF" ||
		{ stack__err "cannot register $STACK_PF_CONF in /etc/postfix/main.cf"; return 1; }
	if ! postfix -c "$STACK_PF_CONF" check </dev/null >>"$STACK_DIR/postfix.out" 2>&1; then
		stack__err "postfix check failed; see $STACK_DIR/postfix.out and $d/postfix.log"
		tail -n 5 "$STACK_DIR/postfix.out" "$d/postfix.log" >&2 2>/dev/null
		return 1
	fi
	postfix -c "$STACK_PF_CONF" start </dev/null >>"$STACK_DIR/postfix.out" 2>&1 ||
		{ stack__err "postfix start failed; see $d/postfix.log"; tail -n 5 "$d/postfix.log" >&2; return 1; }
	if ! stack_wait_port 127.0.0.1 "$STACK_SMTP_PORT" "$STACK_TIMEOUT"; then
		stack__err "Postfix does not answer on 127.0.0.1:$STACK_SMTP_PORT; see $d/postfix.log"
		tail -n 5 "$d/postfix.log" >&2
		stack_postfix_stop
		return 1
	fi
}

stack_postfix_stop() {
	stack__defaults || return 0
	local d=$STACK_DIR/postfix
	[ -f "$STACK_PF_CONF/main.cf" ] || return 0
	if [ -s "$d/spool/pid/master.pid" ]; then
		postfix -c "$STACK_PF_CONF" stop </dev/null >>"$STACK_DIR/postfix.out" 2>&1 || :
		# `postfix stop` does not wait: wait for master, force if needed
		stack_kill_pidfile "$d/spool/pid/master.pid" 15 master
	fi
	return 0
}

# ---------------------------------------------------------------- Dovecot

stack__vmail() {
	id vmail >/dev/null 2>&1 && return 0
	useradd --system --user-group --home-dir /nonexistent --no-create-home \
		--shell /usr/sbin/nologin vmail 2>/dev/null || id vmail >/dev/null 2>&1
}

stack__dc_config() {
	local d=$STACK_DIR/dovecot uid gid u loc
	uid=$(id -u vmail) && gid=$(id -g vmail) || return 1
	mkdir -p "$d/run" "$d/state" "$STACK_DIR/mail" || return 1
	chown vmail:vmail "$STACK_DIR/mail" || return 1
	for u in $STACK_USERS; do
		echo "$u:{PLAIN}$STACK_PASSWORD:$uid:$gid::$STACK_DIR/mail/$u::"
	done >"$d/users" || return 1
	chmod 0644 "$d/users" || return 1
	loc=maildir:$STACK_DIR/mail/%n
	if [ -n "${STACK_DOVECOT_INDEX:-}" ]; then
		mkdir -p "$STACK_DOVECOT_INDEX" && chown vmail:vmail "$STACK_DOVECOT_INDEX" || return 1
		loc=$loc:INDEX=$STACK_DOVECOT_INDEX/%n
	fi
	cat >"$STACK_DC_CONF" <<EOF || return 1
# generated by tests/stack/stack.sh
protocols = imap pop3 lmtp
listen = 127.0.0.1
base_dir = $d/run
state_dir = $d/state
log_path = $d/dovecot.log
info_log_path = $d/dovecot.log
instance_name = dovecot-stack-$STACK_IMAP_PORT
ssl = no
auth_mechanisms = plain
disable_plaintext_auth = no
default_login_user = dovenull
default_internal_user = dovecot
first_valid_uid = $uid
last_valid_uid = $uid
mail_location = $loc
mail_uid = $uid
mail_gid = $gid
pop3_uidl_format = %08Xu%08Xv
shutdown_clients = yes
lda_mailbox_autocreate = yes
$( [ -n "${STACK_DOVECOT_PLUGIN_DIR:-}" ] && echo "mail_plugin_dir = $STACK_DOVECOT_PLUGIN_DIR" )
mail_plugins = \$mail_plugins ${STACK_DOVECOT_MAIL_PLUGINS:-}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%n $d/users
}
userdb {
  driver = passwd-file
  args = username_format=%n $d/users
}
namespace inbox {
  inbox = yes
  separator = /
}
protocol lmtp {
  postmaster_address = postmaster@$STACK_DOMAIN
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $STACK_IMAP_PORT
  }
  inet_listener imaps {
    port = 0
  }
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = $STACK_POP3_PORT
  }
  inet_listener pop3s {
    port = 0
  }
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $STACK_LMTP_PORT
  }
}
plugin {
${STACK_DOVECOT_PLUGIN_CONF:-}
}
${STACK_DOVECOT_EXTRA:-}
EOF
}

stack_dovecot_start() {
	stack__mkdir || return 1
	local d=$STACK_DIR/dovecot p
	for p in "$STACK_IMAP_PORT" "$STACK_POP3_PORT" "$STACK_LMTP_PORT"; do
		stack_port_free 127.0.0.1 "$p" ||
			{ stack__err "127.0.0.1:$p is already in use"; return 1; }
	done
	stack__vmail || { stack__err "cannot create user vmail"; return 1; }
	stack__dc_config || return 1
	if ! doveconf -c "$STACK_DC_CONF" >/dev/null 2>>"$STACK_DIR/dovecot.out"; then
		stack__err "bad dovecot config:"
		tail -n 5 "$STACK_DIR/dovecot.out" >&2
		return 1
	fi
	dovecot -c "$STACK_DC_CONF" </dev/null >>"$STACK_DIR/dovecot.out" 2>&1 ||
		{ stack__err "dovecot failed to start"; tail -n 5 "$STACK_DIR/dovecot.out" "$d/dovecot.log" >&2; return 1; }
	for p in "$STACK_IMAP_PORT" "$STACK_LMTP_PORT"; do
		if ! stack_wait_port 127.0.0.1 "$p" "$STACK_TIMEOUT"; then
			stack__err "Dovecot does not answer on 127.0.0.1:$p; see $d/dovecot.log"
			tail -n 5 "$d/dovecot.log" >&2
			stack_dovecot_stop
			return 1
		fi
	done
}

stack_dovecot_stop() {
	stack__defaults || return 0
	local pf=$STACK_DIR/dovecot/run/master.pid
	[ -s "$pf" ] || return 0
	doveadm -c "$STACK_DC_CONF" stop >/dev/null 2>&1 || :
	stack_kill_pidfile "$pf" 15 dovecot
	return 0
}

# ---------------------------------------------------------------- mailsift

# stack_bench_settings: what the benchmarks share: discard delivery, any
# recipient, no Postfix rate limits, clamd's INSTREAM spill files on tmpfs.
stack_bench_settings() {
	STACK_DELIVERY=discard
	STACK_RCPT_CHECK=no
	STACK_POSTFIX_EXTRA="default_process_limit = 200
smtpd_client_connection_count_limit = 0
smtpd_client_message_rate_limit = 0"
	STACK_CLAMD_TMP=$(mktemp -d /dev/shm/mailsift-clamd.XXXXXX)
}

# stack_mailsift_conf [LINES]: writes $STACK_DIR/plugin.conf wiring our
# milter, spool, archive and indexd under $STACK_DIR to the stack's clamd,
# then LINES (more "[section]" / "key = value" text).
stack_mailsift_conf() {
	stack__defaults || return 1
	cat >"$STACK_DIR/plugin.conf" <<CONF
[milter]
socket = unix:${STACK_MILTER_SOCK:-$STACK_DIR/milter.sock}
pidfile = $STACK_DIR/milter.pid
[scanner]
clamd = unix:$STACK_CLAMD_SOCK
[spool]
dir = $STACK_DIR/spool
[archive]
dir = $STACK_DIR/archive
[indexd]
pidfile = $STACK_DIR/indexd.pid
${1:-}
CONF
}

# stack_mailsift_start BUILD NAME...: starts each of mailsift-milter and
# mailsift-indexd named, in the foreground (logging to $STACK_DIR/NAME.out),
# with $STACK_MAILSIFT_CONF (default $STACK_DIR/plugin.conf, written by
# stack_mailsift_conf if missing; its sockets must be the ones used here),
# and waits for the milter's socket ($STACK_MILTER_SOCK, default
# $STACK_DIR/milter.sock). Set STACK_SMTPD_MILTERS to unix:that socket
# before stack_postfix_start.
stack_mailsift_start() {
	stack__defaults || return 1
	local build=$1 conf=${STACK_MAILSIFT_CONF:-$STACK_DIR/plugin.conf} name i
	shift
	[ -f "$conf" ] || stack_mailsift_conf || return 1
	for name in "$@"; do
		stack_bg "$name" "$STACK_DIR/$name.bg.pid" "$build/$name" -f -c "$conf"
	done
	case " $* " in *" mailsift-milter "*) ;; *) return 0 ;; esac
	for i in $(seq 100); do
		[ -S "${STACK_MILTER_SOCK:-$STACK_DIR/milter.sock}" ] && return 0
		sleep 0.1
	done
	stack__err "mailsift-milter did not come up; see $STACK_DIR/mailsift-milter.out"
	return 1
}

# stack_mailsift_stop: stops indexd (which commits first) and the milter.
stack_mailsift_stop() {
	stack__defaults || return 0
	local d
	for d in mailsift-indexd mailsift-milter; do
		stack_kill_pidfile "$STACK_DIR/${d#mailsift-}.pid" 20 "$d"
		stack_kill_pidfile "$STACK_DIR/$d.bg.pid" 20 "$d"
	done
	return 0
}

# ---------------------------------------------------------------- all

stack_up() {
	if [ "${STACK_CLAMD:-yes}" = yes ]; then stack_clamd_start || return 1; fi
	if [ "${STACK_DOVECOT:-yes}" = yes ]; then stack_dovecot_start || return 1; fi
	if [ "${STACK_POSTFIX:-yes}" = yes ]; then stack_postfix_start || return 1; fi
	return 0
}

stack_down() {
	stack__defaults 2>/dev/null || return 0
	stack_postfix_stop || :
	stack_dovecot_stop || :
	stack_clamd_stop || :
	return 0
}

# stack_send FROM TO FILE [swaks options...]: submit FILE (a whole message;
# "-" reads stdin; a leading mbox "From " line is dropped, as Postfix's
# cleanup would drop it too) to our smtpd; TO may be a comma list.
# Prints the server's last reply line (e.g. "250 2.0.0 Ok: queued as ..."
# or "550 5.7.1 Command rejected"). Returns swaks' status (0 only for 250).
stack_send() {
	stack__defaults || return 1
	local from=$1 to=$2 file=$3 out rc
	shift 3
	out=$(sed '1{/^From /d;}' "$file" |
		swaks --server "127.0.0.1:$STACK_SMTP_PORT" --from "$from" --to "$to" \
			--data - --helo stack.test --timeout 60 "$@" 2>&1)
	rc=$?
	printf '%s\n' "$out" | sed -n 's/^<[-*~]*  *\([2-5][0-9][0-9][ -].*\)$/\1/p' |
		grep -v '^221' | tail -n 1
	return $rc
}
