/*
 * forward_config.c: logbus-forward's configuration file, INI like
 * logbusd.conf: a [forward] section for the program and one [output NAME]
 * section per destination, each with a logbus filter.  Everything is
 * checked here, before a thread starts: an unknown section or key, a bad
 * value or a missing required key stops the start with FILE:LINE and the
 * reason, never a guess.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ini.h>

#include "args.h"
#include "forward.h"

struct load_ctx {
	struct fwd_config *cfg;
	char err[FWD_ERR_MAX];
};

const char *config_type_name(enum fwd_type t)
{
	switch (t) {
	case FWD_CLICKHOUSE:
		return "clickhouse";
	case FWD_RELP:
		return "relp";
	case FWD_SYSLOG_TCP:
		return "syslog-tcp";
	case FWD_LOKI:
		return "loki";
	}
	return "?";
}

static bool copy_value(char *dst, size_t cap, const char *v)
{
	size_t n = strlen(v);
	if (n == 0 || n >= cap)
		return false;
	memcpy(dst, v, n + 1);
	return true;
}

static bool parse_bool(const char *v, bool *out)
{
	if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 ||
	    strcmp(v, "1") == 0)
		*out = true;
	else if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 ||
	         strcmp(v, "0") == 0)
		*out = false;
	else
		return false;
	return true;
}

static bool parse_ms(const char *v, double max_s, int *out)
{
	double s;
	if (!args_seconds(v, max_s, &s))
		return false;
	*out = (int)(s * 1000 + 0.5);
	return *out > 0;
}

/* "log|stdout|stderr", any of them, '|' or ',' between. */
static bool parse_streams(const char *v, unsigned *out)
{
	char buf[64];
	char *save = NULL;
	if (!copy_value(buf, sizeof buf, v))
		return false;
	*out = 0;
	for (char *t = strtok_r(buf, "|,", &save); t != NULL;
	     t = strtok_r(NULL, "|,", &save)) {
		if (strcmp(t, "log") == 0)
			*out |= 1u << LOGBUS_STREAM_LOG;
		else if (strcmp(t, "stdout") == 0)
			*out |= 1u << LOGBUS_STREAM_STDOUT;
		else if (strcmp(t, "stderr") == 0)
			*out |= 1u << LOGBUS_STREAM_STDERR;
		else
			return false;
	}
	return *out != 0;
}

static bool parse_services(struct fwd_output_config *oc, const char *v)
{
	char buf[FWD_SERVICES * (LOGBUS_SERVICE_MAX + 1)];
	char *save = NULL;
	if (!copy_value(buf, sizeof buf, v))
		return false;
	for (char *t = strtok_r(buf, "|,", &save); t != NULL;
	     t = strtok_r(NULL, "|,", &save)) {
		if (oc->nservices == FWD_SERVICES ||
		    logbus_service_valid(t) != LOGBUS_OK)
			return false;
		if ((oc->services[oc->nservices] = strdup(t)) == NULL)
			return false;
		oc->nservices++;
	}
	return oc->nservices > 0;
}

/* A ClickHouse table: [db.]name of letters, digits and '_'. */
static bool table_valid(const char *v)
{
	size_t dots = 0;
	for (const char *p = v; *p; p++) {
		if (*p == '.')
			dots++;
		else if (!(*p == '_' || (*p >= '0' && *p <= '9') ||
		           (*p >= 'a' && *p <= 'z') ||
		           (*p >= 'A' && *p <= 'Z')))
			return false;
	}
	return *v != '\0' && *v != '.' && dots <= 1 && v[strlen(v) - 1] != '.';
}

static struct fwd_output_config *output_for(struct load_ctx *c,
                                            const char *name)
{
	struct fwd_config *cfg = c->cfg;
	for (size_t i = 0; i < cfg->noutputs; i++)
		if (strcmp(cfg->outputs[i].name, name) == 0)
			return &cfg->outputs[i];
	size_t n = strlen(name);
	if (n == 0 || n > FWD_NAME_MAX ||
	    strspn(name, "abcdefghijklmnopqrstuvw"
	                 "xyzABCDEFGHIJKLMNOPQRST"
	                 "UVWXYZ0123456789_.-") != n) {
		snprintf(c->err, sizeof c->err,
		         "[output %.80s]: a name is 1 to %d of [A-Za-z0-9_.-]",
		         name, FWD_NAME_MAX);
		return NULL;
	}
	struct fwd_output_config *v =
	    realloc(cfg->outputs, (cfg->noutputs + 1) * sizeof *v);
	if (v == NULL) {
		snprintf(c->err, sizeof c->err, "out of memory");
		return NULL;
	}
	cfg->outputs = v;
	struct fwd_output_config *oc =
	    memset(&v[cfg->noutputs++], 0, sizeof *oc);
	memcpy(oc->name, name, n + 1);
	oc->type = (enum fwd_type) - 1;
	oc->batch_records = 5000;
	oc->batch_bytes = 4u << 20;
	oc->batch_wait_ms = 1000;
	oc->retry_max_ms = 30000;
	oc->timeout_ms = 30000;
	oc->create_table = true;
	oc->facility = 1; /* user */
	return oc;
}

