/*
 * alert_rule.c: an [alert NAME] section parsed into a rule, and the rule
 * matched against a record (alert_rule.h says what the keys mean).
 *
 * The level, logger, message and field parts are shared/filter.c's, the
 * filter every reader uses, built through its public description so that
 * "field.K = V" means what a reader's "K=V" means.  Service patterns are
 * fnmatch(3) globs, which a reader's filter does not have.
 *
 * Invariant: a rule that was made is complete and valid: every check is
 * done here, once, for `logbusd --check-config`, a start and a reload alike.
 */
#include "alert_rule.h"

#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "strbuf.h"

#define PATTERNS_MAX   64
#define FIELDS_MAX     16
#define RETRIES_MAX    20
#define DURATION_MAX_S (30.0 * 86400)

double alert_parse_duration(const char *s)
{
	char *end;
	double unit = 1;

	if (*s == '\0' || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || !isfinite(v))
		return -1;
	if (*end) {
		unit = strcmp(end, "ms") == 0  ? 0.001
		       : strcmp(end, "s") == 0 ? 1
		       : strcmp(end, "m") == 0 ? 60
		       : strcmp(end, "h") == 0 ? 3600
		       : strcmp(end, "d") == 0 ? 86400
		                               : -1;
		if (unit < 0)
			return -1;
	}
	v *= unit;
	return v > DURATION_MAX_S ? -1 : v;
}

bool alert_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > ALERT_NAME_MAX || name[0] == '.')
		return false;
	return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV"
	                    "WXYZ0123456789_.-") == n;
}

void alert_argv_free(char **argv)
{
	for (size_t i = 0; argv && argv[i]; i++)
		free(argv[i]);
	free(argv);
}

int alert_split_command(const char *text, char ***out, char *err, size_t errlen)
{
	char **argv = NULL;
	size_t argc = 0;
	struct strbuf w = {0};
	const char *p = text;

	*out = NULL;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		sb_reset(&w);
		sb_put(&w, "", 0); /* an empty word ('') is still a word */
		while (*p && *p != ' ' && *p != '\t') {
			char q = *p;
			if (q == '\'' || q == '"') {
				const char *close = p + 1;
				for (; *close && *close != q; close++) {
					if (q == '"' && *close == '\\' &&
					    (close[1] == '"' ||
					     close[1] == '\\'))
						close++;
					sb_put(&w, close, 1);
				}
				if (*close != q) {
					snprintf(err, errlen,
					         "unclosed %c in '%.200s'", q,
					         text);
					goto fail;
				}
				p = close + 1;
			} else if (q == '\\' && p[1]) {
				sb_put(&w, p + 1, 1);
				p += 2;
			} else {
				sb_put(&w, p++, 1);
			}
		}
		char **v = realloc(argv, (argc + 2) * sizeof *v);
		if (v == NULL || w.failed)
			goto oom;
		argv = v;
		if ((argv[argc] = strdup(w.p ? w.p : "")) == NULL)
			goto oom;
		argv[++argc] = NULL;
	}
	sb_free(&w);
	if (argc == 0) {
		snprintf(err, errlen, "exec needs a command");
		free(argv);
		return -1;
	}
	*out = argv;
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	sb_free(&w);
	alert_argv_free(argv);
	return -1;
}

/* What the public filter needs from the keys, collected first. */
struct parts {
	const char *level, *logger, *message;
	const char *fields[FIELDS_MAX];
	size_t nfields;
	char fieldbuf[FIELDS_MAX][LOGBUS_KEY_MAX + 256];
};

