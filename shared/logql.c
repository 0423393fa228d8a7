/*
 * logql.c: LogQL's selector and line filters (logql.h): a hand-written
 * recursive-descent parser over the query text, matchers compiled once,
 * and the split between what logbusd filters and what the client tests.
 *
 * Level and stream matchers, whatever their operator, become sets (256
 * levels, 3 streams) computed at parse time by testing every possible
 * value, so that level=~"error|critical" reaches the broker as the bounds
 * 40..50 and is tested here only when the set has holes.  A service
 * equality, or a regex that is only a list of service ids (api|worker,
 * Grafana's multi-value variables), becomes the broker's service list;
 * the first positive line filter becomes its message regex (a literal |=
 * escaped into one).  Everything else is tested by logql_test.
 */
#include "logql.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"
#include "regexp.h"
#include "strbuf.h"
#include "utf8.h"

enum label { L_SERVICE, L_LEVEL, L_LOGGER, L_STREAM };
enum op { OP_EQ, OP_NE, OP_RE, OP_NRE };

const char *const logql_labels[LOGQL_NLABELS] = {"service", "level", "logger",
                                                 "stream"};

struct matcher {
	enum label label;
	enum op op;
	char *value; /* owned, NUL-terminated (no NUL inside) */
	size_t len;
	struct regexp re; /* OP_RE, OP_NRE */
	bool pushed;
};

struct line_filter {
	bool negate, regex; /* != !~ ; |~ !~ */
	char *value;
	size_t len;
	struct regexp re;
	bool pushed;
};

#define LOGQL_MATCHERS_MAX 64
#define LOGQL_LINES_MAX    64
#define LOGQL_SERVICES_MAX 1024

struct logql {
	struct matcher m[LOGQL_MATCHERS_MAX];
	size_t nm;
	struct line_filter lf[LOGQL_LINES_MAX];
	size_t nlf;
	bool levels[256]; /* which levels pass the level matchers */
	unsigned streams; /* 1 << stream of those that pass */
	bool levels_pushed, streams_pushed;
	/* what logql_push hands out */
	const char **services;
	size_t nservices;
	char *service_text; /* the ids of services, NUL-separated */
	char *line_regex;   /* a literal |= escaped */
};

/* ---- errors ------------------------------------------------------------- */

struct parser {
	const char *text, *p;
	struct logql *q;
	struct logql_error *err;
};

__attribute__((format(printf, 3, 4))) static int
fail_at(struct parser *ps, const char *at, const char *fmt, ...)
{
	va_list ap;
	int line = 1, col = 1;

	for (const char *c = ps->text; c < at; c++) {
		if (*c == '\n') {
			line++;
			col = 1;
		} else if (((unsigned char)*c & 0xc0) != 0x80) {
			col++; /* a character, not a byte */
		}
	}
	ps->err->line = line;
	ps->err->col = col;
	va_start(ap, fmt);
	vsnprintf(ps->err->msg, sizeof ps->err->msg, fmt, ap);
	va_end(ap);
	return -1;
}

static int out_of_memory(struct parser *ps)
{
	ps->err->line = ps->err->col = 0;
	snprintf(ps->err->msg, sizeof ps->err->msg, "out of memory");
	return -1;
}

/* ---- lexing ------------------------------------------------------------- */

static bool is_ident_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_ident(char c)
{
	return is_ident_start(c) || (c >= '0' && c <= '9');
}

/* Blanks and # comments. */
static void skip_space(struct parser *ps)
{
	for (;;) {
		char c = *ps->p;
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			ps->p++;
		} else if (c == '#') {
			while (*ps->p != '\0' && *ps->p != '\n')
				ps->p++;
		} else {
			return;
		}
	}
}

