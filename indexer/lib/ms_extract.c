/* ms_extract.c - attachment formats and the extractor process (see
 * ms_extract.h).
 *
 * Functions: ms_extract_types, ms_extract_types_check, ms_extract_format,
 * ms_extract_wanted, ms_extract_memfd, ms_extract_run,
 * ms_extract_state_name. File-local: the format table, the helper's path
 * (helper_path), starting it (spawn), reading its output under the
 * deadline and the cap (collect), and turning its end into a state
 * (verdict).
 */
#include "ms_extract.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ERR_KEEP 200 /* bytes of the helper's standard error kept */

typedef struct format {
	const char *name;
	const char *types[3];
	const char *exts[2];
} format;

static const format formats[] = {
	{ "pdf", { "application/pdf", "application/x-pdf" }, { "pdf" } },
	{ "docx",
	  { "application/"
	    "vnd.openxmlformats-officedocument.wordprocessingml.document" },
	  { "docx", "docm" } },
	{ "xlsx",
	  { "application/"
	    "vnd.openxmlformats-officedocument.spreadsheetml.sheet" },
	  { "xlsx", "xlsm" } },
	{ "pptx",
	  { "application/"
	    "vnd.openxmlformats-officedocument.presentationml.presentation" },
	  { "pptx", "pptm" } },
	{ "odt", { "application/vnd.oasis.opendocument.text" }, { "odt" } },
	{ "ods",
	  { "application/vnd.oasis.opendocument.spreadsheet" },
	  { "ods" } },
	{ "odp",
	  { "application/vnd.oasis.opendocument.presentation" },
	  { "odp" } },
	{ "zip",
	  { "application/zip", "application/x-zip-compressed",
	    "application/x-zip" },
	  { "zip" } },
	{ "json", { "application/json" }, { "json" } },
};
#define N_FORMATS (sizeof formats / sizeof formats[0])

static const char *const format_names[N_FORMATS + 1] = {
	"pdf", "docx", "xlsx", "pptx", "odt", "ods", "odp", "zip", "json", NULL
};

/* Formats no maintained Debian C library reads well (see README). */
static const char *const legacy_types[] = { "application/msword",
					    "application/vnd.ms-excel",
					    "application/vnd.ms-powerpoint",
					    "application/rtf",
					    "text/rtf",
					    NULL };
static const char *const legacy_exts[] = { "doc", "xls", "ppt", "rtf", NULL };

const char *const *ms_extract_types(void)
{
	return format_names;
}

const char *ms_extract_types_check(const char *item)
{
	for (size_t i = 0; format_names[i]; i++)
		if (strcasecmp(item, format_names[i]) == 0)
			return NULL;
	return "unknown format (pdf, docx, xlsx, pptx, odt, ods, odp, zip, "
	       "json)";
}

static const char *ext_of(const char *name)
{
	const char *dot = name ? strrchr(name, '.') : NULL;
	return dot && dot[1] ? dot + 1 : NULL;
}

static int in_list(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n && list[i]; i++)
		if (strcasecmp(s, list[i]) == 0)
			return 1;
	return 0;
}

/* The format named by the file name's extension, else by the type. */
static const char *by_name_or_type(const char *type, const char *ext)
{
	for (size_t i = 0; ext && i < N_FORMATS; i++)
		if (in_list(ext, formats[i].exts, 2))
			return formats[i].name;
	for (size_t i = 0; type && i < N_FORMATS; i++)
		if (in_list(type, formats[i].types, 3))
			return formats[i].name;
	return NULL;
}

const char *ms_extract_format(const char *type, const char *name,
			      const char *head, size_t n, int *legacy_r)
{
	const char *ext = ext_of(name);
	const char *f = by_name_or_type(type, ext);
	*legacy_r = 0;
	if (f)
		return f;
	if ((ext && in_list(ext, legacy_exts, SIZE_MAX)) ||
	    (type && in_list(type, legacy_types, SIZE_MAX))) {
		*legacy_r = 1;
		return NULL;
	}
	if (n >= 5 && memcmp(head, "%PDF-", 5) == 0)
		return "pdf";
	if (n >= 4 && memcmp(head, "PK\3\4", 4) == 0)
		return "zip"; /* the helper tells OOXML and ODF from plain */
	return NULL;
}

