/*
 * loki.h: Loki's query endpoints (/loki/api/v1/...), the interface between
 * logbus-http's server and the LogQL module.  The server hands every GET of
 * a /loki/ path here, from a worker thread, with the request's arguments
 * and the caller's token scope; this module owns the LogQL and the JSON.
 */
#ifndef LOGBUS_HTTP_LOKI_H
#define LOGBUS_HTTP_LOKI_H

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