/* An identifier's length at p (0: none). */
static size_t ident_len(const char *p)
{
	size_t n = 0;

	if (!is_ident_start(*p))
		return 0;
	while (is_ident(p[n]))
		n++;
	return n;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void put_utf8(struct strbuf *b, uint32_t cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	sb_put(b, u, n);
}

/* One escape of a "..." string at p (after the backslash), as Go reads
 * it, into b; returns the bytes it took, or -1 after saying why. */
static int read_escape(struct parser *ps, const char *p, struct strbuf *b)
{
	static const char simple[] = "a\ab\bf\fn\nr\rt\tv\v\\\\\"\"";
	int digits = 0;
	uint32_t v = 0;

	for (size_t i = 0; simple[i] != '\0'; i += 2)
		if (*p == simple[i]) {
			sb_put(b, &simple[i + 1], 1);
			return 1;
		}
	if (*p >= '0' && *p <= '7') {
		for (int i = 0; i < 3; i++) {
			if (p[i] < '0' || p[i] > '7')
				return fail_at(
				    ps, p - 1,
				    "an octal escape is three digits "
				    "0-7, like \\101");
			v = v * 8 + (uint32_t)(p[i] - '0');
		}
		if (v > 255)
			return fail_at(ps, p - 1,
			               "octal escape \\%.3s is over 255", p);
		char c = (char)v;
		sb_put(b, &c, 1);
		return 3;
	}
	digits = *p == 'x' ? 2 : *p == 'u' ? 4 : *p == 'U' ? 8 : 0;
	if (digits == 0)
		return fail_at(
		    ps, p - 1,
		    "unknown escape \\%.*s: strings take Go's escapes "
		    "(\\n \\t \\\\ \\\" \\xHH \\uHHHH), or write a "
		    "raw string in backticks, like `\\d+`",
		    utf8_char_len(p, strlen(p)) > 0
		        ? utf8_char_len(p, strlen(p))
		        : 1,
		    p);
	for (int i = 1; i <= digits; i++) {
		int h = hex_value(p[i]);
		if (h < 0)
			return fail_at(ps, p - 1,
			               "\\%c takes %d hexadecimal digits", *p,
			               digits);
		v = v * 16 + (uint32_t)h;
	}
	if (*p == 'x') {
		char c = (char)v;
		sb_put(b, &c, 1);
	} else if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) {
		return fail_at(ps, p - 1, "\\%.*s is not a Unicode character",
		               digits + 1, p);
	} else {
		put_utf8(b, v);
	}
	return digits + 1;
}

/* A string at ps->p ("..." or `...`) into *out, malloc'd; *at where it
 * starts.  Returns 0 or -1. */
static int read_string(struct parser *ps, char **out, size_t *len,
                       const char **at)
{
	struct strbuf b = {0};
	char quote = *ps->p;
	const char *p = ps->p + 1;

	*at = ps->p;
	if (quote != '"' && quote != '`')
		return fail_at(ps, ps->p,
		               "expected a string in double quotes or "
		               "backticks, like \"api\"");
	for (;;) {
		if (*p == '\0') {
			sb_free(&b);
			return fail_at(ps, *at,
			               "this string is not closed: end "
			               "it with %c",
			               quote);
		}
		if (*p == quote)
			break;
		if (quote == '"' && *p == '\n') {
			sb_free(&b);
			return fail_at(ps, p,
			               "a \"...\" string ends on its line: "
			               "write \\n, or use a `raw` string");
		}
		if (quote == '"' && *p == '\\') {
			int n = read_escape(ps, p + 1, &b);
			if (n < 0) {
				sb_free(&b);
				return -1;
			}
			p += 1 + n;
			continue;
		}
		if (quote == '`' && *p == '\r') { /* Go drops them */
			p++;
			continue;
		}
		sb_put(&b, p, 1);
		p++;
	}
	ps->p = p + 1;
	sb_put(&b, "", 0); /* a buffer even when empty */
	if (b.failed) {
		sb_free(&b);
		return out_of_memory(ps);
	}
	if (memchr(b.p, '\0', b.len) != NULL || !utf8_valid(b.p, b.len)) {
		sb_free(&b);
		return fail_at(ps, *at,
		               "this string holds a NUL or bytes that are not "
		               "UTF-8, which no record's text can hold");
	}
	*out = b.p;
	*len = b.len;
	return 0;
}

/* ---- matchers ----------------------------------------------------------- */

/* A level label value, or "level25" (ours), as a level; -1 if none. */
static int level_value(const char *s)
{
	if (strncmp(s, "level", 5) == 0 && s[5] >= '0' && s[5] <= '9')
		s += 5;
	return level_parse(s);
}

const char *logql_level_label(int level, char *buf, size_t len)
{
	char name[24];
	const char *n = level_name(level, name, sizeof name);
	size_t i;

	for (i = 0; n[i] != '\0' && i + 1 < len; i++)
		buf[i] = (char)(n[i] >= 'A' && n[i] <= 'Z' ? n[i] + 32 : n[i]);
	if (len > 0)
		buf[i] = '\0';
	return buf;
}

const char *logql_stream_label(int stream)
{
	return stream_name(stream);
}

