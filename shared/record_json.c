/*
 * record_json.c: a stored record as one JSON object (record_json.h).
 * Owns nothing; escaping is strbuf.c's, so every JSON the project writes
 * escapes the same way.
 */
#include "record_json.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "timefmt.h"

static bool reserved_key(const msgpack_object_str *k)
{
	static const char *const names[] = {
	    "timestamp", "level",     "logger", "message", "service",
	    "seq",       "stream",    "pid",    "uid",     "gid",
	    "comm",      "not_owner", NULL};
	for (int i = 0; names[i]; i++)
		if (strlen(names[i]) == k->size &&
		    memcmp(names[i], k->ptr, k->size) == 0)
			return true;
	return false;
}

void record_json(struct strbuf *out, const struct record_view *v, uint64_t seq,
                 const struct frame_record *fr)
{
	char t[TIMEFMT_MAX], lv[16];
	struct lb_str m = v->message;

	while (m.len > 0 && (m.p[m.len - 1] == '\n' || m.p[m.len - 1] == '\r'))
		m.len--;
	timefmt_rfc3339(t, sizeof t, v->time_ns);
	sb_printf(out, "{\"timestamp\":\"%s\",\"level\":", t);
	const char *name = level_name(v->level, lv, sizeof lv);
	sb_json_str(out, name, strlen(name));
	sb_puts(out, ",\"logger\":");
	sb_json_str(out, v->logger.p, v->logger.len);
	sb_puts(out, ",\"message\":");
	sb_json_str(out, m.p, m.len);
	sb_puts(out, ",\"service\":");
	sb_json_str(out, v->service.p, v->service.len);
	sb_printf(out,
	          ",\"seq\":%" PRIu64 ",\"stream\":\"%s\",\"pid\":%" PRIu32
	          ",\"uid\":%" PRIu32 ",\"gid\":%" PRIu32 ",\"comm\":",
	          seq, stream_name(v->stream), fr->pid, fr->uid, fr->gid);
	sb_json_str(out, fr->comm, strlen(fr->comm));
	if (fr->flags & FRAME_REC_NOT_OWNER)
		sb_puts(out, ",\"not_owner\":true");
	for (uint32_t i = 0; v->fields && i < v->fields->size; i++) {
		const msgpack_object_str *k = &v->fields->ptr[i].key.via.str;
		sb_put(out, ",", 1);
		if (reserved_key(k)) {
			char key[LOGBUS_KEY_MAX + 8];
			int n = snprintf(key, sizeof key, "field.%.*s",
			                 (int)k->size, k->ptr);
			sb_json_str(out, key, (size_t)n);
		} else {
			sb_json_str(out, k->ptr, k->size);
		}
		sb_put(out, ":", 1);
		sb_json_scalar(out, &v->fields->ptr[i].val);
	}
	sb_puts(out, "}\n");
}
