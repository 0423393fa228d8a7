/*
 * loki.h: Loki's query endpoints over logbus (/loki/api/v1/query_range,
 * query, labels, label/NAME/values), so that Grafana's Loki data source and
 * other Loki clients read logbus directly.  The HTTP server (logbus-http)
 * owns the connection, tokens and limits; this module owns the answers:
 * LogQL (shared/logql.h) read through liblogbus's public API, and Loki's
 * documented JSON shapes.
 */
#ifndef LOGBUS_TOOLS_HTTP_LOKI_H
#define LOGBUS_TOOLS_HTTP_LOKI_H

#include <stdbool.h>
#include <stddef.h>

/* One query argument of the request, URL-decoded. */
struct http_arg {
	const char *key, *value;
};

/* Whether the caller may read service (a token's scope); NULL: everything. */
typedef bool (*http_allow_fn)(void *ctx, const char *service);

/*
 * Serve a GET of path, which starts with "/loki/api/v1/" (query_range,
 * query, labels, label/NAME/values), with its arguments: the JSON body Loki
 * documents into *body (a malloc'd, NUL-terminated buffer; *body_len its
 * length) and the HTTP status as the return value (200, 400 with Loki's
 * error shape, 404 for an unknown path, 503 when logbusd cannot be reached).
 * Reads through liblogbus's public API with run_dir.  Blocking; the server
 * calls it from a worker thread.
 */
int loki_serve(const char *run_dir, const char *path,
               const struct http_arg *args, size_t nargs, http_allow_fn allow,
               void *allow_ctx, char **body, size_t *body_len);

#endif
