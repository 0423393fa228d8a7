/*
 * stats_json.h: logbusd's statistics and services as JSON (stats_json.c),
 * shared by logbusctl and logbus-http so that both say the same thing.
 */
#ifndef LOGBUS_TOOLS_STATS_JSON_H
#define LOGBUS_TOOLS_STATS_JSON_H

#include <stddef.h>

#include <logbus/logbus.h>

#include "strbuf.h"

/* One object and a newline; check b->failed at the end. */
void stats_json(struct strbuf *b, const logbus_stats *st);
/* An array, an object per line, and a newline. */
void services_json(struct strbuf *b, const logbus_service_info *v, size_t n);
/* "claimed", "configured", "logbusd", or "-" when nobody owns it. */
const char *stats_owner_how(const logbus_service_info *s);

#endif
