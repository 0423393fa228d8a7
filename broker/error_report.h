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

struct broker;

/* Write the report of a committed exit record (its decoded view) published
 * by uid (kept with the file: a reader outside the reader group sees only
 * the reports of its own uid's records). */
struct record_view;
void error_report_write(struct broker *b, const struct record_view *v,
                        uint32_t uid);

/* Query ops: "errors" lists the reports, "error_report" returns one. */
struct endpoint;
void error_report_list_op(struct endpoint *ep, nng_msg *msg,
                          const msgpack_object *req);
void error_report_get_op(struct endpoint *ep, nng_msg *msg,
                         const msgpack_object *req);

#endif
