/*
 * error_report.h: service_<id>_error.log, the file a user opens to learn
 * why a service's process died, written from exit records.
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

/* Free what the writing kept (the reports counted per uid). */
void error_report_fini(struct broker *b);

/* Query ops: "errors" lists the reports rd may see, "error_report" returns
 * one. */
void error_report_list_op(struct endpoint *ep, nng_msg *msg,
                          const msgpack_object *req, const struct reader *rd);
void error_report_get_op(struct endpoint *ep, nng_msg *msg,
                         const msgpack_object *req, const struct reader *rd);

#endif
