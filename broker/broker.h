/*
 * broker.h: logbusd's one context, passed explicitly to every part.
 *
 * The broker is one libev loop on one thread: the nng sockets are watched
 * through their pollable descriptors, the journal is written from the loop,
 * and every counter lives here.  nng's own threads touch only the atomic
 * pipe counters in struct endpoint (pipe notifications).
 *
 * What belongs to one batch (batch.h) or one request (request.h) is passed
 * to the code that needs it, not kept here; each part of the broker
 * declares its functions in its own header (ingest.h, query.h, live.h,
 * selflog.h, endpoint.h, request.h, ratelimit.h, ...).
 */
#ifndef LOGBUS_BROKER_H
#define LOGBUS_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>
#include <msgpack.h>

#include "access.h"
#include "batch.h"
#include "dirs.h"
#include "endpoint.h"
#include "live.h"
#include "notify.h"
#include "ratelimit.h"
#include "selflog.h"
#include "stats.h"

/* Settings (config.c builds them from the file and the command line). */
struct broker_config {
	const char *run_dir;
	const char *log_dir;
	uint64_t segment_bytes;
	uint64_t max_total_bytes; /* 0: 10% of the file system, at most 4G */
	uint64_t max_age_s;
	double fsync_interval_s;
	double probe_interval_s;
	/* trust and access (access.h): names are looked up at start */
	int ingest_mode, query_mode, live_mode;
	const char *socket_user;
	const char *ingest_group, *query_group, *live_group; /* NULL: none;
	                                            live: the reader group */
	const char *reader_group; /* NULL: "adm" if it exists; "none" */
	bool quiet;
	const char **routes; /* --route text, FILE[:key=value,...] */
	size_t nroutes;
	bool default_routes;
	uint64_t route_max_bytes; /* [routes] max-size: 0, logrotate rotates */
	uint32_t route_backups;   /* [routes] backups: 0, the same */
	/* config.c: where it came from (reloads read it again), and the
	 * strings it allocated */
	const struct config_source *src;
	bool file_read; /* src->path existed and was read */
	char **owned;
	size_t nowned;
	/* limits (ratelimit.c, ingest.c): read from here at each use, so a
	 * reload that rewrites cfg takes effect at once */
	double rate_interval_s;    /* a service's window */
	uint64_t rate_burst;       /* records per window; 0: no limit */
	uint32_t max_record_bytes; /* encoded record, <= LOGBUS_RECORD_MAX */
	uint32_t max_fields;       /* per record, <= LOGBUS_FIELDS_MAX */
	/* error_report.c: report files a uid may have; 0: no limit */
	uint64_t max_reports_per_uid;
	/* owners.c: [owners] and --owner, "SERVICE=NAME" text, and the
	 * services a uid may claim (0: no limit) */
	const char **owners;
	size_t nowners;
	uint64_t max_claims_per_uid;
	/* alerts.c: [alert NAME] keys as NAME, key, value triples */
	const char **alerts;
	size_t nalerts;
};

/* Why records and requests were refused, for stats and the tests. */
enum reject_reason {
	REJ_BAD_REQUEST,
	REJ_BAD_RECORD,
	REJ_BAD_SERVICE,
	REJ_BAD_UTF8,
	REJ_TOO_BIG,
	REJ_UNKNOWN_OP,
	REJ_JOURNAL,
	REJ_TOO_MANY_FIELDS,
	REJ_BATCH_TOO_BIG,
	REJ_UNREAD, /* a query connection that does not read its replies */
	REJ_NOT_OWNER,
	REJ_COUNT
};

struct broker_stats {
	uint64_t batches, batches_dup;
	uint64_t records_received, records_committed, bytes_committed;
	uint64_t bytes_received; /* record bins of batches not seen before */
	uint64_t rate_limited;   /* records dropped by per-service limits */
	uint64_t client_dropped; /* records publishers dropped (queue full) */
	uint64_t rejected[REJ_COUNT];
	uint64_t queries;
	uint64_t error_reports;
	uint64_t error_report_errors; /* reports that could not be written */
	int64_t started_ns;
};

struct broker {
	struct broker_config cfg;
	struct ev_loop *loop;
	struct journal *journal;
	struct syncer *syncer;
	struct sessions *sessions;
	struct endpoint ingest, query, live;
	struct services *services;
	struct routes *routes;
	struct fanout *fanout; /* fanout.h: where routes and reports got */
	struct dirs dirs;      /* dirs.h: the run and log directories */
	struct report_owners *report_owners; /* error_report.c */
	struct owners *owners;               /* owners.c: who owns a service */
	struct alerts *alerts;               /* alerts.c: [alert] rules */
	struct broker_stats stats;
	struct stats_rate rate; /* stats.c: the ingest rate's ticker */
	/* trust and access: the resolved settings and the caches (who sent
	 * the request being handled is the request's: request.h) */
	struct access_config access_cfg;
	struct access *access;
	struct waiters *waiters; /* parked long-poll reads (waiters.c) */
	struct { /* query.c: tails whose backward scan goes on in slices */
		struct tail_job *first, *last;
		size_t n;
		ev_check w;
	} tails;
	ev_signal sigterm_w, sigint_w, sighup_w;
	ev_timer fsync_w, probe_w, probe_check_w, stop_w, routes_w;
	/* broker.c: the journal's upkeep (indexing after start, directory
	 * check, healing) */
	ev_timer journal_w;
	bool journal_indexing, journal_failing;
	struct { /* damage reported while the journal opened */
#define EARLY_DAMAGE_MAX 16
		char *what[EARLY_DAMAGE_MAX];
		size_t n;
	} early_damage;
	struct ratelimit ratelimit; /* ratelimit.c */
	struct selflog selflog; /* selflog.c: events waiting to be records */
	int lock_fd;
	char lock_path[128];
	bool stopping;
	/* scratch reused by every request: no per-record allocation */
	msgpack_zone req_zone, rec_zone;
	msgpack_sbuffer out;
	struct batch batch; /* ingest.c's: the publish being handled */
	msgpack_sbuffer live_out;
	struct live_window live_window; /* live.c: what pub0 may hold */
	char *scratch;
	size_t scratch_cap;
	/* the service manager (notify.h): READY, STOPPING, the watchdog, and
	 * a status line whose rate counts from the previous one */
	struct notify notify;
	ev_timer watchdog_w, status_w;
	ev_tstamp status_at;
	uint64_t status_committed, status_bytes;
};

/* broker.c */
int broker_init(struct broker *b, const struct broker_config *cfg);
int broker_run(struct broker *b);
void broker_fini(struct broker *b);
/* broker.c: tell the service manager (notify.h) what the broker is doing:
 * a reload brackets its work with broker_notify_reloading() and
 * broker_notify_ready(); a failure to send is logged once. */
void broker_notify_ready(struct broker *b);
void broker_notify_reloading(struct broker *b);

#endif
