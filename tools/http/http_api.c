/*
 * http_api.c: the small read-only endpoints: GET /v1/services (what logbusd
 * counted per service, the JSON of `logbusctl services -o json`),
 * GET /v1/services/{id}/error (the service's latest error report, as
 * stored) and GET /v1/stats ({"logbusd": what `logbusctl stats -o json`
 * prints, "http": this gateway's streams}).
 *
 * A token sees only its services here too: /v1/services lists only those,
 * and a report of another service is a 403.  Without tokens logbusd's own
 * rules apply to logbus-http's user (services is for its reader group).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "stats_json.h"

static enum MHD_Result reply_strbuf(struct http_request *rq, struct strbuf *b,
                                    const char *type)
{
	enum MHD_Result ret =
	    b->failed ? http_error(rq, 500, "internal", "out of memory")
	              : http_reply(rq, 200, type, b->p, b->len);

	sb_free(b);
	return ret;
}

static int service_cmp(const void *x, const void *y)
{
	return strcmp(((const logbus_service_info *)x)->service,
	              ((const logbus_service_info *)y)->service);
}

enum MHD_Result api_services(struct http_request *rq)
{
	logbus_service_info *v;
	struct strbuf b = {0};
	size_t n, total, kept = 0;
	char err[512] = "";
	int rc;

	rc = logbus_services(rq->srv->run_dir, NULL, &v, &n, &total, err,
	                     sizeof err);
	if (rc != LOGBUS_OK)
		return http_lib_error(rq, rc, "listing logbusd's services",
		                      err);
	for (size_t i = 0; i < n; i++)
		if (token_allows(rq->token, v[i].service))
			v[kept++] = v[i];
	qsort(v, kept, sizeof *v, service_cmp);
	services_json(&b, v, kept);
	logbus_services_free(v);
	return reply_strbuf(rq, &b, "application/json");
}

enum MHD_Result api_error_report(struct http_request *rq, const char *service)
{
	char err[512] = "", *text = NULL;
	enum MHD_Result ret;
	size_t len = 0;
	int64_t written;
	int rc;

	if (logbus_service_valid(service) != 0)
		return http_error(rq, 400, "bad_request",
		                  "'%.128s' is not a service id", service);
	if (!token_allows(rq->token, service))
		return http_error(rq, 403, "forbidden",
		                  "this token may not read service %s",
		                  service);
	rc = logbus_error_report(rq->srv->run_dir, service, 0, &text, &len,
	                         &written, err, sizeof err);
	if (rc == LOGBUS_ENOTFOUND)
		return http_error(rq, 404, "not_found",
		                  "service %s has no error report", service);
	if (rc != LOGBUS_OK)
		return http_lib_error(rq, rc, "reading the error report", err);
	ret = http_reply(rq, 200, "text/plain; charset=utf-8", text, len);
	free(text);
	return ret;
}

enum MHD_Result api_stats(struct http_request *rq)
{
	struct http_server *srv = rq->srv;
	struct strbuf b = {0};
	logbus_stats st;
	char err[512] = "";
	int rc;

	rc = logbus_broker_stats(srv->run_dir, &st, err, sizeof err);
	if (rc != LOGBUS_OK)
		return http_lib_error(rq, rc, "reading logbusd's statistics",
		                      err);
	sb_puts(&b, "{\"logbusd\":");
	stats_json(&b, &st);
	if (!b.failed && b.len && b.p[b.len - 1] == '\n')
		b.p[--b.len] = '\0';
	pthread_mutex_lock(&srv->lock);
	sb_printf(&b,
	          ",\n\"http\":{\"streams\":%u,\"max_streams\":%u,"
	          "\"streams_served\":%" PRIu64 ",\"streams_refused\":%" PRIu64
	          ",\"stalled_dropped\":%" PRIu64 "}}\n",
	          srv->nstreams, srv->cfg->max_streams, srv->streams_served,
	          srv->streams_refused, srv->stalled_dropped);
	pthread_mutex_unlock(&srv->lock);
	return reply_strbuf(rq, &b, "application/json");
}