static bool value_equals(const struct matcher *m, const char *s, size_t len)
{
	return m->len == len && memcmp(m->value, s, len) == 0;
}

/* Whether a label's value passes m: FILTER_YES, FILTER_NO or LIMIT. */
static enum filter_result matcher_test(const struct matcher *m, const char *s,
                                       size_t len)
{
	enum regexp_result r;

	switch (m->op) {
	case OP_EQ:
		return value_equals(m, s, len) ? FILTER_YES : FILTER_NO;
	case OP_NE:
		return value_equals(m, s, len) ? FILTER_NO : FILTER_YES;
	default:
		r = regexp_test(&m->re, s, len);
		if (r == REGEXP_LIMIT)
			return FILTER_LIMIT;
		return (r == REGEXP_YES) == (m->op == OP_RE) ? FILTER_YES
		                                             : FILTER_NO;
	}
}

/* level and stream: narrow the query's sets by what m lets through. */
static int narrow_sets(struct parser *ps, struct matcher *m, const char *at)
{
	char buf[24];

	if (m->label == L_LEVEL) {
		int want = -1;
		if (m->op == OP_EQ || m->op == OP_NE) {
			want = level_value(m->value);
			if (want < 0)
				return fail_at(
				    ps, at,
				    "unknown level \"%s\": use debug, "
				    "info, warning, error, critical or "
				    "a number 0..255",
				    m->value);
		}
		for (int l = 0; l < 256; l++) {
			bool pass;
			if (want >= 0) {
				pass = (l == want) == (m->op == OP_EQ);
			} else {
				const char *v =
				    logql_level_label(l, buf, sizeof buf);
				pass =
				    matcher_test(m, v, strlen(v)) == FILTER_YES;
			}
			ps->q->levels[l] = ps->q->levels[l] && pass;
		}
		return 0;
	}
	unsigned mask = 0;
	if ((m->op == OP_EQ || m->op == OP_NE) &&
	    strcmp(m->value, "log") != 0 && strcmp(m->value, "stdout") != 0 &&
	    strcmp(m->value, "stderr") != 0)
		return fail_at(
		    ps, at, "unknown stream \"%s\": use log, stdout or stderr",
		    m->value);
	for (int s = 0; s < 3; s++) {
		const char *v = stream_name(s);
		if (matcher_test(m, v, strlen(v)) == FILTER_YES)
			mask |= 1u << s;
	}
	ps->q->streams &= mask;
	return 0;
}

static int parse_label(struct parser *ps, enum label *out)
{
	const char *at = ps->p;
	size_t n = ident_len(at);

	if (n == 0)
		return fail_at(ps, at,
		               "expected a label name: service, level, logger "
		               "or stream");
	for (int i = 0; i < LOGQL_NLABELS; i++)
		if (strlen(logql_labels[i]) == n &&
		    memcmp(logql_labels[i], at, n) == 0) {
			*out = (enum label)i;
			ps->p += n;
			return 0;
		}
	return fail_at(ps, at,
	               "unknown label \"%.*s\": logbus's labels are service, "
	               "level, logger and stream",
	               (int)(n > 64 ? 64 : n), at);
}

static int parse_matcher(struct parser *ps)
{
	struct logql *q = ps->q;
	struct matcher *m;
	enum label label = L_SERVICE;
	const char *at, *label_at = ps->p;
	char err[200];

	if (parse_label(ps, &label) < 0)
		return -1;
	skip_space(ps);
	at = ps->p;
	enum op op;
	if (at[0] == '=' && at[1] == '~')
		op = OP_RE;
	else if (at[0] == '!' && at[1] == '~')
		op = OP_NRE;
	else if (at[0] == '!' && at[1] == '=')
		op = OP_NE;
	else if (at[0] == '=')
		op = OP_EQ;
	else
		return fail_at(ps, at, "expected =, !=, =~ or !~ after %s",
		               logql_labels[label]);
	ps->p += op == OP_EQ ? 1 : 2;
	skip_space(ps);
	if (q->nm == LOGQL_MATCHERS_MAX)
		return fail_at(ps, label_at, "more than %d label matchers",
		               LOGQL_MATCHERS_MAX);
	m = &q->m[q->nm];
	memset(m, 0, sizeof *m);
	m->label = label;
	m->op = op;
	if (read_string(ps, &m->value, &m->len, &at) < 0)
		return -1;
	q->nm++; /* owned by q from here: logql_free frees it */
	if ((op == OP_RE || op == OP_NRE) &&
	    regexp_compile(&m->re, m->value, m->len, true, err, sizeof err) < 0)
		return fail_at(ps, at, "%s", err);
	if (label == L_SERVICE && op == OP_EQ &&
	    !service_id_valid(m->value, m->len))
		return fail_at(ps, at,
		               "\"%s\" is not a service id: 1 to %d of A-Z a-z "
		               "0-9 . _ -, not starting with '.'",
		               m->value, LOGBUS_SERVICE_MAX);
	if (label == L_LEVEL || label == L_STREAM)
		return narrow_sets(ps, m, at);
	return 0;
}

