/*
 * category.c: the rules that name a death's error category (category.h).
 *
 * A death is first sorted by how it ended (enum death below); each row of
 * rules[] says which deaths it applies to and what it looks for:
 *  - nothing more (M_DEATH): the way it ended says it all;
 *  - the exception of the last Python traceback in the output (M_CLASS):
 *    the class on the line that ends it, "ModuleNotFoundError" for
 *    "ModuleNotFoundError: No module named 'x'"; a row's name matches the
 *    class or its last dotted part ("JSONDecodeError" matches
 *    json.decoder.JSONDecodeError), a name ending in '.' any class under
 *    that module ("yaml." matches yaml.scanner.ScannerError);
 *  - text on that same last line (M_LAST_LINE);
 *  - text anywhere in the captured stderr or stdout (M_OUTPUT).
 * Text matches ignore ASCII case.  The rows are tried in order and the
 * first that matches names the category: the rows on the last traceback
 * come before those on the whole output, so that the exception a program
 * died of beats what it wrote earlier (a warning about an optional module
 * that could not be imported, say).
 *
 * To add a rule, add a row where its priority puts it; a new category name
 * is known to logbusd once it is in a row (category_name), and the README
 * table shows the rows.  Invariant: every name is shorter than
 * CATEGORY_NAME_MAX and names.
 */
#include "category.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

/* How a process ended: one of these. */
enum death {
	D_EXIT = 1 << 0,    /* a non-zero exit status */
	D_SIGNAL = 1 << 1,  /* killed by a signal the others do not name */
	D_KILL = 1 << 2,    /* SIGKILL, the OOM killer not known to be it */
	D_CRASH = 1 << 3,   /* SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT,
	                       SIGSYS, SIGTRAP, or a core dumped */
	D_TIMEOUT = 1 << 4, /* its supervisor killed it at its time limit */
	D_OOM = 1 << 5,     /* SIGKILL by the kernel's OOM killer */
};

enum match { M_DEATH, M_CLASS, M_LAST_LINE, M_OUTPUT };

struct category_rule {
	const char *category;
	unsigned deaths; /* enum death bits it applies to */
	enum match how;
	const char *pattern;
};

/* clang-format off */
static const struct category_rule rules[] = {
	/* how it ended says it all */
	{"timeout",    D_TIMEOUT,       M_DEATH,     NULL},
	{"memory",     D_OOM,           M_DEATH,     NULL},
	{"crash",      D_CRASH,         M_DEATH,     NULL},
	/* the exception it died of: the last traceback's last line */
	{"dependency", D_EXIT,          M_CLASS,     "ModuleNotFoundError"},
	{"dependency", D_EXIT,          M_CLASS,     "ImportError"},
	{"port",       D_EXIT,          M_LAST_LINE, "Address already in use"},
	{"permission", D_EXIT,          M_CLASS,     "PermissionError"},
	{"memory",     D_EXIT | D_KILL, M_CLASS,     "MemoryError"},
	{"timeout",    D_EXIT,          M_CLASS,     "TimeoutError"},
	{"config",     D_EXIT,          M_CLASS,     "JSONDecodeError"},
	{"config",     D_EXIT,          M_CLASS,     "TOMLDecodeError"},
	{"config",     D_EXIT,          M_CLASS,     "TomlDecodeError"},
	{"config",     D_EXIT,          M_CLASS,     "yaml."},
	{"config",     D_EXIT,          M_CLASS,     "configparser."},
	{"config",     D_EXIT,          M_LAST_LINE, "config"},
	/* anywhere in what it wrote */
	{"dependency", D_EXIT,          M_OUTPUT,    "ModuleNotFoundError"},
	{"dependency", D_EXIT,          M_OUTPUT,    "ImportError"},
	{"dependency", D_EXIT,          M_OUTPUT,    "No matching distribution"},
	{"port",       D_EXIT,          M_OUTPUT,    "Address already in use"},
	{"port",       D_EXIT,          M_OUTPUT,    "EADDRINUSE"},
	{"permission", D_EXIT,          M_OUTPUT,    "PermissionError"},
	{"permission", D_EXIT,          M_OUTPUT,    "Permission denied"},
	{"permission", D_EXIT,          M_OUTPUT,    "EACCES"},
	{"memory",     D_EXIT | D_KILL, M_OUTPUT,    "MemoryError"},
	/* whatever else */
	{"signal",     D_SIGNAL | D_KILL, M_DEATH,   NULL},
	{"exit",       D_EXIT,          M_DEATH,     NULL},
};
/* clang-format on */

#define NRULES (sizeof rules / sizeof rules[0])

static const char names[] =
    "dependency, port, permission, memory, timeout, config, crash, signal, "
    "exit";

