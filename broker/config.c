/*
 * config.c: the settings table, the INI file (inih) and the command line.
 *
 * One row per setting.  The file is read with inih, stopping at the first
 * error so that the message names the line that is wrong; an unknown
 * section or key is an error (a typo must not silently leave a default in
 * place).  Routes are sections of their own, [route NAME], whose keys are
 * those of --route; they are kept as --route text and parsed by routes.c,
 * which owns the parsed form.  [owners] lines become --owner text the
 * same way (owners.c parses and resolves them).  [alert NAME] sections
 * are kept as NAME, key, value triples, each key checked as it is read
 * (alert_rule.c) and the rules as a whole at the end (alerts.c): there
 * is no command-line form of a rule.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "alert_rule.h"
#include "alerts.h"
#include "broker.h"
#include "config.h"
#include "owners.h"
#include "routes.h"
#include "size.h"

#ifndef LOGBUS_SYSCONFDIR
#define LOGBUS_SYSCONFDIR "/etc"
#endif

const char config_default_path[] = LOGBUS_SYSCONFDIR "/logbus/logbusd.conf";

/* inih's line buffer (INI_MAX_LINE, 200 in Debian's build). */
#define INI_LINE_MAX 200

enum ctype {
	CT_PATH,     /* const char *, non-empty */
	CT_NAME,     /* const char *, a user or group name */
	CT_SIZE,     /* uint64_t bytes, "64M" */
	CT_SECONDS,  /* double, fractional seconds */
	CT_DURATION, /* uint64_t seconds, "30d" */
	CT_COUNT,    /* uint64_t */
	CT_COUNT32,  /* uint32_t */
	CT_SIZE32,   /* uint32_t bytes */
	CT_BOOL,     /* bool */
	CT_MODE,     /* int, octal permissions */
	CT_LEVEL,    /* int, LOGBUS_DEBUG.. */
	CT_ROUTE,    /* --route SPEC: appended to cfg->routes */
	CT_OWNER,    /* --owner SERVICE=NAME: appended to cfg->owners */
};

struct setting {
	const char *section, *key; /* NULL section: command line only */
	const char *option;        /* NULL: file only */
	const char *fixed;         /* an option without argument means this */
	enum ctype type;
	size_t off;
	double min, max; /* numeric range, inclusive */
	bool reload;     /* SIGHUP may change it */
	const char *hint;
};

#define OFF(f) offsetof(struct broker_config, f)

