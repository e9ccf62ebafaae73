/* ms_addr.h - numeric "HOST:PORT" addresses for the daemons' TCP listeners
 * (the metrics endpoints of [milter], [indexd] and [web] metrics).
 *
 * Forms: "A.B.C.D:PORT" (IPv4) and "[ADDR]:PORT" (IPv6), PORT 1..65535,
 * no host names (nothing to resolve at start-up or reload).
 */
#ifndef MS_ADDR_H
#define MS_ADDR_H

#include <sys/socket.h>

#include "ms_buf.h"
#include "ms_status.h"

/* Parses s into *ss (AF_INET or AF_INET6). 0, or -1 if s is not one of
 * the forms above. */
int ms_addr_parse(const char *s, struct sockaddr_storage *ss);

/* A plugin.conf check (ms_config_param.check): "" (off) or an address of
 * the forms above. MS_OK, or MS_ERR_CONFIG with what is wanted appended to
 * why. */
ms_status_t ms_addr_check_optional(const char *value, ms_buf *why);

#endif
