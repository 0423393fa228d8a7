/*
 * alert_webhook.c: an alert's HTTP POST with retries (alert_webhook.h).
 *
 * One easy handle per attempt: attempts are seconds apart, so reusing a
 * connection saves nothing worth the state.  Signals are off in curl
 * (CURLOPT_NOSIGNAL, a must in threads), a progress callback ends an
 * attempt once *cancel is set, and only http and https are allowed, also
 * through redirects (which are not followed).
 */
#include "alert_webhook.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#ifdef LOGBUS_HAVE_CURL
#include <curl/curl.h>
#endif

#define BACKOFF_FIRST_S 1.0
#define BACKOFF_MAX_S   30.0

#ifdef LOGBUS_HAVE_CURL

int alert_webhook_init(char *err, size_t errlen)
{
	CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);

	if (rc != CURLE_OK) {
		snprintf(err, errlen, "cannot start libcurl: %s",
		         curl_easy_strerror(rc));
		return -1;
	}
	return 0;
}

void alert_webhook_fini(void)
{
	curl_global_cleanup();
}

static int on_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c,
                       curl_off_t d)
{
	(void)a;
	(void)b;
	(void)c;
	(void)d;
	return arg && atomic_load((const atomic_bool *)arg) ? 1 : 0;
}

/* The response body is not wanted. */
static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

static void attempt(const char *url, const char *body, size_t len,
                    double timeout_s, const atomic_bool *cancel,
                    struct alert_webhook_result *res)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char ebuf[CURL_ERROR_SIZE] = "";

	res->http = 0;
	res->error[0] = '\0';
	if (c == NULL) {
		snprintf(res->error, sizeof res->error, "out of memory");
		return;
	}
	h = curl_slist_append(h, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(timeout_s * 1000));
	curl_easy_setopt(c, CURLOPT_USERAGENT, "logbusd-alert");
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)cancel);
	CURLcode rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &res->http);
	else
		snprintf(res->error, sizeof res->error, "%s",
		         ebuf[0] ? ebuf : curl_easy_strerror(rc));
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
}

/* Sleep s seconds, in short steps so that *cancel is seen: false when
 * cancelled. */
static bool backoff(double s, const atomic_bool *cancel)
{
	for (double left = s; left > 0; left -= 0.1) {
		if (cancel && atomic_load(cancel))
			return false;
		struct timespec ts = {0, 100 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return !(cancel && atomic_load(cancel));
}

int alert_webhook_post(const char *url, const char *body, size_t len,
                       double timeout_s, unsigned retries,
                       const atomic_bool *cancel,
                       struct alert_webhook_result *res)
{
	double wait = BACKOFF_FIRST_S;

	memset(res, 0, sizeof *res);
	for (;;) {
		res->attempts++;
		attempt(url, body, len, timeout_s, cancel, res);
		if (res->http >= 200 && res->http < 300) {
			res->ok = true;
			return 0;
		}
		bool again =
		    res->http == 0 || res->http >= 500 || res->http == 429;
		if (!again || res->attempts > retries || !backoff(wait, cancel))
			return -1;
		wait = wait * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : wait * 2;
	}
}

#else /* no libcurl: alert_rule.c refuses webhook rules */

int alert_webhook_init(char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	return 0;
}

void alert_webhook_fini(void)
{
}

int alert_webhook_post(const char *url, const char *body, size_t len,
                       double timeout_s, unsigned retries,
                       const atomic_bool *cancel,
                       struct alert_webhook_result *res)
{
	(void)url;
	(void)body;
	(void)len;
	(void)timeout_s;
	(void)retries;
	(void)cancel;
	memset(res, 0, sizeof *res);
	snprintf(res->error, sizeof res->error,
	         "logbusd was built without libcurl");
	return -1;
}

#endif
