/* cli_progress.h - the progress bar long-running subcommands (import,
 * reindex, verify) draw on stderr when it is a terminal.
 */
#ifndef CLI_PROGRESS_H
#define CLI_PROGRESS_H

typedef struct cli_progress {
	int tty;
	double start, last_draw;
} cli_progress;

/* Seconds on the monotonic clock. */
double cli_now(void);
/* Starts the clock; draws only if stderr is a terminal. */
void cli_progress_start(cli_progress *p);
/* Draws "[=====>    ]  42%  1234 msgs  567 msg/s  ETA 0:12" (frac of the
 * work done, 0..1), at most five times a second unless final, which also
 * ends the line. */
void cli_progress_draw(cli_progress *p, double frac, unsigned long long msgs,
		       int final);
/* Call before printing a line of one's own to stderr: ends the bar's
 * line (if one is drawn) so the message starts on a fresh line. */
void cli_progress_break(cli_progress *p);

#endif
