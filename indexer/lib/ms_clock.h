/* ms_clock.h - the monotonic clock in milliseconds, for timeouts and
 * intervals in the daemons and the command.
 */
#ifndef MS_CLOCK_H
#define MS_CLOCK_H

#include <stdint.h>

/* Milliseconds on CLOCK_MONOTONIC (an arbitrary start; only differences
 * mean anything). */
int64_t ms_clock_ms(void);

#endif
