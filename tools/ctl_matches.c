/*
 * ctl_matches.c: tail's matches on the publisher, the trusted fields
 * logbusd stamps on every record: journalctl's _PID=1234, _UID=1001,
 * _GID=100 and _COMM=python3, as arguments or after -F.
 *
 * -F uid=1001 (and pid=, gid=, comm=) is the same match: that is what
 * `-o verbose` prints for the publisher, and what people meant by it.  A
 * structured field of one of these names is -F field.uid=1001, again as
 * verbose prints it.  Every other -F KEY=VALUE is a structured field.
 *
 * Matches of one kind OR together, kinds AND (journalctl's rule); the
 * broker applies them, so -n counts matching records.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <logbus/logbus.h>

#include "args.h"
#include "logbusctl.h"

/* The process names the kernel keeps are at most 15 bytes. */
#define COMM_MAX 15

static const struct {
	const char *key;  /* journalctl's */
	const char *word; /* -F's and -o verbose's */
	enum match_kind kind;
} keys[] = {
    {"_PID", "pid", MATCH_PID},
    {"_UID", "uid", MATCH_UID},
    {"_GID", "gid", MATCH_GID},
    {"_COMM", "comm", MATCH_COMM},
};

static int add(const char *cmd, const char *arg, enum match_kind kind,
               const char *value, struct publisher_matches *m)
{
	int64_t id;

	if (kind == MATCH_COMM) {
		if (strlen(value) > COMM_MAX)
			return usage_error(cmd,
			                   "bad match '%s': a process name is "
			                   "at most %d bytes (the kernel cuts "
			                   "longer ones): give its first %d",
			                   arg, COMM_MAX, COMM_MAX);
		m->comms[m->ncomms++] = value;
		return PARSE_OK;
	}
	if (!args_int64(value, 0, UINT32_MAX, &id))
		return usage_error(cmd,
		                   "bad match '%s': the value is a number, "
		                   "0 to 4294967295",
		                   arg);
	m->ids[kind][m->nids[kind]++] = (uint32_t)id;
	return PARSE_OK;
}

int publisher_match_arg(const char *cmd, const char *arg, bool from_field,
                        struct publisher_matches *m)
{
	const char *eq = strchr(arg, '=');
	size_t n = eq ? (size_t)(eq - arg) : 0;

	if (eq == NULL)
		return 0;
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if ((strlen(keys[i].key) == n &&
		     memcmp(keys[i].key, arg, n) == 0) ||
		    (from_field && strlen(keys[i].word) == n &&
		     memcmp(keys[i].word, arg, n) == 0)) {
			int rc = add(cmd, arg, keys[i].kind, eq + 1, m);
			return rc == PARSE_OK ? 1 : rc;
		}
	return 0;
}

/* -F field.uid=V: the structured field uid (verbose's name for it). */
const char *field_match_key(const char *arg)
{
	static const char prefix[] = "field.";
	const char *key = arg + strlen(prefix);
	size_t n = strcspn(key, "=");

	if (strncmp(arg, prefix, strlen(prefix)) != 0)
		return arg;
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (strlen(keys[i].word) == n &&
		    memcmp(keys[i].word, key, n) == 0)
			return key;
	return arg;
}

void publisher_matches_filter(const struct publisher_matches *m,
                              logbus_filter *f)
{
	f->pids = m->nids[MATCH_PID] ? m->ids[MATCH_PID] : NULL;
	f->npids = m->nids[MATCH_PID];
	f->uids = m->nids[MATCH_UID] ? m->ids[MATCH_UID] : NULL;
	f->nuids = m->nids[MATCH_UID];
	f->gids = m->nids[MATCH_GID] ? m->ids[MATCH_GID] : NULL;
	f->ngids = m->nids[MATCH_GID];
	f->comms = m->ncomms ? m->comms : NULL;
	f->ncomms = m->ncomms;
}
