/*
 * unit_broker.h: a struct broker for unit tests of the broker's modules
 * (routes, rate limiting): a temporary log directory with a journal in it,
 * the services table, a loop, and the broker's own events captured as the
 * records selflog commits, so that a test can assert on what the broker
 * reported.  No sockets: nothing here listens.
 */
#ifndef LOGBUS_UNIT_BROKER_H
#define LOGBUS_UNIT_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "broker.h"

#define UNIT_EVENTS_MAX 64
#define UNIT_RECS_MAX   256

/* One record of the broker's own, as committed. */
struct unit_event {
	int level;
	char message[512];
	char service[64];   /* the string field "service", if any */
	int64_t suppressed; /* the int field "suppressed"; -1: none */
};

struct unit_broker {
	struct broker b;
	char dir[64]; /* the log directory, removed by unit_broker_fini */
	struct unit_event events[UNIT_EVENTS_MAX];
	size_t nevents;
	/* unit_batch_add's records: bytes the batch points into */
	struct batch batch;
	char *bytes[UNIT_RECS_MAX];
	size_t nbytes;
	uint64_t session, bn;
	uint32_t uid; /* the publisher unit_batch_commit stamps: 1000 */
};

/* A broker with an empty journal under a new temporary directory. */
void unit_broker_init(struct unit_broker *u);
void unit_broker_fini(struct unit_broker *u);
/* The same as a cmocka setup and teardown: *state is the broker. */
int unit_broker_setup(void **state);
int unit_broker_teardown(void **state);

/* Commit the broker's queued events now; then count those whose message
 * contains text. */
size_t unit_broker_logged(struct unit_broker *u, const char *text);
/* The last event whose message contains text, or NULL. */
const struct unit_event *unit_broker_event(struct unit_broker *u,
                                           const char *text);

/* Add a publisher's record to u->batch, as ingest would have decoded it. */
void unit_batch_add(struct unit_broker *u, const char *service,
                    const char *logger, int level, const char *message);
/* The same for any record (one with an exit report, say). */
void unit_batch_add_record(struct unit_broker *u, const struct record_in *in);
/* Append u->batch to the journal (its first_seq and stamp are set). */
void unit_batch_commit(struct unit_broker *u);
/* Empty u->batch for the next one. */
void unit_batch_clear(struct unit_broker *u);

/* path under the log directory */
const char *unit_path(struct unit_broker *u, const char *name, char *buf,
                      size_t len);

/* A file outside the log directory for a planted link to point at:
 * dir/precious holding "precious\n". */
struct unit_victim {
	char dir[64], file[96];
};

void unit_victim_make(struct unit_victim *v);
/* Fails the test unless the file is as made and alone in its directory. */
void unit_victim_untouched(struct unit_victim *v);
void unit_victim_remove(struct unit_victim *v);
/* A symbolic link to target at name under the log directory. */
void unit_plant(struct unit_broker *u, const char *target, const char *name);

#endif