static unsigned death_of(const struct category_in *in)
{
	if (in->timed_out)
		return D_TIMEOUT;
	if (in->code == -SIGKILL)
		return in->oom_killed ? D_OOM : D_KILL;
	if (in->core)
		return D_CRASH;
	switch (-in->code) {
	case SIGSEGV:
	case SIGBUS:
	case SIGILL:
	case SIGFPE:
	case SIGABRT:
	case SIGSYS:
	case SIGTRAP:
		return D_CRASH;
	}
	return in->code < 0 ? D_SIGNAL : D_EXIT;
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Captured output in lower case, made once per death (the tails are up
 * to 96 KiB each and a dozen rows search them: memmem on a lowered copy
 * is ten times faster than comparing case-blind at every byte). */
struct lowered {
	char *p; /* NULL: not made yet, or out of memory */
	size_t n;
	bool tried;
};

static const char *lowered(struct lowered *l, const char *s, size_t n)
{
	if (!l->tried) {
		l->tried = true;
		if ((l->p = malloc(n ? n : 1)) != NULL) {
			for (size_t i = 0; i < n; i++)
				l->p[i] = lower(s[i]);
			l->n = n;
		}
	}
	return l->p;
}

/* Whether s (n bytes) holds needle, ASCII case ignored; low is s's
 * lowered copy, made when first needed. */
static bool has_text(const char *s, size_t n, const char *needle,
                     struct lowered *low)
{
	size_t m = strlen(needle);
	char pat[64];
	const char *ls = low ? lowered(low, s, n) : NULL;

	if (ls != NULL && m < sizeof pat) {
		for (size_t k = 0; k < m; k++)
			pat[k] = lower(needle[k]);
		return memmem(ls, n, pat, m) != NULL;
	}
	for (size_t i = 0; m <= n && i <= n - m; i++) {
		size_t k = 0;
		while (k < m && lower(s[i + k]) == lower(needle[k]))
			k++;
		if (k == m)
			return true;
	}
	return false;
}

/* The line that ends the last traceback in s: the first line after the
 * last "Traceback (most recent call last):" that is not indented (frames,
 * source lines and carets are).  false when s has no traceback. */
static bool last_exception(const char *s, size_t n, const char **line,
                           size_t *len)
{
	static const char tb[] = "Traceback (most recent call last):";
	const size_t tbl = sizeof tb - 1;
	const char *at = NULL;

	for (size_t i = 0; tbl <= n && i <= n - tbl; i++)
		if ((i == 0 || s[i - 1] == '\n') && memcmp(s + i, tb, tbl) == 0)
			at = s + i + tbl;
	if (at == NULL)
		return false;
	const char *end = s + n;
	while (at < end) {
		const char *nl = memchr(at, '\n', (size_t)(end - at));
		const char *stop = nl ? nl : end;
		if (stop > at && *at != ' ' && *at != '\t' && *at != '\r') {
			*line = at;
			*len = (size_t)(stop - at);
			return true;
		}
		at = nl ? nl + 1 : end;
	}
	return false;
}

/* The exception class the line names: what comes before ": " (or the
 * whole line), when it reads as a dotted Python name. */
static bool exception_class(const char *line, size_t len, const char **cls,
                            size_t *clen)
{
	size_t i = 0;

	while (i < len && line[i] != ':')
		i++;
	while (i > 0 && (line[i - 1] == ' ' || line[i - 1] == '\r'))
		i--;
	if (i == 0)
		return false;
	for (size_t k = 0; k < i; k++) {
		char c = line[k];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '.'))
			return false;
	}
	*cls = line;
	*clen = i;
	return true;
}

static bool class_matches(const char *cls, size_t n, const char *pattern)
{
	size_t m = strlen(pattern);

	if (m > 0 && pattern[m - 1] == '.') /* a module: any class in it */
		return n > m && memcmp(cls, pattern, m) == 0;
	if (n == m)
		return memcmp(cls, pattern, m) == 0;
	return n > m && cls[n - m - 1] == '.' &&
	       memcmp(cls + n - m, pattern, m) == 0;
}

const char *category_of(const struct category_in *in)
{
	const char *line = NULL, *cls = NULL;
	size_t len = 0, clen = 0;

	if (in->code == 0 && !in->timed_out)
		return NULL;
	unsigned death = death_of(in);
	bool tb =
	    (in->err && last_exception(in->err, in->err_len, &line, &len)) ||
	    (in->out && last_exception(in->out, in->out_len, &line, &len));
	bool has_cls = tb && exception_class(line, len, &cls, &clen);
	struct lowered low_err = {0}, low_out = {0};
	const char *found = NULL;
	for (size_t i = 0; found == NULL && i < NRULES; i++) {
		const struct category_rule *r = &rules[i];
		bool hit = false;
		if (!(r->deaths & death))
			continue;
		switch (r->how) {
		case M_DEATH:
			hit = true;
			break;
		case M_CLASS:
			hit = has_cls && class_matches(cls, clen, r->pattern);
			break;
		case M_LAST_LINE:
			hit = tb && has_text(line, len, r->pattern, NULL);
			break;
		case M_OUTPUT:
			hit = (in->err && has_text(in->err, in->err_len,
			                           r->pattern, &low_err)) ||
			      (in->out && has_text(in->out, in->out_len,
			                           r->pattern, &low_out));
			break;
		}
		if (hit)
			found = r->category;
	}
	free(low_err.p);
	free(low_out.p);
	return found ? found : "exit"; /* the last row takes any failure */
}

const char *category_name(const char *s, size_t len)
{
	for (size_t i = 0; i < NRULES; i++)
		if (strlen(rules[i].category) == len &&
		    memcmp(rules[i].category, s, len) == 0)
			return rules[i].category;
	return NULL;
}

const char *category_names(void)
{
	return names;
}
