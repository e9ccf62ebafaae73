/* ms_status.h - the status codes every libmailsift function returns.
 *
 * MS_OK is 0. MS_ERR_LOCKED and MS_ERR_MODIFIED are the retryable Xapian
 * conditions (DatabaseLockError, DatabaseModifiedError): callers retry or
 * reopen. MS_ERR_BUSY: a long maintenance job (reindex) holds the whole
 * archive; writers should not wait for it in the foreground. ms_status_str()
 * names a status for log lines.
 */
#ifndef MS_STATUS_H
#define MS_STATUS_H

typedef enum ms_status {
	MS_OK = 0,
	MS_ERR_NOMEM,  /* allocation failed or a size limit overflowed */
	MS_ERR_IO,     /* a system call failed; errno-based message kept */
	MS_ERR_PARSE,  /* input could not be parsed (message, config, record) */
	MS_ERR_CONFIG, /* bad configuration value or unknown key */
	MS_ERR_NOTFOUND, /* no such message, shard or file */
	MS_ERR_LOCKED,	 /* database write lock held elsewhere: retry later */
	MS_ERR_MODIFIED, /* database changed under a reader: reopen and retry */
	MS_ERR_CORRUPT,	 /* database or stored file is damaged */
	MS_ERR_XAPIAN,	 /* any other Xapian error */
	MS_ERR_INVALID,	 /* invalid argument or state */
	MS_ERR_QUERY,	 /* query syntax error */
	MS_ERR_CRYPTO,	 /* encryption/decryption or hashing failed */
	MS_ERR_LIMIT,	 /* a configured limit was exceeded */
	MS_ERR_BUSY,  /* a maintenance job (reindex) holds the whole archive */
	MS_ERR_REMOTE /* a remote archive host is unreachable or failed */
} ms_status_t;

/* Returns a static, human-readable name for st ("ok", "locked", ...). */
const char *ms_status_str(ms_status_t st);

#endif
