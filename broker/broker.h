/*
 * broker.h: logbusd's one context, passed explicitly to every part.
 *
 * The broker is one libev loop on one thread: the nng sockets are watched
 * through their pollable descriptors, the journal is written from the loop,
 * and every counter lives here.  nng's own threads touch only the atomic
 * pipe counters in struct endpoint (pipe notifications).
 */
#ifndef LOGBUS_BROKER_H
#define LOGBUS_BROKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <ev.h>
#include <msgpack.h>
#include <nng/nng.h>

#include "access.h"
#include "journal.h"
#include "notify.h"
#include "record.h"
#include "routes.h"
#include "services.h"
#include "sessions.h"
#include "stats.h"
#include "syncer.h"

struct broker;
struct endpoint;

/* A request handler: replies (reply_begin/reply_send or reply_error); the
 * dispatcher frees msg. */
struct request_op {
	const char *name;
	void (*fn)(struct endpoint *ep, nng_msg *msg,
	           const msgpack_object *req);
};

/*
 * A socket the broker listens on (listener.c): a raw rep0 socket, its
 * listener, the libev watchers on its descriptors, replies parked while nng
 * cannot take them, and the self-dial probe that notices a listener stopped
 * by nng bug #1518.
 */
struct endpoint {
	struct broker *b;
	const char *name; /* "ingest", "query" */
	char url[128];
	char path[128];              /* socket file */
	struct socket_access access; /* owner, group, mode of the file */
	size_t recv_max;
	nng_socket sock;
	nng_listener listener;
	bool open;
	ev_io recv_w, send_w;
	const struct request_op *ops; /* NULL-terminated; NULL for live */
	/* replies that got NNG_EAGAIN, sent when SENDFD says there is room */
	nng_msg **parked;
	size_t nparked, parked_cap;
	/* bug #1518 probe (listener.c); times are ev_time(), not ev_now() */
	atomic_uint_fast64_t pipes_added; /* written by nng's threads */
	int probe_fd;       /* a raw connection that speaks the handshake; -1 */
	ev_io probe_io;     /* reads the broker's side of the handshake */
	size_t probe_got;   /* bytes of the broker's handshake read back */
	ev_tstamp probe_at; /* connected */
	ev_tstamp probe_answered_at; /* 0: not answered yet */
	bool probing;                /* until a verdict: alive or a miss */
	uint64_t probe_base;         /* pipes_added when the probe started */
	uint32_t probe_seq;          /* names the probe's address */
	unsigned probe_misses;       /* in a row; two make a re-listen */
	unsigned npinned;            /* missed probes whose pipes nng keeps */
	uint32_t pinned[2];          /* their probe_seq */
	uint64_t pinned_base;        /* pipes_added when the first began */
	bool listening;              /* false: a re-listen failed, retried */
	uint64_t relistens;
	/* what the last re-listen left pinned in nng, closed later */
	unsigned nreclaim;
	uint32_t reclaim[2]; /* probe_seq of the pinned probes */
	int reclaim_fd;      /* the old listening socket, or -1 */
	dev_t reclaim_dev;
	ino_t reclaim_ino;
	ev_tstamp reclaim_at;
	/* connected pipes, for stats (the probe's own pipe not counted) */
	atomic_int_fast64_t pipes;
	atomic_uint_fast32_t self_pipe; /* id of the probe's pipe, or 0 */
};

int endpoint_open(struct endpoint *ep, struct broker *b, const char *name,
                  const char *run_dir, const char *sock_name,
                  const struct socket_access *access, size_t recv_max,
                  const struct request_op *ops, char *err, size_t errlen);
/* Stop taking requests, at a stop: with b->stopping set nothing starts
 * them again.  Replies parked or sent later still go out. */
void endpoint_pause(struct endpoint *ep);
/* Send a reply (takes msg); parks it if nng has no room right now. */
void endpoint_reply(struct endpoint *ep, nng_msg *msg);
/* Receive and handle up to max messages nng already holds; returns how many
 * were handled. */
int endpoint_drain(struct endpoint *ep, int max);
/* The probe (listener.c): endpoint_probe_start dials the socket once
 * (judging the previous probe first if it was still open), and
 * endpoint_probe_check judges it when it can: alive when a pipe reached the
 * socket, a miss when none did well after the broker's side answered the
 * handshake; two misses in a row re-listen. */
