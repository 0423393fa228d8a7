/*
 * loki.c: a stand-in for the LogQL module's Loki endpoints until it is
 * merged: every /loki/ path answers 404 with Loki's error shape.  The
 * LogQL branch replaces this file; the interface is loki.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loki.h"

int loki_serve(const char *run_dir, const char *path,
               const struct http_arg *args, size_t nargs, http_allow_fn allow,
               void *allow_ctx, char **body, size_t *body_len)
{
	static const char msg[] =
	    "{\"status\":\"error\",\"errorType\":\"not_found\","
	    "\"error\":\"LogQL is not built into this logbus-http\"}";

	(void)run_dir, (void)path, (void)args, (void)nargs, (void)allow;
	(void)allow_ctx;
	*body = strdup(msg);
	*body_len = *body ? sizeof msg - 1 : 0;
	return 404;
}