int ms_extract_wanted(const ms_extract_opts *opts, const char *fmt)
{
	if (!opts || !opts->enabled || !fmt)
		return 0;
	return !opts->types ||
	       in_list(fmt, (const char *const *)opts->types, SIZE_MAX);
}

int ms_extract_memfd(void)
{
	return memfd_create("mailsift-attachment", MFD_CLOEXEC);
}

const char *ms_extract_state_name(ms_extract_state s)
{
	static const char *const names[] = { "none", "yes", "failed",
					     "encrypted" };
	return (unsigned)s < 4 ? names[s] : "none";
}

/* Writes the helper's path to out: opts->helper, else mailsift-extract
 * beside the running program if there is one, else MS_EXTRACT_LIBEXEC. */
static void helper_path(const ms_extract_opts *o, char *out, size_t n)
{
	if (o->helper && *o->helper) {
		snprintf(out, n, "%s", o->helper);
		return;
	}
	char exe[PATH_MAX - 32];
	ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
	char *slash = k > 0 ? (exe[k] = '\0', strrchr(exe, '/')) : NULL;
	if (slash) {
		*slash = '\0';
		snprintf(out, n, "%s/mailsift-extract", exe);
		if (access(out, X_OK) == 0)
			return;
	}
	snprintf(out, n, "%s", MS_EXTRACT_LIBEXEC);
}

typedef struct child {
	pid_t pid;
	int out, err; /* read ends, -1 once closed */
} child;

/* Starts the helper with fd as standard input; 0 or an errno. */
static int spawn(const ms_extract_opts *o, const char *fmt, int fd, child *c)
{
	char path[PATH_MAX], num[6][24];
	int po[2], pe[2];
	helper_path(o, path, sizeof path);
	snprintf(num[0], 24, "%" PRIu64, o->max_text);
	snprintf(num[1], 24, "%u", o->cpu);
	snprintf(num[2], 24, "%" PRIu64, o->memory);
	snprintf(num[3], 24, "%u", o->zip_depth);
	snprintf(num[4], 24, "%u", o->zip_ratio);
	snprintf(num[5], 24, "%" PRIu64, o->zip_max);
	char *argv[] = { path,	 "--format",	(char *)fmt, "--max-text",
			 num[0], "--cpu",	num[1],	     "--memory",
			 num[2], "--zip-depth", num[3],	     "--zip-ratio",
			 num[4], "--zip-max",	num[5],	     NULL };
	char *envp[] = { "PATH=/usr/bin:/bin", NULL };
	if (lseek(fd, 0, SEEK_SET) < 0 || pipe2(po, O_CLOEXEC))
		return errno;
	if (pipe2(pe, O_CLOEXEC)) {
		int e = errno;
		close(po[0]);
		close(po[1]);
		return e;
	}
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fd, 0);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	posix_spawnattr_init(&at);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK |
					      POSIX_SPAWN_SETSIGDEF |
					      POSIX_SPAWN_SETPGROUP);
	posix_spawnattr_setpgroup(&at, 0); /* its own group: killed whole */
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &all);
	int e = posix_spawn(&c->pid, path, &fa, &at, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(po[1]);
	close(pe[1]);
	c->out = po[0];
	c->err = pe[0];
	if (e) {
		close(po[0]);
		close(pe[0]);
	}
	return e;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads one chunk from *fd into b (at most room more bytes, the rest is
 * read and dropped); closes *fd at its end. Returns 1 if more than room
 * came, -1 on ENOMEM, else 0. */
static int drain(int *fd, ms_buf *b, size_t room)
{
	char chunk[16384];
	ssize_t n = read(*fd, chunk, sizeof chunk);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0) {
		close(*fd);
		*fd = -1;
		return 0;
	}
	size_t k = (size_t)n < room ? (size_t)n : room;
	if (k && ms_buf_append(b, chunk, k) != MS_OK)
		return -1;
	return (size_t)n > room;
}

typedef enum { RUN_DONE, RUN_TIMEOUT, RUN_OVERFLOW, RUN_NOMEM } run_end;

/* Reads the child's output and errors until both end, the deadline, or
 * more than max_text bytes of text. */
