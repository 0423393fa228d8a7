/*
 * publisher.h: what the rest of the library may ask of a publisher beyond
 * the public API.
 */
#ifndef LOGBUS_CLIENT_PUBLISHER_H
#define LOGBUS_CLIENT_PUBLISHER_H

#include <stddef.h>

#include "logbus/logbus.h"
#include "record.h"

/* Queue a record that is already encoded (record_pack), as logging calls
 * queue theirs. */
int publisher_put_encoded(struct logbus_publisher *p, const char *rec,
                          size_t len);

/* The publisher's service id and default logger. */
void publisher_names(struct logbus_publisher *p, struct lb_str *service,
                     struct lb_str *logger);

/* fork.c's handlers, for each open publisher (fork.h): take its locks,
 * give them back in the parent, make the child's copy its own. */
struct fork_hook;
void publisher_atfork_prepare(struct fork_hook *h);
void publisher_atfork_parent(struct fork_hook *h);
void publisher_atfork_child(struct fork_hook *h);

#endif
