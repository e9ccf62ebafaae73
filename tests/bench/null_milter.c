/* null_milter.c - a libmilter milter that does nothing: it registers the
 * same steps as mailsift-milter (no-reply where the MTA allows), answers
 * "continue" to every callback and "accept" at end of message. bench-milter
 * runs it to show what the milter protocol alone costs Postfix.
 * usage: null_milter unix:/path
 */
#include <libmilter/mfapi.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#define NR                                                                     \
	(SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_RCPT | SMFIP_NR_HDR |        \
	 SMFIP_NR_EOH | SMFIP_NR_BODY)

static sfsistat negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
			  unsigned long f2, unsigned long f3,
			  unsigned long *pf0, unsigned long *pf1,
			  unsigned long *pf2, unsigned long *pf3)
{
	(void)ctx;
	(void)f2;
	(void)f3;
	*pf0 = f0 & (SMFIF_ADDHDRS | SMFIF_CHGHDRS);
	*pf1 = f1 & (NR | SMFIP_NOUNKNOWN | SMFIP_NODATA);
	*pf2 = *pf3 = 0;
	smfi_setpriv(ctx, (void *)(f1 & NR));
	return SMFIS_CONTINUE;
}

/* "No reply" if the MTA agreed to skip replies for this step, else continue. */
static sfsistat step(SMFICTX *ctx, unsigned long flag)
{
	return ((unsigned long)smfi_getpriv(ctx) & flag) ? SMFIS_NOREPLY
							 : SMFIS_CONTINUE;
}

static sfsistat eoh_cb(SMFICTX *c)
{
	return step(c, SMFIP_NR_EOH);
}

static sfsistat connect_cb(SMFICTX *c, char *h, _SOCK_ADDR *a)
{
	(void)h;
	(void)a;
	return step(c, SMFIP_NR_CONN);
}

static sfsistat str_cb(SMFICTX *c, char *s)
{
	(void)s;
	return step(c, SMFIP_NR_HELO);
}

static sfsistat argv_cb(SMFICTX *c, char **v)
{
	(void)c;
	(void)v;
	return SMFIS_CONTINUE;
}

static sfsistat rcpt_cb(SMFICTX *c, char **v)
{
	(void)v;
	return step(c, SMFIP_NR_RCPT);
}

static sfsistat header_cb(SMFICTX *c, char *n, char *v)
{
	(void)n;
	(void)v;
	return step(c, SMFIP_NR_HDR);
}

static sfsistat body_cb(SMFICTX *c, unsigned char *p, size_t n)
{
	(void)p;
	(void)n;
	return step(c, SMFIP_NR_BODY);
}

static sfsistat eom_cb(SMFICTX *c)
{
	(void)c;
	return SMFIS_ACCEPT;
}

static struct smfiDesc desc = {
	.xxfi_name = "null",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS,
	.xxfi_connect = connect_cb,
	.xxfi_helo = str_cb,
	.xxfi_envfrom = argv_cb,
	.xxfi_envrcpt = rcpt_cb,
	.xxfi_header = header_cb,
	.xxfi_eoh = eoh_cb,
	.xxfi_body = body_cb,
	.xxfi_eom = eom_cb,
	.xxfi_negotiate = negotiate,
};

int main(int argc, char **argv)
{
	if (argc != 2)
		return fprintf(stderr, "usage: null_milter SOCKET\n"), 2;
	umask(0);
	smfi_setconn(argv[1]);
	if (smfi_register(desc) == MI_FAILURE ||
	    smfi_opensocket(1) == MI_FAILURE)
		return fprintf(stderr, "null_milter: cannot listen\n"), 1;
	return smfi_main() == MI_SUCCESS ? 0 : 1;
}
