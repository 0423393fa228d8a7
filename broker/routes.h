/*
 * routes.h: the human-readable files the broker writes from the journal.
 *
 * A route says which records (services, minimum level, logger prefix,
 * streams) go to which file under the log directory, in which format (text:
 * Python logging's layout; json: one object per line), rotated by size like
 * Python's RotatingFileHandler, or not at all when logrotate is left to
 * do it (max-size or backups 0).  Without configuration the broker writes
 * all.log (every record) and by-logger/<component>.log for each top-level
 * logger component seen (pactown.sandbox.* goes to by-logger/pactown.log).
 *
 * The journal is the truth and the files follow it: every route knows the
 * last sequence number it has written.  A route that cannot write (disk
 * full, permission, directory removed) is reported once per problem as a
 * WARNING record of logbusd, retried every few seconds and, once it can
 * write again, catches up from the journal; nothing else waits for it.
 */
#ifndef LOGBUS_ROUTES_H
#define LOGBUS_ROUTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "filter.h"
#include "frame.h"

struct batch;
struct broker;
struct routes;

enum route_format { ROUTE_TEXT, ROUTE_JSON };

struct route_spec {
	char file[256];    /* relative to the log directory */
	struct filter flt; /* services, level, logger prefix, streams */
	enum route_format format;
	uint64_t max_bytes; /* rotate above this; 0: never */
	int backups;        /* file.1 .. file.N; 0: never rotate */
	int mode;           /* of new files */
	/* max-size, backups given in the spec: else routes_config's */
	bool max_set, backups_set;
};

/* Parse "FILE[:key=value,...]" (keys: service, level, logger, stream,
 * format, max-size, backups, mode; '|' separates several services or
 * streams).  Returns 0, or -1 with err. */
int route_spec_parse(struct route_spec *s, const char *text, char *err,
                     size_t errlen);
void route_spec_fini(struct route_spec *s);

struct routes_config {
	const char *const *specs; /* --route text: FILE[:key=value,...] */
	size_t nspecs;
	bool defaults; /* all.log and by-logger/<component>.log */
	/* The rotation of all.log, by-logger/ and every route that says
	 * nothing of its own ([routes] max-size, backups); either 0: the
	 * broker never renames or removes those files, logrotate does. */
	uint64_t max_bytes;
	int backups;
};

/* Every spec parses and no two routes write one file or its backups: 0, or
 * -1 with err. */
int routes_check(const struct routes_config *cfg, char *err, size_t errlen);

struct routes *routes_new(struct broker *b, const struct routes_config *cfg,
                          char *err, size_t errlen);
void routes_free(struct routes *r);
/* Whether cfg describes the routes r was made from. */
bool routes_config_same(const struct routes *r,
                        const struct routes_config *cfg);
/* A reload: each route of r whose file old also wrote goes on from where old
 * was (a route that was catching up still catches up). */
void routes_inherit(struct routes *r, const struct routes *old);

/* At start, after routes_new: from the positions of journal/fanout
 * (fanout.h), write the records of the journal's tail that the routed
 * files lack (a crash between a batch's journal write and its lines), each
 * line once: a file's bytes after its saved position are compared with
 * the lines due, and cut at the first that differs (a torn line).  Routes
 * that were failing catch up in routes_tick as before. */
void routes_resume(struct routes *r);

/* Write a committed batch's records to the routes that want them. */
void routes_write(struct routes *r, const struct batch *bt);

/* Close every file; the next write opens it again (SIGHUP, rotate op). */
unsigned routes_reopen(struct routes *r);

/* Retry failed routes and catch them up from the journal (a timer). */
void routes_tick(struct routes *r);

struct routes_stats {
	uint64_t routes, open_files, lines, bytes, errors, rotations;
	uint64_t failing; /* routes that cannot write now */
};
void routes_get_stats(const struct routes *r, struct routes_stats *st);

#endif
