/*
 * forward_http.c: one HTTP POST through libcurl, for the destinations that
 * speak HTTP (ClickHouse, Loki).  A handle per output thread, reused so
 * that its connection is kept alive between batches; no signals (the
 * threads share the process with the main thread's handlers).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "forward.h"

struct answer {
	char *err;
	size_t errlen, used;
	long retry_after_s;
};

static size_t on_body(char *p, size_t size, size_t n, void *user)
{
	struct answer *a = user;
	size_t len = size * n;
	/* keep the start of the body: it says why a request failed */
	if (a->errlen > 0 && a->used + 1 < a->errlen) {
		size_t room = a->errlen - 1 - a->used;
		size_t k = len < room ? len : room;
		memcpy(a->err + a->used, p, k);
		a->used += k;
		a->err[a->used] = '\0';
	}
	return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *user)
{
	struct answer *a = user;
	size_t len = size * n;
	if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
		char num[16] = {0};
		memcpy(num, p + 12, len - 12 < 15 ? len - 12 : 15);
		char *end;
		long s = strtol(num, &end, 10);
		if (end != num && s >= 0)
			a->retry_after_s = s;
	}
	return len;
}

void *http_new(void)
{
	return curl_easy_init();
}

void http_free(void *curl)
{
	if (curl != NULL)
		curl_easy_cleanup(curl);
}

int http_post(void *curl, const struct http_post *p, long *retry_after_s,
              char *err, size_t errlen)
{
	struct curl_slist *hdrs = NULL;
	struct answer a = {.err = err, .errlen = errlen, .retry_after_s = -1};
	char curl_err[CURL_ERROR_SIZE] = "";
	long status = 0;
	CURLcode rc;

	if (curl == NULL) {
		snprintf(err, errlen, "cannot make a libcurl handle");
		return 0;
	}
	if (errlen > 0)
		err[0] = '\0';
	for (size_t i = 0; i < p->nheaders; i++)
		hdrs = curl_slist_append(hdrs, p->headers[i]);
	/* no "Expect: 100-continue" round trip before a large body */
	hdrs = curl_slist_append(hdrs, "Expect:");
	curl_easy_reset(curl);
	curl_easy_setopt(curl, CURLOPT_URL, p->url);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_POST, 1L);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, p->body);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
	                 (curl_off_t)p->body_len);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)p->timeout_ms);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
	                 (long)(p->timeout_ms < 10000 ? p->timeout_ms : 10000));
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &a);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, &a);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_err);
	if (p->user != NULL && p->user[0] != '\0') {
		curl_easy_setopt(curl, CURLOPT_USERNAME, p->user);
		curl_easy_setopt(curl, CURLOPT_PASSWORD,
		                 p->password != NULL ? p->password : "");
	}
	rc = curl_easy_perform(curl);
	curl_slist_free_all(hdrs);
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "POST %s: %s", p->url,
		         curl_err[0] ? curl_err : curl_easy_strerror(rc));
		return 0;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	if (status < 300 && errlen > 0)
		err[0] = '\0';
	else if (errlen > 0) { /* one line: the body's newlines as spaces */
		for (char *c = err; *c; c++)
			if (*c == '\n' || *c == '\r')
				*c = ' ';
		for (size_t n = strlen(err); n > 0 && err[n - 1] == ' ';)
			err[--n] = '\0';
	}
	if (retry_after_s != NULL)
		*retry_after_s = a.retry_after_s;
	return (int)status;
}
