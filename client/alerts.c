/*
 * alerts.c: the library's calls for logbusd's alert rules (logbus.h,
 * "alert rules"): their state, and a test action.  One request each, on
 * the query socket, like the other administration calls (admin.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "logbus/logbus.h"
#include "proto.h"

static void take_rule(const msgpack_object *m, logbus_alert_info *a)
{
	memset(a, 0, sizeof *a);
	get_str(m, "name", a->name, sizeof a->name);
	get_str(m, "action", a->action, sizeof a->action);
	get_str(m, "rule", a->rule, sizeof a->rule);
	a->position = get_u64(m, "pos");
	a->fed = get_u64(m, "fed");
	a->queued_bytes = get_u64(m, "queued");
	a->fired = get_u64(m, "fired");
	a->failed = get_u64(m, "failed");
	a->held = get_u64(m, "held");
	a->tests = get_u64(m, "tests");
	a->last_fired_ns = get_i64(m, "last_fired");
	get_str(m, "last_service", a->last_service, sizeof a->last_service);
	get_str(m, "last_result", a->last_result, sizeof a->last_result);
}

LOGBUS_API int logbus_alerts(const char *run_dir, logbus_alert_info **out,
                             size_t *n, uint64_t *last_seq, char *err,
                             size_t errlen)
{
	struct call c;
	int rv;

	*out = NULL;
	*n = 0;
	if ((rv = call(run_dir, OP_ALERTS, NULL, 0, NULL, &c, err, errlen)) !=
	    0)
		return rv;
	const msgpack_object *rows = mp_get(&c.o, "rules");
	if (rows == NULL || rows->type != MSGPACK_OBJECT_ARRAY) {
		call_done(&c);
		snprintf(err, errlen,
		         "logbusd sent no list of alert rules (is it older "
		         "than this library?)");
		return LOGBUS_EPROTO;
	}
	if ((*out = calloc(rows->via.array.size + 1, sizeof **out)) == NULL) {
		call_done(&c);
		return LOGBUS_ENOMEM;
	}
	for (uint32_t i = 0; i < rows->via.array.size; i++)
		if (rows->via.array.ptr[i].type == MSGPACK_OBJECT_MAP)
			take_rule(&rows->via.array.ptr[i], &(*out)[(*n)++]);
	if (last_seq)
		*last_seq = get_u64(&c.o, "last");
	call_done(&c);
	return 0;
}

LOGBUS_API void logbus_alerts_free(logbus_alert_info *v)
{
	free(v);
}

static void add_rule(msgpack_packer *pk, const void *arg)
{
	mp_pack_key(pk, "rule");
	mp_pack_key(pk, arg);
}

LOGBUS_API int logbus_alert_test(const char *run_dir, const char *rule,
                                 uint64_t *tests, char *err, size_t errlen)
{
	struct call c;
	int rv;

	if (rule == NULL || *rule == '\0' || strlen(rule) > 64) {
		snprintf(err, errlen, "a rule's name is 1 to 64 characters");
		return LOGBUS_EINVAL;
	}
	rv = call(run_dir, OP_ALERT_TEST, add_rule, 1, rule, &c, err, errlen);
	if (rv != 0)
		return rv;
	if (tests)
		*tests = get_u64(&c.o, "tests");
	call_done(&c);
	return 0;
}