static int split_patterns(struct alert_rule *r, const char *value, char *err,
                          size_t errlen)
{
	const char *p = value;

	for (;;) {
		size_t n = strcspn(p, "|");
		if (n == 0 || n > LOGBUS_SERVICE_MAX) {
			snprintf(
			    err, errlen,
			    "bad service pattern in '%.200s': "
			    "PATTERN[|PATTERN...], each 1 to %d characters",
			    value, LOGBUS_SERVICE_MAX);
			return -1;
		}
		if (r->npatterns >= PATTERNS_MAX) {
			snprintf(err, errlen, "more than %d service patterns",
			         PATTERNS_MAX);
			return -1;
		}
		char **v = realloc(r->patterns, (r->npatterns + 1) * sizeof *v);
		if (v == NULL || (v[r->npatterns] = strndup(p, n)) == NULL) {
			if (v)
				r->patterns = v;
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		r->patterns = v;
		r->npatterns++;
		if (p[n] == '\0')
			return 0;
		p += n + 1;
	}
}

static int set_seconds(double *out, const char *key, const char *value,
                       double min, char *err, size_t errlen)
{
	double d = alert_parse_duration(value);

	if (d < min) {
		snprintf(err, errlen,
		         "bad %s '%.200s': a duration like 30s, 500ms, 5m, "
		         "2h or 1d%s",
		         key, value, min > 0 ? ", more than 0" : "");
		return -1;
	}
	*out = d;
	return 0;
}

/* One key into r (and p, for the filter). */
static int rule_key(struct alert_rule *r, struct parts *p, const char *key,
                    const char *value, char *err, size_t errlen)
{
	if (strcmp(key, "service") == 0)
		return split_patterns(r, value, err, errlen);
	if (strcmp(key, "level") == 0) {
		if (level_parse(value) < 0) {
			snprintf(
			    err, errlen,
			    "unknown level '%.200s': debug, info, warning, "
			    "error, critical or 0..255",
			    value);
			return -1;
		}
		p->level = value;
		return 0;
	}
	if (strcmp(key, "logger") == 0) {
		if (!logger_valid(value, strlen(value))) {
			snprintf(err, errlen, "bad logger prefix '%.200s'",
			         value);
			return -1;
		}
		p->logger = value;
		return 0;
	}
	if (strcmp(key, "message") == 0) {
		p->message = value;
		return 0;
	}
	if (strncmp(key, "field.", 6) == 0) {
		const char *k = key + 6;
		if (!field_key_valid(k, strlen(k))) {
			snprintf(err, errlen,
			         "bad field key '%.64s': [A-Za-z0-9_.-], 1 to "
			         "%d characters",
			         k, LOGBUS_KEY_MAX);
			return -1;
		}
		if (p->nfields >= FIELDS_MAX) {
			snprintf(err, errlen, "more than %d field matches",
			         FIELDS_MAX);
			return -1;
		}
		snprintf(p->fieldbuf[p->nfields], sizeof p->fieldbuf[0],
		         "%s=%.250s", k, value);
		p->fields[p->nfields] = p->fieldbuf[p->nfields];
		p->nfields++;
		return 0;
	}
	if (strcmp(key, "exits") == 0) {
		if (strcmp(value, "yes") == 0 || strcmp(value, "no") == 0) {
			r->exits_only = strcmp(value, "yes") == 0;
			return 0;
		}
		snprintf(err, errlen, "exits is yes or no, not '%.200s'",
		         value);
		return -1;
	}
	if (strcmp(key, "exec") == 0 || strcmp(key, "webhook") == 0) {
		if (r->kind != ALERT_JOURNAL_ONLY) {
			snprintf(err, errlen,
			         "one action per rule: exec or webhook (make "
			         "two rules for both)");
			return -1;
		}
		if (key[0] == 'e') {
			r->kind = ALERT_EXEC;
			return alert_split_command(value, &r->argv, err,
			                           errlen);
		}
#ifndef LOGBUS_HAVE_CURL
		snprintf(err, errlen,
		         "webhook needs libcurl, and this logbusd was built "
		         "without it: install libcurl4-openssl-dev and build "
		         "again, or use exec = curl ...");
		return -1;
#else
		if (strncmp(value, "http://", 7) != 0 &&
		    strncmp(value, "https://", 8) != 0) {
			snprintf(err, errlen,
			         "webhook '%.200s' is not an http:// or "
			         "https:// URL",
			         value);
			return -1;
		}
		r->kind = ALERT_WEBHOOK;
		if ((r->url = strdup(value)) == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		return 0;
#endif
	}
	if (strcmp(key, "interval") == 0)
		return set_seconds(&r->interval_s, key, value, 0, err, errlen);
	if (strcmp(key, "resolve-after") == 0)
		return set_seconds(&r->resolve_after_s, key, value, 0, err,
		                   errlen);
	if (strcmp(key, "timeout") == 0)
		return set_seconds(&r->timeout_s, key, value, 0.001, err,
		                   errlen);
	if (strcmp(key, "retries") == 0) {
		char *end;
		unsigned long n = strtoul(value, &end, 10);
		if (*value == '\0' || *end || *value == '-' ||
		    n > RETRIES_MAX) {
			snprintf(err, errlen,
			         "retries is a number from 0 to %d, not "
			         "'%.200s'",
			         RETRIES_MAX, value);
			return -1;
		}
		r->retries = (unsigned)n;
		return 0;
	}
	snprintf(err, errlen,
	         "unknown key '%.64s' (service, level, logger, message, "
	         "field.KEY, exits, exec, webhook, interval, resolve-after, "
	         "timeout, retries)",
	         key);
	return -1;
}

struct alert_rule *alert_rule_new(const char *name, const char *const *kv,
                                  size_t npairs, char *err, size_t errlen)
{
	struct alert_rule *r = calloc(1, sizeof *r);
	struct parts *p = calloc(1, sizeof *p);
	struct strbuf text = {0};
	char why[512];

	if (r == NULL || p == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (!alert_name_valid(name)) {
		snprintf(err, errlen,
		         "bad rule name '%.64s': [A-Za-z0-9_.-], 1 to %d "
		         "characters, not starting with '.'",
		         name, ALERT_NAME_MAX);
		goto fail;
	}
	snprintf(r->name, sizeof r->name, "%s", name);
	r->interval_s = 300;
	r->timeout_s = 30;
	r->retries = 3;
	for (size_t i = 0; i < npairs; i++) {
		const char *k = kv[2 * i], *v = kv[2 * i + 1];
		if (rule_key(r, p, k, v, why, sizeof why) < 0) {
			snprintf(err, errlen, "%s: %s", k, why);
			goto fail;
		}
		sb_printf(&text, "%s%s = %s", i ? "; " : "", k, v);
	}
	logbus_filter pub = {
	    .min_level = p->level ? level_parse(p->level) : 0,
	    .logger_prefix = p->logger,
	    .message_regex = p->message,
	    .fields = p->fields,
	    .nfields = p->nfields,
	};
	if (filter_from_public(&r->flt, &pub, why, sizeof why) != 0) {
		snprintf(err, errlen, "%s", why);
		goto fail;
	}
	if (text.failed) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	r->text = text.p ? text.p : strdup("");
	free(p);
	return r;
fail:
	sb_free(&text);
	free(p);
	alert_rule_free(r);
	return NULL;
}

int alert_rule_key_check(const char *key, const char *value, char *err,
                         size_t errlen)
{
	const char *kv[2] = {key, value};
	struct alert_rule *r = alert_rule_new("check", kv, 1, err, errlen);

	if (r == NULL)
		return -1;
	alert_rule_free(r);
	return 0;
}

void alert_rule_free(struct alert_rule *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->npatterns; i++)
		free(r->patterns[i]);
	free(r->patterns);
	filter_fini(&r->flt);
	alert_argv_free(r->argv);
	free(r->url);
	free(r->text);
	free(r);
}

bool alert_rule_same(const struct alert_rule *a, const struct alert_rule *b)
{
	return strcmp(a->name, b->name) == 0 && strcmp(a->text, b->text) == 0;
}

static bool service_wanted(const struct alert_rule *r, struct lb_str svc)
{
	char id[LOGBUS_SERVICE_MAX + 1];

	if (r->npatterns == 0)
		return true;
	if (svc.len > LOGBUS_SERVICE_MAX)
		return false;
	memcpy(id, svc.p, svc.len);
	id[svc.len] = '\0';
	for (size_t i = 0; i < r->npatterns; i++)
		if (fnmatch(r->patterns[i], id, 0) == 0)
			return true;
	return false;
}

enum filter_result alert_rule_match(const struct alert_rule *r,
                                    const struct record_view *v,
                                    const struct frame_record *fr)
{
	if (r->exits_only && v->exit == NULL)
		return FILTER_NO;
	if (!service_wanted(r, v->service))
		return FILTER_NO;
	return filter_test_frame(&r->flt, v, fr);
}