static run_end collect(const ms_extract_opts *o, child *c, ms_buf *text,
		       ms_buf *err)
{
	size_t start = text->len;
	int64_t deadline = now_ms() + (int64_t)o->timeout * 1000;
	while (c->out >= 0 || c->err >= 0) {
		struct pollfd p[2] = { { c->out, POLLIN, 0 },
				       { c->err, POLLIN, 0 } };
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return RUN_TIMEOUT;
		if (poll(p, 2, left > INT_MAX ? INT_MAX : (int)left) < 0 &&
		    errno != EINTR)
			return RUN_TIMEOUT;
		size_t used = text->len - start;
		int r = p[0].revents ? drain(&c->out, text, o->max_text - used)
				     : 0;
		if (r)
			return r < 0 ? RUN_NOMEM : RUN_OVERFLOW;
		if (p[1].revents &&
		    drain(&c->err, err, ERR_KEEP - err->len) < 0)
			return RUN_NOMEM;
	}
	return RUN_DONE;
}

/* The first line of the helper's standard error, or dflt. */
static void first_line(const ms_buf *err, const char *dflt, char *out, size_t n)
{
	const char *s = err->len ? err->data : dflt;
	size_t k = strcspn(s, "\n");
	snprintf(out, n, "%.*s", (int)k, s);
}

static const char *signal_reason(int sig)
{
	switch (sig) {
	case SIGXCPU:
		return "CPU time limit reached";
	case SIGKILL:
		return "killed (CPU time limit reached)";
	case SIGSYS:
		return "stopped by the seccomp filter";
	case SIGSEGV:
	case SIGBUS:
		return "crashed (invalid memory access)";
	case SIGABRT:
		return "aborted (memory limit reached or internal error)";
	default:
		return "killed by a signal";
	}
}

/* The state and reason from how the helper ended. */
static ms_extract_state verdict(int ws, run_end end, const ms_extract_opts *o,
				const ms_buf *err, char *reason, size_t n)
{
	if (end == RUN_TIMEOUT) {
		snprintf(reason, n, "timed out after %us", o->timeout);
		return MS_EXTRACT_FAILED;
	}
	if (end == RUN_OVERFLOW) {
		snprintf(reason, n, "text over %" PRIu64 " bytes", o->max_text);
		return MS_EXTRACT_FAILED;
	}
	if (WIFSIGNALED(ws)) {
		snprintf(reason, n, "%s", signal_reason(WTERMSIG(ws)));
		return MS_EXTRACT_FAILED;
	}
	int code = WIFEXITED(ws) ? WEXITSTATUS(ws) : MS_EXTRACT_EXIT_FAILED;
	if (code == 0)
		return MS_EXTRACT_YES;
	if (code == MS_EXTRACT_EXIT_ENCRYPTED) {
		first_line(err, "encrypted", reason, n);
		return MS_EXTRACT_ENCRYPTED;
	}
	first_line(err,
		   code == MS_EXTRACT_EXIT_UNKNOWN ? "not a format read"
						   : "extractor failed",
		   reason, n);
	return MS_EXTRACT_FAILED;
}

ms_status_t ms_extract_run(const ms_extract_opts *opts, const char *fmt, int fd,
			   ms_buf *text, ms_extract_state *state_r,
			   char *reason, size_t reason_sz)
{
	child c = { -1, -1, -1 };
	ms_buf err = MS_BUF_INIT;
	size_t start = text->len;
	int ws = 0, e = spawn(opts, fmt, fd, &c);
	reason[0] = '\0';
	if (e) {
		snprintf(reason, reason_sz, "cannot start the extractor: %s",
			 strerror(e));
		*state_r = MS_EXTRACT_FAILED;
		return MS_OK;
	}
	run_end end = collect(opts, &c, text, &err);
	if (end != RUN_DONE)
		kill(-c.pid, SIGKILL);
	if (c.out >= 0)
		close(c.out);
	if (c.err >= 0)
		close(c.err);
	while (waitpid(c.pid, &ws, 0) < 0 && errno == EINTR)
		;
	*state_r = verdict(ws, end, opts, &err, reason, reason_sz);
	if (*state_r != MS_EXTRACT_YES)
		ms_buf_truncate(text, start);
	ms_buf_free(&err);
	return end == RUN_NOMEM ? MS_ERR_NOMEM : MS_OK;
}