static const struct setting settings[] = {
    {"paths", "run-dir", "run-dir", NULL, CT_PATH, OFF(run_dir), 0, 0, false,
     "a directory"},
    {"paths", "log-dir", "log-dir", NULL, CT_PATH, OFF(log_dir), 0, 0, false,
     "a directory"},
    {"journal", "segment-size", "segment-size", NULL, CT_SIZE,
     OFF(segment_bytes), 4096, 1ull << 40, true,
     "a size of at least 4K, like 64M"},
    {"journal", "max-total", "max-total", NULL, CT_SIZE, OFF(max_total_bytes),
     0, (double)UINT64_MAX, true,
     "a size like 4G (0: 10% of the file system, at most 4G)"},
    {"journal", "max-age", "max-age", NULL, CT_DURATION, OFF(max_age_s), 0,
     (double)(UINT64_MAX / 1000000000ull), true,
     "a duration like 3600, 12h or 30d (0: no limit)"},
    {"journal", "fsync-interval", "fsync-interval", NULL, CT_SECONDS,
     OFF(fsync_interval_s), 0.01, 3600, true, "seconds, 0.01 to 3600"},
    {"sockets", "user", "socket-user", NULL, CT_NAME, OFF(socket_user), 0, 0,
     false, "a user name"},
    {"sockets", "ingest-group", "ingest-group", NULL, CT_NAME,
     OFF(ingest_group), 0, 0, false, "a group name"},
    {"sockets", "query-group", "query-group", NULL, CT_NAME, OFF(query_group),
     0, 0, false, "a group name"},
    {"sockets", "live-group", "live-group", NULL, CT_NAME, OFF(live_group), 0,
     0, false, "a group name"},
    {"sockets", "ingest-mode", "ingest-mode", NULL, CT_MODE, OFF(ingest_mode),
     0, 0, false, "an octal mode like 0666"},
    {"sockets", "query-mode", "query-mode", NULL, CT_MODE, OFF(query_mode), 0,
     0, false, "an octal mode like 0666"},
    {"sockets", "live-mode", "live-mode", NULL, CT_MODE, OFF(live_mode), 0, 0,
     false, "an octal mode like 0660"},
    {"access", "reader-group", "reader-group", NULL, CT_NAME, OFF(reader_group),
     0, 0, false, "a group name, or none"},
    {"limits", "rate-interval", "rate-interval", NULL, CT_SECONDS,
     OFF(rate_interval_s), 0.001, 86400, true, "seconds, 0.001 to 86400"},
    {"limits", "rate-burst", "rate-burst", NULL, CT_COUNT, OFF(rate_burst), 0,
     1e12, true, "a number of records (0: no limit)"},
    {"limits", "max-record-size", "max-record-size", NULL, CT_SIZE32,
     OFF(max_record_bytes), 1024, LOGBUS_RECORD_MAX, true,
     "a size from 1K to 256K"},
    {"limits", "max-fields", "max-fields", NULL, CT_COUNT32, OFF(max_fields), 0,
     LOGBUS_FIELDS_MAX, true, "a number from 0 to 64"},
    {"limits", "max-reports-per-uid", "max-reports-per-uid", NULL, CT_COUNT,
     OFF(max_reports_per_uid), 0, 1e9, true,
     "a number of error report files (0: no limit)"},
    {"limits", "max-claims-per-uid", "max-claims-per-uid", NULL, CT_COUNT,
     OFF(max_claims_per_uid), 0, 1e9, true,
     "a number of services (0: no limit)"},
    {"owners", NULL, "owner", NULL, CT_OWNER, OFF(owners), 0, 0, true,
     "SERVICE=USER or SERVICE=@GROUP, SERVICE an id or a prefix like "
     "service_*"},
    {"routes", "defaults", "no-default-routes", "no", CT_BOOL,
     OFF(default_routes), 0, 0, true, "yes or no"},
    {"routes", "max-size", "route-max-size", NULL, CT_SIZE,
     OFF(route_max_bytes), 0, (double)(1ull << 50), true,
     "a size like 10M (0: logbusd never rotates; logrotate does)"},
    {"routes", "backups", "route-backups", NULL, CT_COUNT32, OFF(route_backups),
     0, 100, true, "a number from 0 to 100 (0: logbusd never rotates)"},
    {"route", NULL, "route", NULL, CT_ROUTE, OFF(routes), 0, 0, true,
     "FILE[:key=value,...]"},
    {NULL, "probe-interval", "probe-interval", NULL, CT_SECONDS,
     OFF(probe_interval_s), 0.01, 3600, false, "seconds, 0.01 to 3600"},
    {NULL, "quiet", "quiet", "yes", CT_BOOL, OFF(quiet), 0, 0, false,
     "yes or no"},
};

#define NSETTINGS (sizeof settings / sizeof settings[0])

static void defaults(struct broker_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->segment_bytes = 64ull << 20;
	cfg->fsync_interval_s = 1.0;
	cfg->probe_interval_s = 1.0;
	cfg->ingest_mode = 0666;
	cfg->query_mode = 0666; /* readers see their own records only */
	cfg->live_mode = 0660;  /* group: the reader group */
	cfg->default_routes = true;
	cfg->route_max_bytes = 10ull << 20; /* RotatingFileHandler's habit */
	cfg->route_backups = 5;
	cfg->rate_interval_s = 30;
	cfg->rate_burst = 1000000;
	cfg->max_record_bytes = LOGBUS_RECORD_MAX;
	cfg->max_fields = LOGBUS_FIELDS_MAX;
	cfg->max_reports_per_uid = 256;
	cfg->max_claims_per_uid = 10000;
}

