/*
 * http_tokens.c: bearer tokens and the services each may read.  The file
 * has a token per line, then the service patterns it may read:
 *
 *     # a sandbox's dashboard sees its sandbox, the operators everything
 *     3f9c0c1e6b7d4a8e9f00c2b1d5e6a7b8  service_123
 *     a81d5e0f2c3b4a69788796a5b4c3d2e1  service_* checker
 *     0d1e2f3a4b5c6d7e8f90a1b2c3d4e5f6  *
 *
 * A pattern is a service id or a shell glob of one (fnmatch(3), '*' and
 * '?').  A token is at least 16 printable characters without spaces; the
 * same token twice is refused.  The file must not be readable or writable
 * by others (like ssh's keys): anybody who reads it reads every log it
 * grants.  Secrets are compared in constant time.
 *
 * A set of tokens is never changed once loaded: SIGHUP loads a new one and
 * the server swaps it in (http_server_set_tokens).  Each request holds a
 * reference to the set it was authenticated against, and a stream keeps
 * one until it ends, so its token and patterns stay valid while the set
 * is replaced under it; the last reference frees the set.
 */
#include <errno.h>
#include <stdatomic.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "http.h"

#define TOKEN_MIN      16
#define TOKEN_MAX      256
#define PATTERNS_MAX   64
#define TOKEN_LINE_MAX 4096

struct token {
	char secret[TOKEN_MAX + 1];
	char *patterns[PATTERNS_MAX];
	size_t npatterns;
};

struct tokens {
	atomic_uint refs;
	struct token *v;
	size_t n;
};

struct tokens *tokens_ref(struct tokens *t)
{
	if (t)
		atomic_fetch_add(&t->refs, 1);
	return t;
}

void tokens_unref(struct tokens *t)
{
	if (t == NULL || atomic_fetch_sub(&t->refs, 1) != 1)
		return;
	for (size_t i = 0; i < t->n; i++)
		for (size_t j = 0; j < t->v[i].npatterns; j++)
			free(t->v[i].patterns[j]);
	free(t->v);
	free(t);
}

size_t tokens_count(const struct tokens *t)
{
	return t ? t->n : 0;
}

static bool secret_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char d = la != lb;

	for (size_t i = 0; i < la; i++)
		d |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
	return d == 0;
}

const struct token *tokens_find(const struct tokens *t, const char *s)
{
	const struct token *found = NULL;

	if (t == NULL || s == NULL)
		return NULL;
	for (size_t i = 0; i < t->n; i++) /* no early exit: constant time */
		if (secret_eq(t->v[i].secret, s))
			found = &t->v[i];
	return found;
}

bool token_allows(const struct token *tok, const char *service)
{
	if (tok == NULL)
		return true;
	for (size_t i = 0; i < tok->npatterns; i++)
		if (fnmatch(tok->patterns[i], service, 0) == 0)
			return true;
	return false;
}

long token_exact_services(const struct token *tok, const char **out, size_t max)
{
	if (tok->npatterns > max)
		return -1;
	for (size_t i = 0; i < tok->npatterns; i++) {
		if (strpbrk(tok->patterns[i], "*?[\\"))
			return -1;
		out[i] = tok->patterns[i];
	}
	return (long)tok->npatterns;
}

/* A pattern: a service id, or one with '*' and '?' in it. */
static bool pattern_valid(const char *p)
{
	if (*p == '\0' || strlen(p) > LOGBUS_SERVICE_MAX)
		return false;
	for (; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("._-*?", *p)))
			return false;
	return true;
}

/* One line's words into a new token; false with why. */
static bool parse_line(struct tokens *t, char *line, char *why, size_t len)
{
	char *save = NULL, *w = strtok_r(line, " \t\r\n", &save);
	struct token *tok, *v;

	if (w == NULL || *w == '#')
		return true;
	if (strlen(w) < TOKEN_MIN || strlen(w) > TOKEN_MAX) {
		snprintf(why, len, "a token is %d to %d characters", TOKEN_MIN,
		         TOKEN_MAX);
		return false;
	}
	for (const char *p = w; *p; p++)
		if (*p < '!' || *p > '~') {
			snprintf(why, len, "a token is printable ASCII");
			return false;
		}
	if (tokens_find(t, w)) {
		snprintf(why, len, "this token is on an earlier line too");
		return false;
	}
	v = realloc(t->v, (t->n + 1) * sizeof *v);
	if (v == NULL) {
		snprintf(why, len, "out of memory");
		return false;
	}
	t->v = v;
	tok = &t->v[t->n++];
	memset(tok, 0, sizeof *tok);
	strcpy(tok->secret, w);
	while ((w = strtok_r(NULL, " \t\r\n", &save)) != NULL && *w != '#') {
		if (!pattern_valid(w)) {
			snprintf(why, len,
			         "'%.140s' is not a service id or a pattern "
			         "like service_*",
			         w);
			return false;
		}
		if (tok->npatterns == PATTERNS_MAX) {
			snprintf(why, len, "more than %d patterns",
			         PATTERNS_MAX);
			return false;
		}
		if ((tok->patterns[tok->npatterns] = strdup(w)) == NULL) {
			snprintf(why, len, "out of memory");
			return false;
		}
		tok->npatterns++;
	}
	if (tok->npatterns == 0) {
		snprintf(why, len,
		         "a token without services: write the services it may "
		         "read after it (service_* or * for all)");
		return false;
	}
	return true;
}

struct tokens *tokens_load(const char *path, char *err, size_t errlen)
{
	struct tokens *t = calloc(1, sizeof *t);
	char line[TOKEN_LINE_MAX], why[256];
	struct stat st;
	FILE *f;
	int n = 0;

	if (t == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	atomic_init(&t->refs, 1);
	if ((f = fopen(path, "re")) == NULL) {
		snprintf(err, errlen, "token file %s: %s", path,
		         strerror(errno));
		goto fail;
	}
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 0007)) {
		snprintf(err, errlen,
		         "token file %s is mode %04o: other users could read "
		         "every log it grants; chmod o-rwx %s",
		         path, (unsigned)(st.st_mode & 07777), path);
		goto fail;
	}
	while (fgets(line, sizeof line, f)) {
		n++;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(err, errlen, "%s:%d: line longer than %d",
			         path, n, TOKEN_LINE_MAX - 2);
			goto fail;
		}
		if (!parse_line(t, line, why, sizeof why)) {
			snprintf(err, errlen, "%s:%d: %s", path, n, why);
			goto fail;
		}
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	fclose(f);
	if (t->n == 0) {
		snprintf(err, errlen,
		         "token file %s has no token: every request would be "
		         "refused (write TOKEN SERVICE-PATTERN... lines)",
		         path);
		tokens_unref(t);
		return NULL;
	}
	return t;
fail:
	if (f)
		fclose(f);
	tokens_unref(t);
	return NULL;
}
