/*
 * alerts.h: alert rules ([alert NAME] in logbusd.conf, alert_rule.h) acting
 * on the records the broker commits, without ever being in its way.
 *
 * Each rule is a follower of the journal with a worker thread of its own:
 * the loop hands it the frames of each committed batch through a bounded
 * queue (ALERT_QUEUE_BYTES), and when the queue is full, or the rule is
 * behind (at start, after a restart), a timer of the loop reads what it
 * missed from the journal, a slice at a time.  The worker matches, throttles
 * and runs the rule's action (alert_exec.h, alert_webhook.h), so a slow or
 * failing action delays only its own rule, never ingest or another rule.
 *
 * Throttle: per rule and per service at most one action per interval, by
 * the records' commit times; what matched meanwhile is counted, and the
 * next action says "and N more since HH:MM:SS".  resolve-after: a
 * "resolved" action once a service has been quiet that long (carrying a
 * count held back since the last action, if any).
 *
 * Delivery is at least once: a rule's position (alert_state.h) is saved
 * after its action completed, with the throttle it belongs to.  After a
 * crash or a kill -9 the rule goes on from the saved position: a record
 * whose action had not run yet gets it then (none lost), one whose action
 * completed is not acted on again (none sent twice), except a record whose
 * action was running, or had completed without its position saved yet (a
 * few milliseconds), when the broker died: that action runs again.  A
 * record that retention removed before a rule saw it is reported and
 * skipped.  The records of logger logbus.alert (the rules' own journal
 * records) are never evaluated, so a rule cannot feed itself.
 *
 * Every action, and every failure of one, is journaled as a record of
 * service logbusd, logger logbus.alert.
 */
#ifndef LOGBUS_ALERTS_H
#define LOGBUS_ALERTS_H

#include <stddef.h>

#include "request.h"

struct alerts;
struct batch;
struct broker;
struct broker_config;

#define ALERTS_MAX        32                 /* rules: a thread each */
#define ALERT_QUEUE_BYTES (8u * 1024 * 1024) /* frames waiting, per rule */
#define ALERT_LOGGER      "logbus.alert"

/* Whether cfg's [alert] sections make valid rules: 0, or -1 with err. */
int alerts_check(const struct broker_config *cfg, char *err, size_t errlen);

/* Start the rules of b->cfg (the journal is open): NULL with err. */
struct alerts *alerts_new(struct broker *b, char *err, size_t errlen);
/* A reload: rules added start from the journal's end, changed ones go on
 * from where they are, removed ones stop (their running action killed,
 * their state file removed).  0, or -1 with err (nothing changed). */
int alerts_configure(struct alerts *a, const struct broker_config *cfg,
                     char *err, size_t errlen);
/* The log directory was made again while logbusd ran (dirs_reopen_log):
 * the rules' state files go into the new one, saved there at once. */
void alerts_reopen(struct alerts *a);
/* A batch was committed (ingest_fanout). */
void alerts_committed(struct alerts *a, const struct batch *bt);
/* Stop every worker (running actions are killed; their records are acted
 * on again after the next start) and journal what they said last. */
void alerts_stop(struct alerts *a);
void alerts_free(struct alerts *a);
size_t alerts_count(const struct alerts *a);

/* Query ops (admin only): the rules' state; one test action of a rule. */
void alerts_op(struct endpoint *ep, nng_msg *msg, const msgpack_object *req,
               const struct reader *rd);
void alert_test_op(struct endpoint *ep, nng_msg *msg, const msgpack_object *req,
                   const struct reader *rd);

#endif