uint64_t config_parse_size(const char *s)
{
	uint64_t v;

	return size_parse(s, &v) ? v : UINT64_MAX;
}

/* "90", "90s", "15m", "12h", "30d", "2w": seconds; UINT64_MAX if bad. */
static uint64_t parse_duration(const char *s)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return UINT64_MAX;
	uint64_t unit = 1;
	if (*end) {
		unit = strcmp(end, "s") == 0   ? 1
		       : strcmp(end, "m") == 0 ? 60
		       : strcmp(end, "h") == 0 ? 3600
		       : strcmp(end, "d") == 0 ? 86400
		       : strcmp(end, "w") == 0 ? 604800
		                               : 0;
		if (unit == 0)
			return UINT64_MAX;
	}
	if (v > (UINT64_MAX - 1) / unit)
		return UINT64_MAX;
	return v * unit;
}

static int parse_bool(const char *s)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return 1;
		if (strcasecmp(s, no[i]) == 0)
			return 0;
	}
	return -1;
}

static char *keep(struct broker_config *cfg, const char *s)
{
	char **v = realloc(cfg->owned, (cfg->nowned + 1) * sizeof *v);
	if (v == NULL)
		return NULL;
	cfg->owned = v;
	if ((v[cfg->nowned] = strdup(s)) == NULL)
		return NULL;
	return v[cfg->nowned++];
}

