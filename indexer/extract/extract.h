/* extract.h - mailsift-extract's parts: the shared context, the format
 * readers (extract_pdf.c, extract_zip.c) and the sandbox
 * (extract_sandbox.c). extract_main.c parses the arguments, applies the
 * sandbox, reads the attachment from standard input and dispatches.
 *
 * A reader appends text to ctx->out (never past ctx->max_text; it stops
 * when full) and returns an EX_* code; on EX_FAIL or EX_ENC it writes a
 * one-line reason with ex_reason(). Members of a container are handed
 * back to ctx->dispatch, so a ZIP may hold a PDF or another ZIP.
 */
#ifndef EXTRACT_H
#define EXTRACT_H

#include <stddef.h>
#include <stdint.h>

#include "ms_buf.h"
#include "ms_extract.h"

enum {
	EX_OK = 0,
	EX_ENC = MS_EXTRACT_EXIT_ENCRYPTED,
	EX_FAIL = MS_EXTRACT_EXIT_FAILED,
	EX_UNKNOWN = MS_EXTRACT_EXIT_UNKNOWN
};

typedef struct ex_ctx ex_ctx;

/* Extracts data[0..n) of format fmt (a name of ms_extract_types(), or
 * "text") found at container depth depth. */
typedef int (*ex_dispatch_fn)(ex_ctx *c, const char *fmt, const char *data,
			      size_t n, unsigned depth);

struct ex_ctx {
	ms_buf out;
	size_t max_text;
	unsigned zip_depth; /* containers followed this deep */
	unsigned zip_ratio; /* uncompressed/compressed bytes at most */
	uint64_t zip_max;   /* uncompressed bytes in all, at most */
	uint64_t zip_used;
	ex_dispatch_fn dispatch;
	char reason[200];
};

/* Sets c->reason (printf-style) and returns code. */
int ex_reason(ex_ctx *c, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Whether the text cap is reached. */
int ex_full(const ex_ctx *c);
/* Appends n bytes of text (cut at the cap at a character boundary). */
void ex_put(ex_ctx *c, const char *s, size_t n);

/* PDF through poppler-glib. */
int ex_pdf(ex_ctx *c, const char *data, size_t n);
/* ZIP containers through libzip: OOXML, ODF, or a plain ZIP whose members
 * are dispatched (fmt: "docx", "zip", ...; the content decides). */
int ex_zip(ex_ctx *c, const char *fmt, const char *data, size_t n,
	   unsigned depth);

/* Sets RLIMIT_CPU (cpu seconds), RLIMIT_AS (memory bytes), RLIMIT_FSIZE
 * 0 and RLIMIT_CORE 0. 0 or -1. */
int ex_limits(unsigned cpu, uint64_t memory);
/* Installs the seccomp filter: only what reading memory and writing the
 * already open standard output needs; opening files fails with EACCES,
 * anything else (exec, sockets, fork, ptrace...) kills the process.
 * 0 or -1. */
int ex_seccomp(void);

#endif
