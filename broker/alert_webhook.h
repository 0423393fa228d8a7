/*
 * alert_webhook.h: an alert's HTTP POST (webhook =), with retries.
 *
 * Called on a rule's worker thread (alerts.c).  A POST of a JSON body with
 * libcurl; an attempt that fails to connect, times out or gets a 5xx or
 * 429 is tried again after a backoff of 1s, 2s, 4s... (at most 30s), up to
 * retries more times; a 2xx is done, any other status is final.  Built
 * only with libcurl (LOGBUS_HAVE_CURL); without it a webhook rule is
 * refused at start (alert_rule.c).
 */
#ifndef LOGBUS_ALERT_WEBHOOK_H
#define LOGBUS_ALERT_WEBHOOK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct alert_webhook_result {
	long http;         /* the last attempt's status; 0: none */
	unsigned attempts; /* made */
	bool ok;           /* a 2xx */
	char error[256];   /* the last attempt's failure; "" */
};

/* Once at start, on the loop's thread (curl_global_init is not thread
 * safe): 0, or -1 with err. */
int alert_webhook_init(char *err, size_t errlen);
void alert_webhook_fini(void);

/* POST body to url: 0 when a 2xx came back, -1 otherwise (res says what
 * happened).  Stops early, failed, once *cancel is set. */
int alert_webhook_post(const char *url, const char *body, size_t len,
                       double timeout_s, unsigned retries,
                       const atomic_bool *cancel,
                       struct alert_webhook_result *res);

#endif