static int output_key(struct load_ctx *c, struct fwd_output_config *oc,
                      const char *key, const char *v)
{
	int64_t n;
	const char *want = NULL;

	if (strcmp(key, "type") == 0) {
		if (strcmp(v, "clickhouse") == 0)
			oc->type = FWD_CLICKHOUSE;
		else if (strcmp(v, "relp") == 0)
			oc->type = FWD_RELP;
		else if (strcmp(v, "syslog-tcp") == 0)
			oc->type = FWD_SYSLOG_TCP;
		else if (strcmp(v, "loki") == 0)
			oc->type = FWD_LOKI;
		else
			want = "clickhouse, relp, syslog-tcp or loki";
	} else if (strcmp(key, "service") == 0) {
		if (!parse_services(oc, v))
			want = "service ids joined by '|' (at most 32)";
	} else if (strcmp(key, "level") == 0) {
		if ((oc->min_level = logbus_level_parse(v)) < 0)
			want = "a level (debug, info, warning, error, "
			       "critical or 0..255)";
	} else if (strcmp(key, "logger") == 0) {
		if (!copy_value(oc->logger, sizeof oc->logger, v))
			want = "a logger prefix";
	} else if (strcmp(key, "stream") == 0) {
		if (!parse_streams(v, &oc->streams))
			want = "log, stdout or stderr, joined by '|'";
	} else if (strcmp(key, "regex") == 0) {
		if (!copy_value(oc->regex, sizeof oc->regex, v))
			want = "a PCRE2 pattern";
	} else if (strcmp(key, "start") == 0) {
		if (strcmp(v, "head") == 0 || strcmp(v, "new") == 0)
			oc->start_new = strcmp(v, "new") == 0;
		else
			want = "head or new";
	} else if (strcmp(key, "batch-size") == 0) {
		if (args_int64(v, 1, 1000000, &n))
			oc->batch_records = (size_t)n;
		else
			want = "a number of records, 1 to 1000000";
	} else if (strcmp(key, "batch-bytes") == 0) {
		if (args_int64(v, 1024, 256 << 20, &n))
			oc->batch_bytes = (size_t)n;
		else
			want = "bytes, 1024 to 268435456";
	} else if (strcmp(key, "batch-wait") == 0) {
		if (!parse_ms(v, 3600, &oc->batch_wait_ms))
			want = "seconds, like 1 or 0.2";
	} else if (strcmp(key, "retry-max") == 0) {
		if (!parse_ms(v, 86400, &oc->retry_max_ms))
			want = "seconds, like 30";
	} else if (strcmp(key, "timeout") == 0) {
		if (!parse_ms(v, 3600, &oc->timeout_ms))
			want = "seconds, like 30";
	} else if (strcmp(key, "url") == 0) {
		if (strncmp(v, "http://", 7) != 0 &&
		    strncmp(v, "https://", 8) != 0)
			want = "an http:// or https:// URL";
		else if (!copy_value(oc->url, sizeof oc->url, v))
			want = "a shorter URL";
	} else if (strcmp(key, "host") == 0) {
		if (!copy_value(oc->host, sizeof oc->host, v))
			want = "a host name or address";
	} else if (strcmp(key, "port") == 0) {
		if (args_int64(v, 1, 65535, &n))
			snprintf(oc->port, sizeof oc->port, "%d", (int)n);
		else
			want = "a port, 1 to 65535";
	} else if (strcmp(key, "table") == 0) {
		if (!table_valid(v) ||
		    !copy_value(oc->table, sizeof oc->table, v))
			want = "a table name, [db.]name of [A-Za-z0-9_]";
	} else if (strcmp(key, "create-table") == 0) {
		if (!parse_bool(v, &oc->create_table))
			want = "yes or no";
	} else if (strcmp(key, "user") == 0) {
		if (!copy_value(oc->user, sizeof oc->user, v))
			want = "a user name";
	} else if (strcmp(key, "password") == 0) {
		if (!copy_value(oc->password, sizeof oc->password, v))
			want = "a password";
	} else if (strcmp(key, "tenant") == 0) {
		if (!copy_value(oc->tenant, sizeof oc->tenant, v))
			want = "a tenant id";
	} else if (strcmp(key, "fields") == 0) {
		if (strcmp(v, "line") == 0 || strcmp(v, "metadata") == 0)
			oc->fields_as_metadata = strcmp(v, "metadata") == 0;
		else
			want = "line or metadata";
	} else if (strcmp(key, "hostname") == 0) {
		if (!copy_value(oc->hostname, sizeof oc->hostname, v) ||
		    strpbrk(v, " \t\"") != NULL)
			want = "a host name without spaces";
	} else if (strcmp(key, "facility") == 0) {
		if ((oc->facility = syslog_facility(v)) < 0)
			want = "a syslog facility (user, daemon, local0 .. "
			       "local7, ...)";
	} else {
		snprintf(c->err, sizeof c->err,
		         "[output %s]: unknown key '%.60s'", oc->name, key);
		return -1;
	}
	if (want != NULL) {
		snprintf(c->err, sizeof c->err,
		         "[output %s] %s: bad value '%.200s': %s", oc->name,
		         key, v, want);
		return -1;
	}
	return 0;
}