static int parse_selector(struct parser *ps)
{
	ps->p++; /* { */
	skip_space(ps);
	if (*ps->p == '}')
		return fail_at(ps, ps->p,
		               "a stream selector needs at least one matcher, "
		               "like {service=\"api\"}");
	for (;;) {
		if (parse_matcher(ps) < 0)
			return -1;
		skip_space(ps);
		if (*ps->p == '}') {
			ps->p++;
			return 0;
		}
		if (*ps->p != ',')
			return fail_at(ps, ps->p,
			               "expected , or } after a matcher");
		ps->p++;
		skip_space(ps);
	}
}

/* ---- line filters and what LogQL has beyond them ------------------------ */

static const char *const stages[] = {
    "json",         "logfmt", "regexp", "pattern",    "unpack", "line_format",
    "label_format", "drop",   "keep",   "decolorize", "unwrap", NULL,
};

/* A "|" not followed by = or ~: a parser stage or a label filter. */
static int refuse_stage(struct parser *ps)
{
	const char *at = ps->p;
	const char *w = at + 1;

	while (*w == ' ' || *w == '\t')
		w++;
	size_t n = ident_len(w);
	for (size_t i = 0; n > 0 && stages[i] != NULL; i++)
		if (strlen(stages[i]) == n && memcmp(stages[i], w, n) == 0)
			return fail_at(
			    ps, at,
			    "the | %s stage is not supported: logbus's "
			    "LogQL has a stream selector and line "
			    "filters (|=, !=, |~, !~)",
			    stages[i]);
	if (n > 0)
		return fail_at(ps, at,
		               "label filters after the selector (| %.*s ...) "
		               "are not supported: put the matcher in the "
		               "braces, like {level=\"error\"}",
		               (int)(n > 32 ? 32 : n), w);
	return fail_at(ps, at, "expected a line filter: |=, !=, |~ or !~");
}

static int parse_line_filter(struct parser *ps)
{
	struct logql *q = ps->q;
	const char *at = ps->p, *str_at;
	char err[200];
	bool negate = at[0] == '!', regex = at[1] == '~';

	ps->p += 2;
	skip_space(ps);
	if (ident_len(ps->p) > 0)
		return fail_at(
		    ps, ps->p,
		    "line filter functions like %.*s(...) are not "
		    "supported: give a string",
		    (int)(ident_len(ps->p) > 32 ? 32 : ident_len(ps->p)),
		    ps->p);
	if (q->nlf == LOGQL_LINES_MAX)
		return fail_at(ps, at, "more than %d line filters",
		               LOGQL_LINES_MAX);
	struct line_filter *lf = &q->lf[q->nlf];
	memset(lf, 0, sizeof *lf);
	lf->negate = negate;
	lf->regex = regex;
	if (read_string(ps, &lf->value, &lf->len, &str_at) < 0)
		return -1;
	q->nlf++;
	if (regex && regexp_compile(&lf->re, lf->value, lf->len, false, err,
	                            sizeof err) < 0)
		return fail_at(ps, str_at, "%s", err);
	skip_space(ps);
	if (strncmp(ps->p, "or", 2) == 0 && !is_ident(ps->p[2]))
		return fail_at(ps, ps->p,
		               "\"or\" between line filters is not supported: "
		               "use one regex, like |~ \"a|b\"");
	return 0;
}

static int parse_pipeline(struct parser *ps)
{
	for (;;) {
		skip_space(ps);
		const char *p = ps->p;
		if (*p == '\0')
			return 0;
		if ((p[0] == '|' || p[0] == '!') &&
		    (p[1] == '=' || p[1] == '~')) {
			if (parse_line_filter(ps) < 0)
				return -1;
			continue;
		}
		if ((p[0] == '|' || p[0] == '!') && p[1] == '>')
			return fail_at(
			    ps, p,
			    "pattern line filters (|> and !>) are not "
			    "supported: use |~ with a regex");
		if (p[0] == '|')
			return refuse_stage(ps);
		if (p[0] == '[')
			return fail_at(ps, p,
			               "a range like [5m] belongs to metric "
			               "queries, which are not supported");
		return fail_at(ps, p,
		               "expected a line filter (|=, !=, |~ or !~) or "
		               "the end of the query");
	}
}

