/* milter_conf.c - configuration snapshots of mailsift-milter.
 *
 * Functions: msm_conf_load, msm_conf_install, msm_conf_get, msm_conf_put.
 * A snapshot bundles the parsed plugin.conf with what is derived from it
 * (attachment policy with its blocklist, spool handle, clamd endpoints, the
 * connection cap under the current descriptor limit), so everything a
 * connection uses changes together on reload. Installing a snapshot also
 * applies its [milter] metrics address (milter_metrics.c).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "milter.h"
#include "milter_metrics.h"

static pthread_mutex_t current_mu = PTHREAD_MUTEX_INITIALIZER;
static msm_conf *current;

static void conf_free(msm_conf *c)
{
	ms_policy_free(&c->policy);
	ms_spool_close(&c->spool);
	ms_config_free(&c->cfg);
	free(c);
}

static void set_clamd(msm_conf *c)
{
	const ms_config *cfg = c->cfg;
	c->clamd.endpoints = (const char *const *)cfg->scanner_clamd;
	c->clamd.connect_timeout_ms = cfg->scanner_connect_timeout * 1000;
	c->clamd.read_timeout_ms = cfg->scanner_read_timeout * 1000;
	c->clamd.chunk_size = (size_t)cfg->scanner_chunk_size;
	c->clamd.fildes = 1; /* our spool files hold exactly the message */
}

int msm_conf_load(const char *path, msm_conf **conf_r, char **err_r)
{
	msm_conf *c = calloc(1, sizeof *c);
	*conf_r = NULL;
	*err_r = NULL;
	if (!c)
		return -1;
	atomic_init(&c->refs, 1);
	if (ms_config_load(path, &c->cfg, err_r) ||
	    ms_policy_new(c->cfg, &c->policy, err_r) ||
	    ms_spool_open(c->cfg->spool_dir, &c->spool, err_r)) {
		conf_free(c);
		return -1;
	}
	set_clamd(c);
	c->max_conns = msm_limit_connections(c->cfg->milter_max_connections,
					     msm_limit_nofile());
	if (gethostname(c->host, sizeof c->host - 1) != 0)
		snprintf(c->host, sizeof c->host, "localhost");
	*conf_r = c;
	return 0;
}

void msm_conf_install(msm_conf *conf)
{
	msm_metrics_apply(conf->cfg); /* [milter] metrics */
	pthread_mutex_lock(&current_mu);
	msm_conf *old = current;
	current = conf;
	pthread_mutex_unlock(&current_mu);
	msm_conf_put(&old);
}

msm_conf *msm_conf_get(void)
{
	pthread_mutex_lock(&current_mu);
	msm_conf *c = current;
	if (c)
		atomic_fetch_add(&c->refs, 1);
	pthread_mutex_unlock(&current_mu);
	return c;
}

void msm_conf_put(msm_conf **conf)
{
	if (*conf && atomic_fetch_sub(&(*conf)->refs, 1) == 1)
		conf_free(*conf);
	*conf = NULL;
}
