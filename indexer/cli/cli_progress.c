/* cli_progress.c - the progress bar (see cli_progress.h).
 *
 * Functions: cli_now, cli_progress_start, cli_progress_draw,
 * cli_progress_break.
 */
#include "cli_progress.h"

#include "ms_clock.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define BAR_WIDTH 30

double cli_now(void)
{
	return (double)ms_clock_ms() / 1000.0;
}

void cli_progress_start(cli_progress *p)
{
	p->tty = isatty(2);
	p->start = cli_now();
	p->last_draw = 0;
}

void cli_progress_draw(cli_progress *p, double frac, unsigned long long msgs,
		       int final)
{
	double t = cli_now();
	if (!p->tty || (!final && t - p->last_draw < 0.2))
		return;
	p->last_draw = t;
	frac = frac < 0 ? 0 : frac > 1 ? 1 : frac;
	double el = t - p->start;
	double rate = el > 0 ? msgs / el : 0;
	double eta = frac > 0 ? el / frac - el : 0;
	char bar[BAR_WIDTH + 1];
	int fill = (int)(frac * BAR_WIDTH);
	for (int i = 0; i < BAR_WIDTH; i++)
		bar[i] = i < fill ? '=' : i == fill ? '>' : ' ';
	bar[BAR_WIDTH] = '\0';
	fprintf(stderr, "\r[%s] %3.0f%%  %llu msgs  %.0f msg/s  ETA %d:%02d ",
		bar, frac * 100, msgs, rate, (int)eta / 60, (int)eta % 60);
	if (final)
		fputc('\n', stderr);
}

void cli_progress_break(cli_progress *p)
{
	if (p->tty && p->last_draw > 0)
		fputc('\n', stderr);
	p->last_draw = 0;
}
