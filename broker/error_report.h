/*
 * error_report.h: <service>_error.log, the file a user opens to learn why
 * a service's process died, written from exit records (service_123's is
 * service_123_error.log).
 */
#ifndef LOGBUS_ERROR_REPORT_H
#define LOGBUS_ERROR_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>
#include <nng/nng.h>

struct batch;
struct broker;
struct endpoint;
struct reader;

/* Write the report of each exit record of a committed batch, with the uid
 * that published it (kept with the file: a reader outside the reader group
 * sees only the reports of its own uid's records). */
void error_report_write(struct broker *b, const struct batch *bt);

/* Write from the journal the reports that failed (a full disk, a read-only
 * directory) and have not been written since; called every few seconds. */
void error_report_tick(struct broker *b);

/* At start: the report of each service's last exit record after the seq
 * after (journal/fanout's reports mark, fanout.h), written unless its file
 * holds that report already, so that a crash between a batch's journal
 * write and its report costs no report and shifts no report to .1 twice.
 * The reports that cannot be written wait as in error_report_tick. */
void error_report_resume(struct broker *b, uint64_t after);
/* The reports mark after a batch whose last record is last: last, or the
 * record before the oldest exit whose report waits to be written. */
uint64_t error_report_through(struct broker *b, uint64_t last);

/* A report's name is the service id and this. */
#define REPORT_SUFFIX "_error.log"

/* At start, once per log directory: reports of the old names
 * (service_<service>_error.log, and .1) renamed to <service>_error.log,
 * each said in a record of logbusd; one whose new name is taken is left
 * with a WARNING saying how to rename it (error_report_migrate.c). */
void error_report_migrate(struct broker *b);
/* The log directory's mark that its reports have the new names, so that
 * service_7_error.log is service_7's, never migrated again: made by the
 * migration and before every report.  0, or -1 (told in a WARNING). */
int error_report_mark(struct broker *b);

/* Free what the writing kept (the reports counted per uid). */
void error_report_fini(struct broker *b);

/* Query ops: "errors" lists the reports rd may see, "error_report" returns
 * one. */
void error_report_list_op(struct endpoint *ep, nng_msg *msg,
                          const msgpack_object *req, const struct reader *rd);
void error_report_get_op(struct endpoint *ep, nng_msg *msg,
                         const msgpack_object *req, const struct reader *rd);

#endif