int logql_parse(const char *text, struct logql **out, struct logql_error *err)
{
	struct parser ps = {.text = text, .p = text, .err = err};
	struct logql *q = calloc(1, sizeof *q);

	*out = NULL;
	memset(err, 0, sizeof *err);
	if (q == NULL)
		return out_of_memory(&ps);
	ps.q = q;
	for (int l = 0; l < 256; l++)
		q->levels[l] = true;
	q->streams = 7;
	skip_space(&ps);
	size_t n = ident_len(ps.p);
	int rc;
	if (*ps.p == '{') {
		rc = parse_selector(&ps);
		if (rc == 0)
			rc = parse_pipeline(&ps);
	} else if (n > 0) {
		rc = fail_at(&ps, ps.p,
		             "metric queries (%.*s ...) are not supported: "
		             "logbus's LogQL is a stream selector and line "
		             "filters, like {service=\"api\"} |= \"error\"",
		             (int)(n > 32 ? 32 : n), ps.p);
	} else if (*ps.p == '\0') {
		rc = fail_at(&ps, ps.p,
		             "the query is empty: give a stream selector, like "
		             "{service=\"api\"}");
	} else {
		rc = fail_at(&ps, ps.p,
		             "a query starts with a stream selector in braces, "
		             "like {service=\"api\"}");
	}
	if (rc < 0) {
		logql_free(q);
		return -1;
	}
	*out = q;
	return 0;
}

void logql_free(struct logql *q)
{
	if (q == NULL)
		return;
	for (size_t i = 0; i < q->nm; i++) {
		free(q->m[i].value);
		regexp_fini(&q->m[i].re);
	}
	for (size_t i = 0; i < q->nlf; i++) {
		free(q->lf[i].value);
		regexp_fini(&q->lf[i].re);
	}
	free(q->services);
	free(q->service_text);
	free(q->line_regex);
	free(q);
}

/* ---- the broker's share ------------------------------------------------- */

bool logql_empty(const struct logql *q)
{
	if (q->streams == 0)
		return true;
	for (int l = 0; l < 256; l++)
		if (q->levels[l])
			return false;
	return true;
}

/* A regex that is only service ids between | (\. for a dot): the ids,
 * NUL-separated, into q->service_text and q->services. */
static bool push_service_list(struct logql *q, const struct matcher *m)
{
	size_t n = 1;
	char *t, *start;

	for (size_t i = 0; i < m->len; i++)
		n += m->value[i] == '|';
	if (n > LOGQL_SERVICES_MAX || (t = malloc(m->len + 1)) == NULL)
		return false;
	if ((q->services = calloc(n, sizeof *q->services)) == NULL) {
		free(t);
		return false;
	}
	q->service_text = t;
	start = t;
	for (size_t i = 0; i <= m->len; i++) {
		char c = m->value[i];
		if (c == '|' || c == '\0') {
			*t = '\0';
			if (!service_id_valid(start, (size_t)(t - start)))
				goto no;
			q->services[q->nservices++] = start;
			start = ++t;
		} else if (c == '\\' && i + 1 < m->len &&
		           (m->value[i + 1] == '.' || m->value[i + 1] == '-')) {
			*t++ = m->value[++i];
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		           (c >= '0' && c <= '9') || c == '_' || c == '-') {
			*t++ = c;
		} else {
			goto no;
		}
	}
	return true;
no:
	free(q->services);
	free(q->service_text);
	q->services = NULL;
	q->service_text = NULL;
	q->nservices = 0;
	return false;
}

static void push_services(struct logql *q, logbus_filter *f)
{
	for (size_t i = 0; i < q->nm; i++) {
		struct matcher *m = &q->m[i];
		if (m->label != L_SERVICE)
			continue;
		if (m->op == OP_EQ) {
			if ((q->services = calloc(1, sizeof *q->services)) ==
			    NULL)
				return;
			q->services[0] = m->value;
			q->nservices = 1;
		} else if (m->op != OP_RE || !push_service_list(q, m)) {
			continue;
		}
		m->pushed = true;
		f->services = q->services;
		f->nservices = q->nservices;
		return;
	}
}