static int forward_key(struct load_ctx *c, const char *key, const char *v)
{
	char *dst;
	if (strcmp(key, "run-dir") == 0)
		dst = c->cfg->run_dir;
	else if (strcmp(key, "state-file") == 0)
		dst = c->cfg->state_file;
	else if (strcmp(key, "status-file") == 0)
		dst = c->cfg->status_file;
	else {
		snprintf(c->err, sizeof c->err,
		         "[forward]: unknown key '%.60s'", key);
		return -1;
	}
	if (v[0] != '/' || !copy_value(dst, sizeof c->cfg->run_dir, v)) {
		snprintf(c->err, sizeof c->err,
		         "[forward] %s: bad value '%.200s': an absolute path",
		         key, v);
		return -1;
	}
	return 0;
}

static int on_ini(void *user, const char *section, const char *key,
                  const char *value)
{
	struct load_ctx *c = user;
	if (strcmp(section, "forward") == 0)
		return forward_key(c, key, value) == 0;
	if (strncmp(section, "output ", 7) == 0) {
		struct fwd_output_config *oc = output_for(c, section + 7);
		return oc != NULL && output_key(c, oc, key, value) == 0;
	}
	if (*section == '\0')
		snprintf(c->err, sizeof c->err,
		         "'%.60s' is outside any [section]", key);
	else
		snprintf(c->err, sizeof c->err,
		         "unknown section [%.60s]: [forward] or [output NAME]",
		         section);
	return 0;
}

/* What a section left unsaid, and what it must say. */
static int output_finish(struct fwd_output_config *oc, char *err, size_t errlen)
{
	char host[256] = "localhost";
	switch (oc->type) {
	case FWD_CLICKHOUSE:
		if (oc->url[0] == '\0')
			strcpy(oc->url, "http://127.0.0.1:8123/");
		if (oc->table[0] == '\0')
			strcpy(oc->table, "logbus");
		break;
	case FWD_LOKI:
		if (oc->url[0] == '\0')
			strcpy(oc->url,
			       "http://127.0.0.1:3100/loki/api/v1/push");
		break;
	case FWD_RELP:
	case FWD_SYSLOG_TCP:
		if (oc->host[0] == '\0')
			strcpy(oc->host, "127.0.0.1");
		if (oc->port[0] == '\0')
			strcpy(oc->port, oc->type == FWD_RELP ? "2514" : "514");
		break;
	default:
		snprintf(err, errlen,
		         "[output %s] has no type = (clickhouse, relp, "
		         "syslog-tcp or loki)",
		         oc->name);
		return -1;
	}
	if (oc->hostname[0] == '\0') {
		gethostname(host, sizeof host - 1);
		host[strcspn(host, " \t\"")] = '\0';
		memcpy(oc->hostname, host, sizeof host);
	}
	return 0;
}

int config_load(struct fwd_config *cfg, const char *path, char *err,
                size_t errlen)
{
	struct load_ctx c = {.cfg = cfg};
	memset(cfg, 0, sizeof *cfg);
	snprintf(cfg->path, sizeof cfg->path, "%s", path);
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		snprintf(err, errlen, "cannot read %s (%s)", path,
		         strerror(errno));
		return -1;
	}
	int line = ini_parse_file(f, on_ini, &c);
	fclose(f);
	if (line != 0) {
		snprintf(err, errlen, "%s:%d: %s", path, line,
		         c.err[0] ? c.err : "not a key = value line");
		goto fail;
	}
	if (cfg->noutputs == 0) {
		snprintf(err, errlen, "%s: no [output NAME] section", path);
		goto fail;
	}
	for (size_t i = 0; i < cfg->noutputs; i++) {
		char why[FWD_ERR_MAX];
		if (output_finish(&cfg->outputs[i], why, sizeof why) < 0) {
			snprintf(err, errlen, "%s: %s", path, why);
			goto fail;
		}
	}
	const char *sd = getenv("STATE_DIRECTORY"); /* systemd's */
	if (cfg->state_file[0] == '\0' && sd != NULL && sd[0] == '/')
		snprintf(cfg->state_file, sizeof cfg->state_file,
		         "%.4000s/positions", sd);
	if (cfg->state_file[0] == '\0') {
		snprintf(err, errlen,
		         "%s: [forward] needs state-file = PATH (where each "
		         "output's position is kept)",
		         path);
		goto fail;
	}
	if (cfg->status_file[0] == '\0')
		snprintf(cfg->status_file, sizeof cfg->status_file,
		         "%.4000s.status", cfg->state_file);
	return 0;
fail:
	config_fini(cfg);
	return -1;
}

void config_fini(struct fwd_config *cfg)
{
	for (size_t i = 0; i < cfg->noutputs; i++)
		for (size_t j = 0; j < cfg->outputs[i].nservices; j++)
			free(cfg->outputs[i].services[j]);
	free(cfg->outputs);
	cfg->outputs = NULL;
	cfg->noutputs = 0;
}