static int add_route(struct broker_config *cfg, const char *spec, char *err,
                     size_t errlen)
{
	struct route_spec rs;
	if (route_spec_parse(&rs, spec, err, errlen) < 0)
		return -1;
	route_spec_fini(&rs);
	const char **v = realloc(cfg->routes, (cfg->nroutes + 1) * sizeof *v);
	if (v == NULL ||
	    (cfg->routes = v, v[cfg->nroutes] = keep(cfg, spec)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	cfg->nroutes++;
	return 0;
}

static int add_owner(struct broker_config *cfg, const char *spec, char *err,
                     size_t errlen)
{
	if (owners_spec_check(spec, err, errlen) < 0)
		return -1;
	const char **v = realloc(cfg->owners, (cfg->nowners + 1) * sizeof *v);
	if (v == NULL ||
	    (cfg->owners = v, v[cfg->nowners] = keep(cfg, spec)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	cfg->nowners++;
	return 0;
}

/* Parse value into the setting's field of cfg (cfg may be NULL: validate
 * only).  err says why it is wrong, without saying where. */
static int set_value(struct broker_config *cfg, const struct setting *s,
                     const char *value, char *err, size_t errlen)
{
	char *end, *field = cfg ? (char *)cfg + s->off : NULL;
	uint64_t u = 0;
	double d;

	switch (s->type) {
	case CT_PATH:
	case CT_NAME:
		if (*value == '\0' || strlen(value) > 200 ||
		    (s->type == CT_NAME && strpbrk(value, ":/ \t")))
			goto bad;
		if (field && (*(const char **)field = keep(cfg, value)) == NULL)
			goto oom;
		return 0;
	case CT_SIZE:
	case CT_SIZE32:
		u = config_parse_size(value);
		goto unsigned_value;
	case CT_DURATION:
		u = parse_duration(value);
		goto unsigned_value;
	case CT_COUNT:
	case CT_COUNT32:
		errno = 0;
		u = strtoull(value, &end, 10);
		if (errno || end == value || *end || *value == '-')
			goto bad;
		goto unsigned_value;
	case CT_SECONDS:
		d = strtod(value, &end);
		if (end == value || *end || !(d >= s->min && d <= s->max))
			goto bad;
		if (field)
			*(double *)field = d;
		return 0;
	case CT_BOOL: {
		int v = parse_bool(value);
		if (v < 0)
			goto bad;
		if (field)
			*(bool *)field = v;
		return 0;
	}
	case CT_MODE: {
		long m = strtol(value, &end, 8);
		if (*value == '\0' || *end || m < 0 || m > 0777)
			goto bad;
		if (field)
			*(int *)field = (int)m;
		return 0;
	}
	case CT_LEVEL: {
		int l = level_parse(value);
		if (l < 0)
			goto bad;
		if (field)
			*(int *)field = l;
		return 0;
	}
	case CT_ROUTE:
		if (cfg)
			return add_route(cfg, value, err, errlen);
		struct route_spec rs;
		if (route_spec_parse(&rs, value, err, errlen) < 0)
			return -1;
		route_spec_fini(&rs);
		return 0;
	case CT_OWNER:
		if (cfg)
			return add_owner(cfg, value, err, errlen);
		return owners_spec_check(value, err, errlen);
	}
bad:
	snprintf(err, errlen, "bad value '%.200s': %s", value, s->hint);
	return -1;
oom:
	snprintf(err, errlen, "out of memory");
	return -1;
unsigned_value:
	if (u == UINT64_MAX || (double)u < s->min || (double)u > s->max)
		goto bad;
	if (field && (s->type == CT_COUNT32 || s->type == CT_SIZE32))
		*(uint32_t *)field = (uint32_t)u;
	else if (field)
		*(uint64_t *)field = u;
	return 0;
}

/* ---- the file ----------------------------------------------------------- */

/* A [route NAME] section being read: its keys become --route text. */
struct route_section {
	char name[64];
	char file[256];
	char opts[1024];
};

struct file_ctx {
	struct broker_config *cfg;
	char err[512];
	struct route_section *routes;
	size_t nroutes;
};

static int route_key(struct file_ctx *c, const char *name, const char *key,
                     const char *value)
{
	struct route_section *rs = NULL;

	for (size_t i = 0; i < c->nroutes; i++)
		if (strcmp(c->routes[i].name, name) == 0)
			rs = &c->routes[i];
	if (rs == NULL) {
		if (*name == '\0' || strlen(name) >= sizeof rs->name) {
			snprintf(c->err, sizeof c->err,
			         "[route NAME] needs a short name");
			return 0;
		}
		rs = realloc(c->routes, (c->nroutes + 1) * sizeof *rs);
		if (rs == NULL) {
			snprintf(c->err, sizeof c->err, "out of memory");
			return 0;
		}
		c->routes = rs;
		rs = memset(&c->routes[c->nroutes++], 0, sizeof *rs);
		snprintf(rs->name, sizeof rs->name, "%s", name);
	}
	if (strcmp(key, "file") == 0) {
		if (*value == '\0' || strlen(value) >= sizeof rs->file ||
		    strpbrk(value, ":,")) {
			snprintf(c->err, sizeof c->err,
			         "bad route file '%.200s'", value);
			return 0;
		}
		snprintf(rs->file, sizeof rs->file, "%s", value);
		return 1;
	}
	/* Check the one option now, so the error has this line. */
	char probe[1300];
	struct route_spec tmp;
	if (strpbrk(value, ",")) {
		snprintf(c->err, sizeof c->err,
		         "route %s: '%.200s' may not contain ','", key, value);
		return 0;
	}
	snprintf(probe, sizeof probe, "x.log:%s=%s", key, value);
	char why[400];
	if (route_spec_parse(&tmp, probe, why, sizeof why) < 0) {
		snprintf(c->err, sizeof c->err, "[route %s] %s: %s", name, key,
		         why);
		return 0;
	}
	route_spec_fini(&tmp);
	size_t len = strlen(rs->opts);
	if (snprintf(rs->opts + len, sizeof rs->opts - len, "%s%s=%s",
	             len ? "," : "", key,
	             value) >= (int)(sizeof rs->opts - len)) {
		snprintf(c->err, sizeof c->err, "route %s: too many options",
		         rs->name);
		return 0;
	}
	return 1;
}

/* An [owners] line, "SERVICE = NAME": kept as --owner text. */
static int owner_key(struct file_ctx *c, const char *key, const char *value)
{
	char spec[400], why[400];

	if ((size_t)snprintf(spec, sizeof spec, "%s=%s", key, value) >=
	    sizeof spec) {
		snprintf(c->err, sizeof c->err, "[owners] %.64s: too long",
		         key);
		return 0;
	}
	if (add_owner(c->cfg, spec, why, sizeof why) < 0) {
		snprintf(c->err, sizeof c->err, "[owners] %s", why);
		return 0;
	}
	return 1;
}

/* An [alert NAME] line: checked now, so that an error names its line. */
static int alert_key(struct file_ctx *c, const char *name, const char *key,
                     const char *value)
{
	struct broker_config *cfg = c->cfg;
	char why[400];

	if (!alert_name_valid(name)) {
		snprintf(c->err, sizeof c->err,
		         "[alert %.64s]: a rule's name is 1 to %d of "
		         "[A-Za-z0-9_.-], not starting with '.'",
		         name, ALERT_NAME_MAX);
		return 0;
	}
	if (alert_rule_key_check(key, value, why, sizeof why) < 0) {
		snprintf(c->err, sizeof c->err, "[alert %.64s] %s", name, why);
		return 0;
	}
	const char **v = realloc(cfg->alerts, (cfg->nalerts + 3) * sizeof *v);
	if (v == NULL) {
		snprintf(c->err, sizeof c->err, "out of memory");
		return 0;
	}
	cfg->alerts = v;
	if ((v[cfg->nalerts] = keep(cfg, name)) == NULL ||
	    (v[cfg->nalerts + 1] = keep(cfg, key)) == NULL ||
	    (v[cfg->nalerts + 2] = keep(cfg, value)) == NULL) {
		snprintf(c->err, sizeof c->err, "out of memory");
		return 0;
	}
	cfg->nalerts += 3;
	return 1;
}

static int on_ini(void *arg, const char *section, const char *key,
                  const char *value)
{
	struct file_ctx *c = arg;

	if (strncmp(section, "route ", 6) == 0)
		return route_key(c, section + 6, key, value);
	if (strncmp(section, "alert ", 6) == 0)
		return alert_key(c, section + 6, key, value);
	if (strcmp(section, "owners") == 0)
		return owner_key(c, key, value);
	if (*section == '\0') {
		snprintf(c->err, sizeof c->err, "'%s' is outside any [section]",
		         key);
		return 0;
	}
	bool known_section = false;
	for (size_t i = 0; i < NSETTINGS; i++) {
		const struct setting *s = &settings[i];
		if (s->section == NULL || s->key == NULL ||
		    strcmp(s->section, section) != 0)
			continue;
		known_section = true;
		if (strcmp(s->key, key) != 0)
			continue;
		char why[400];
		if (set_value(c->cfg, s, value, why, sizeof why) == 0)
			return 1;
		snprintf(c->err, sizeof c->err, "[%s] %s: %s", section, key,
		         why);
		return 0;
	}
	if (known_section)
		snprintf(c->err, sizeof c->err, "unknown key '%s' in [%s]", key,
		         section);
	else
		snprintf(c->err, sizeof c->err,
		         "unknown section [%s] (key '%s')", section, key);
	return 0;
}

static int load_file(struct broker_config *cfg, const struct config_source *src,
                     char *err, size_t errlen)
{
	struct file_ctx c = {.cfg = cfg};
	FILE *f = fopen(src->path, "r");
	int rc = -1;

	if (f == NULL) {
		if (errno == ENOENT && !src->path_explicit)
			return 0;
		snprintf(err, errlen, "%s: %s", src->path, strerror(errno));
		return -1;
	}
	/* inih reads lines of at most INI_LINE_MAX - 1 characters and takes
	 * the rest of a longer one as the next line: refuse them instead. */
	char buf[INI_LINE_MAX + 2];
	for (int n = 1; fgets(buf, sizeof buf, f); n++) {
		if (strcspn(buf, "\n") >= INI_LINE_MAX) {
			snprintf(err, errlen,
			         "%s:%d: line longer than %d characters",
			         src->path, n, INI_LINE_MAX - 1);
			fclose(f);
			return -1;
		}
		if (!strchr(buf, '\n')) /* the last line, or a long one */
			break;
	}
	rewind(f);
	cfg->file_read = true;
	/* One line, one setting: an indented line is not a continuation, and
	 * the first error stops the parse so its line number is the one. */
	ini_allow_multiline = false;
	ini_stop_on_first_error = true;
	int line = ini_parse_file(f, on_ini, &c);
	fclose(f);
	if (line != 0) {
		if (line < 0)
			snprintf(err, errlen, "%s: %s", src->path,
			         c.err[0] ? c.err : "cannot read");
		else
			snprintf(err, errlen, "%s:%d: %s", src->path, line,
			         c.err[0] ? c.err
			                  : "not a [section] or key = value");
		goto out;
	}
	for (size_t i = 0; i < c.nroutes; i++) {
		struct route_section *rs = &c.routes[i];
		char spec[1400], why[400];
		if (rs->file[0] == '\0') {
			snprintf(err, errlen,
			         "%s: [route %s] has no file =", src->path,
			         rs->name);
			goto out;
		}
		snprintf(spec, sizeof spec, "%s%s%s", rs->file,
		         rs->opts[0] ? ":" : "", rs->opts);
		if (add_route(cfg, spec, why, sizeof why) < 0) {
			snprintf(err, errlen, "%s: [route %s]: %s", src->path,
			         rs->name, why);
			goto out;
		}
	}
	rc = 0;
out:
	free(c.routes);
	return rc;
}

/* ---- building ----------------------------------------------------------- */

int config_build(struct broker_config *cfg, const struct config_source *src,
                 char *err, size_t errlen)
{
	char why[512];

	defaults(cfg);
	cfg->src = src;
	if (src->path && load_file(cfg, src, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < src->noverrides; i++) {
		const struct config_override *ov = &src->overrides[i];
		for (size_t k = 0; k < NSETTINGS; k++) {
			const struct setting *s = &settings[k];
			if (s->option == NULL ||
			    strcmp(s->option, ov->option) != 0)
				continue;
			if (set_value(cfg, s, ov->value, why, sizeof why) < 0) {
				snprintf(err, errlen, "--%s: %s", ov->option,
				         why);
				return -1;
			}
		}
	}
	/* Route files are checked together: none may write another's. */
	struct routes_config rc = config_routes(cfg);
	if (routes_check(&rc, why, sizeof why) < 0) {
		snprintf(err, errlen, "routes: %s", why);
		return -1;
	}
	if (alerts_check(cfg, why, sizeof why) < 0) {
		snprintf(err, errlen, "%s: %s",
		         src->path ? src->path : "alerts", why);
		return -1;
	}
	return 0;
}

struct routes_config config_routes(const struct broker_config *cfg)
{
	return (struct routes_config){.specs = cfg->routes,
	                              .nspecs = cfg->nroutes,
	                              .defaults = cfg->default_routes,
	                              .max_bytes = cfg->route_max_bytes,
	                              .backups = (int)cfg->route_backups};
}

void config_fini(struct broker_config *cfg)
{
	for (size_t i = 0; i < cfg->nowned; i++)
		free(cfg->owned[i]);
	free(cfg->owned);
	free(cfg->routes);
	free(cfg->owners);
	free(cfg->alerts);
	cfg->owned = NULL;
	cfg->routes = NULL;
	cfg->owners = NULL;
	cfg->alerts = NULL;
	cfg->nowned = cfg->nroutes = cfg->nowners = cfg->nalerts = 0;
}

/* ---- the command line --------------------------------------------------- */

size_t config_long_options(struct option *out, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < NSETTINGS && n < max; i++) {
		if (settings[i].option == NULL)
			continue;
		out[n++] = (struct option){
		    settings[i].option,
		    settings[i].fixed ? no_argument : required_argument, NULL,
		    CONFIG_OPTION_BASE + (int)i};
	}
	return n;
}

int config_option(int val, const char *value, struct config_override *ov,
                  char *err, size_t errlen)
{
	const struct setting *s = &settings[val - CONFIG_OPTION_BASE];
	char why[400];

	if (s->fixed)
		value = s->fixed;
	if (set_value(NULL, s, value, why, sizeof why) < 0) {
		if (s->type == CT_ROUTE || s->type == CT_OWNER)
			snprintf(err, errlen, "--%s '%.200s': %s", s->option,
			         value, why);
		else
			snprintf(err, errlen, "--%s: %s", s->option, why);
		return -1;
	}
	*ov = (struct config_override){.option = s->option, .value = value};
	return 0;
}

/* ---- reload ------------------------------------------------------------- */

static size_t field_size(enum ctype t)
{
	switch (t) {
	case CT_SECONDS:
		return sizeof(double);
	case CT_BOOL:
		return sizeof(bool);
	case CT_MODE:
	case CT_LEVEL:
		return sizeof(int);
	case CT_SIZE32:
	case CT_COUNT32:
		return sizeof(uint32_t);
	case CT_PATH:
	case CT_NAME:
	case CT_ROUTE:
	case CT_OWNER:
		return sizeof(const char *);
	default:
		return sizeof(uint64_t);
	}
}

static bool same_value(const struct setting *s, const struct broker_config *a,
                       const struct broker_config *b)
{
	const char *x = (const char *)a + s->off, *y = (const char *)b + s->off;

	switch (s->type) {
	case CT_PATH:
	case CT_NAME: {
		const char *p = *(const char *const *)x,
		           *q = *(const char *const *)y;
		return (p == NULL && q == NULL) ||
		       (p && q && strcmp(p, q) == 0);
	}
	case CT_SIZE:
	case CT_DURATION:
	case CT_COUNT:
		return *(const uint64_t *)x == *(const uint64_t *)y;
	case CT_SIZE32:
	case CT_COUNT32:
		return *(const uint32_t *)x == *(const uint32_t *)y;
	case CT_SECONDS:
		return *(const double *)x == *(const double *)y;
	case CT_BOOL:
		return *(const bool *)x == *(const bool *)y;
	case CT_MODE:
	case CT_LEVEL:
		return *(const int *)x == *(const int *)y;
	case CT_ROUTE:
		return true; /* routes.c compares them */
	case CT_OWNER:
		return true; /* owners.c takes them again */
	}
	return true;
}

int config_apply_reloadable(struct broker_config *cur,
                            const struct broker_config *next, char *note,
                            size_t notelen)
{
	size_t used = 0;
	int kept = 0;

	if (notelen)
		note[0] = '\0';
	for (size_t i = 0; i < NSETTINGS; i++) {
		const struct setting *s = &settings[i];
		if (s->type == CT_ROUTE || s->type == CT_OWNER ||
		    same_value(s, cur, next))
			continue;
		if (s->reload) {
			memcpy((char *)cur + s->off,
			       (const char *)next + s->off,
			       field_size(s->type));
			continue;
		}
		kept++;
		if (used < notelen)
			used += (size_t)snprintf(
			    note + used, notelen - used, "%s%s%s%s",
			    used ? ", " : "", s->section ? s->section : "",
			    s->section ? "." : "--", s->key ? s->key : "");
	}
	return kept;
}