void endpoint_probe_start(struct endpoint *ep);
void endpoint_probe_check(struct endpoint *ep);
void endpoint_close(struct endpoint *ep);

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
	/* config.c: where it came from (reloads read it again), and the
	 * strings it allocated */
	const struct config_source *src;
	char **owned;
	size_t nowned;
	/* limits (ratelimit.c, ingest.c): read from here at each use, so a
	 * reload that rewrites cfg takes effect at once */
	double rate_interval_s;    /* a service's window */
	uint64_t rate_burst;       /* records per window; 0: no limit */
	uint32_t max_record_bytes; /* encoded record, <= LOGBUS_RECORD_MAX */
	uint32_t max_fields;       /* per record, <= LOGBUS_FIELDS_MAX */
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
	struct broker_stats stats;
	struct stats_rate rate; /* stats.c: the ingest rate's ticker */
	/* trust and access: the resolved settings, the caches, and who sent
	 * the query request being handled (request.c sets them) */
	struct access_config access_cfg;
	struct access *access;
	bool reader_trusted;
	uint32_t reader_uid;
	struct waiters *waiters; /* parked long-poll reads (waiters.c) */
	ev_signal sigterm_w, sigint_w, sighup_w;
	ev_timer fsync_w, probe_w, probe_check_w, stop_w, routes_w;
	ev_timer rate_w;           /* ratelimit.c: ends windows each second */
	uint32_t rate_suppressing; /* services with suppressed > 0 (or more) */
	/* selflog.c: events waiting to become records */
	struct self_event *events;
	size_t nevents;
	uint64_t events_dropped; /* past the queue's bound */
	bool selflog_done; /* selflog_fini ran: events go to stderr only */
	uint64_t self_session, self_batch;
	ev_check selflog_w;
	int lock_fd;
	char lock_path[128];
	bool stopping;
	/* scratch reused by every request: no per-record allocation */
	msgpack_zone req_zone, rec_zone;
	msgpack_sbuffer out;
	struct journal_rec *recs;  /* the accepted records of a batch */
	struct record_view *views; /* parallel to recs: decoded once, by
	                              ingest, for live, routes and reports */
	msgpack_zone batch_zone;   /* the views' objects; cleared per batch */
	size_t recs_cap;
	msgpack_sbuffer live_out;
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
/* selflog.c: an event of the broker's own, at a level (LOGBUS_*): a line on
 * stderr, and once the journal is open a record of the service "logbusd",
 * logger "logbus", committed after the current request is done. */
void broker_log(struct broker *b, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same with up to SELFLOG_FIELDS structured fields (string values
 * copied, keys must be literals). */
void broker_log_fields(struct broker *b, int level, const logbus_field *f,
                       size_t nf, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void selflog_init(struct broker *b);
/* Commit queued events now (the loop does it after each iteration). */
void selflog_flush(struct broker *b);
void selflog_fini(struct broker *b);

/* ratelimit.c: per-service windows of cfg.rate_burst records per
 * cfg.rate_interval_s.  ratelimit_batch drops what is over the limit from
 * b->recs/b->views[0..n) (kept in order) and returns how many remain; the
 * timer journals "Suppressed N records from service X" for windows that
 * ended. */
size_t ratelimit_batch(struct broker *b, size_t n);
void ratelimit_init(struct broker *b);
/* Report every suppressed count now, windows ended or not (at a stop). */
void ratelimit_flush(struct broker *b);

/* The ops of each request endpoint (ingest.c, query.c). */
extern const struct request_op ingest_ops[];
extern const struct request_op query_ops[];
/* stats.c: the query ops "stats" and "services". */
void stats_op(struct endpoint *ep, nng_msg *msg, const msgpack_object *req);
void services_op(struct endpoint *ep, nng_msg *msg, const msgpack_object *req);
/* Room for n records in b->recs and b->views. */
bool ingest_reserve(struct broker *b, size_t n);
/* The journal's on_batch hook that refills the dedup table at start. */
void ingest_on_journal_batch(void *arg, const struct frame_batch *fb);

/* Everything that follows a commit of b->recs[0..n): live, the routed
 * files, error reports (ingest.c). */
void ingest_committed(struct broker *b, uint64_t first_seq, size_t n,
                      const struct frame_record *stamp);

/* live.c: publish n committed records (b->recs, b->views) from first_seq,
 * with the frame headers the journal just wrote for them. */
void live_publish(struct broker *b, uint64_t first_seq, size_t n);

/* request.c: decode a request, run its op's handler, free it. */
void request_dispatch(struct endpoint *ep, nng_msg *msg);
/* Start a reply {"ok": true, + nkeys more} in b->out; reply_send sends it. */
void reply_begin(struct broker *b, msgpack_packer *pk, size_t nkeys);
void reply_send(struct endpoint *ep, nng_msg *req);
/* {"ok": false, "code", "error"} (+ one u64 key), counted by code. */
void reply_error(struct endpoint *ep, nng_msg *req, const char *code,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void reply_error_with(struct endpoint *ep, nng_msg *req, const char *code,
                      const char *key, uint64_t value, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
void count_reject(struct broker *b, const char *code);
/* The current query request's reader may see a record of this uid. */
static inline bool reader_may_see(const struct broker *b, uint32_t uid)
{
	return b->reader_trusted || uid == b->reader_uid;
}
extern const char *const reject_names[REJ_COUNT]; /* the ERR_* codes */

#endif