static void push_levels(struct logql *q, logbus_filter *f)
{
	int lo = 0, hi = 255;
	bool holes = false;

	while (lo < 256 && !q->levels[lo])
		lo++;
	if (lo == 256)
		return; /* nothing passes: logql_empty */
	while (!q->levels[hi])
		hi--;
	for (int l = lo; l <= hi; l++)
		holes = holes || !q->levels[l];
	f->min_level = lo;
	f->max_level = hi == 255 ? 0 : hi; /* 0: no upper bound */
	q->levels_pushed = !holes && hi > 0;
}

/* The first positive line filter as the broker's message regex. */
static void push_line(struct logql *q, logbus_filter *f)
{
	struct line_filter *lit = NULL;

	for (size_t i = 0; i < q->nlf; i++) {
		struct line_filter *lf = &q->lf[i];
		if (lf->negate)
			continue;
		if (lf->regex) {
			f->message_regex = lf->value;
			lf->pushed = true;
			return;
		}
		if (lit == NULL && lf->len > 0)
			lit = lf;
	}
	if (lit == NULL || lit->len * 2 > REGEXP_MAX)
		return;
	/* A backslash before any other ASCII punctuation or blank makes it
	 * literal in PCRE2; letters, digits and UTF-8 bytes stand as they
	 * are. */
	char *r = malloc(lit->len * 2 + 1), *w = r;
	if (r == NULL)
		return;
	for (size_t i = 0; i < lit->len; i++) {
		unsigned char c = (unsigned char)lit->value[i];
		if (c < 0x80 &&
		    !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9')))
			*w++ = '\\';
		*w++ = (char)c;
	}
	*w = '\0';
	q->line_regex = r;
	f->message_regex = r;
	lit->pushed = true;
}

void logql_push(struct logql *q, logbus_filter *f)
{
	push_services(q, f);
	push_levels(q, f);
	if (q->streams != 0 && q->streams != 7)
		f->streams = q->streams;
	q->streams_pushed = q->streams != 0;
	/* A prefix is a superset of equality: tested here too. */
	for (size_t i = 0; i < q->nm; i++)
		if (q->m[i].label == L_LOGGER && q->m[i].op == OP_EQ &&
		    q->m[i].len > 0) {
			f->logger_prefix = q->m[i].value;
			break;
		}
	push_line(q, f);
}

bool logql_pushed_all(const struct logql *q)
{
	if (!q->levels_pushed || !q->streams_pushed)
		return false;
	for (size_t i = 0; i < q->nm; i++)
		if (!q->m[i].pushed && q->m[i].label != L_LEVEL &&
		    q->m[i].label != L_STREAM)
			return false;
	for (size_t i = 0; i < q->nlf; i++)
		if (!q->lf[i].pushed)
			return false;
	return true;
}

/* ---- the client's share ------------------------------------------------- */

static enum filter_result line_test(const struct line_filter *lf,
                                    const char *msg, size_t len)
{
	bool hit;

	if (lf->regex) {
		enum regexp_result r = regexp_test(&lf->re, msg, len);
		if (r == REGEXP_LIMIT)
			return FILTER_LIMIT;
		hit = r == REGEXP_YES;
	} else {
		hit = lf->len == 0 || memmem(msg, len, lf->value, lf->len);
	}
	return hit != lf->negate ? FILTER_YES : FILTER_NO;
}

enum filter_result logql_test(const struct logql *q, const logbus_record *r)
{
	enum filter_result res;
	const char *v;

	if (!q->levels_pushed &&
	    (r->level < 0 || r->level > 255 || !q->levels[r->level]))
		return FILTER_NO;
	if (!q->streams_pushed &&
	    (r->stream > 2 || !(q->streams & (1u << r->stream))))
		return FILTER_NO;
	for (size_t i = 0; i < q->nm; i++) {
		const struct matcher *m = &q->m[i];
		if (m->pushed || m->label == L_LEVEL || m->label == L_STREAM)
			continue;
		v = m->label == L_SERVICE ? r->service : r->logger;
		if ((res = matcher_test(m, v, strlen(v))) != FILTER_YES)
			return res;
	}
	for (size_t i = 0; i < q->nlf; i++) {
		if (q->lf[i].pushed)
			continue;
		res = line_test(&q->lf[i], r->message, r->message_len);
		if (res != FILTER_YES)
			return res;
	}
	return FILTER_YES;
}
