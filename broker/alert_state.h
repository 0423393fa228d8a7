/*
 * alert_state.h: what an alert rule remembers across restarts, one file
 * per rule, <log dir>/alerts/<rule>.state:
 *
 *   logbus-alert-state 1
 *   journal <32 hex digits: the journal's id>
 *   pos <the last sequence number the rule is done with>
 *   svc <service> <last action ns> <held> <held since ns> <last match ns>
 *       <active 0|1>            (one line per service the rule fired on)
 *
 * "Done with" a record: evaluated, and its action (if any) completed.
 * The file is replaced whole (a temporary file, fdatasync, rename, fsync
 * of the directory), so that after a crash it is the old one or the new
 * one, never a mix; the throttle (held counts) is saved with the position
 * it belongs to.
 */
#ifndef LOGBUS_ALERT_STATE_H
#define LOGBUS_ALERT_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cursor.h"
#include "logbus/logbus.h"

/* Services a rule keeps throttle state for; past it the one quiet for
 * longest is forgotten. */
#define ALERT_SERVICES_MAX 1000
/* A state file's name: the rule's, ".state", ".tmp". */
#define ALERT_FILE_MAX 96

struct alert_svc {
	char service[LOGBUS_SERVICE_MAX + 1];
	int64_t last_sent_ns; /* commit time of the last record acted on */
	uint64_t held;        /* matched since, without an action */
	int64_t held_since_ns;
	int64_t last_match_ns;
	bool active; /* acted on and not resolved since */
};

struct alert_state {
	unsigned char journal[CURSOR_ID_LEN];
	uint64_t pos;
	struct alert_svc *svcs;
	size_t n;
};

/* Read name's file under dirfd: 1 with st filled, 0 when there is none,
 * -1 with err (a damaged file: its path and line). */
int alert_state_load(int dirfd, const char *name, struct alert_state *st,
                     char *err, size_t errlen);
/* Replace name's file: 0, or -1 with err. */
int alert_state_save(int dirfd, const char *name, const struct alert_state *st,
                     char *err, size_t errlen);
void alert_state_remove(int dirfd, const char *name);
void alert_state_fini(struct alert_state *st);

/* The entry of service (added when missing, the quietest forgotten when
 * full); NULL when out of memory. */
struct alert_svc *alert_state_service(struct alert_state *st,
                                      const char *service, size_t len);

#endif
