/*
 * logbus.h: the public API of liblogbus, the client library of logbusd.
 *
 * A publisher sends structured records to the broker, of its service or
 * of one a record names: logging calls copy the record into a bounded
 * in-process queue and return; a background thread sends the queue in
 * batches and the broker acknowledges each batch once it is in its journal.
 * logbus_flush() waits for those acknowledgements.  A reader reads records back
 * from the journal by cursor.
 *
 * Every function returns 0 (LOGBUS_OK) or a negative LOGBUS_E* code;
 * logbus_strerror() names a code and the *_error() functions give the
 * detailed message of the last failure on a handle.  The library never
 * prints and never exits.  All handles are safe to use from several threads
 * unless a function says otherwise.
 *
 * fork() without exec: a publisher opened before the fork is, in the child,
 * a publisher of the child's own: its queue starts empty (what was queued
 * is the parent's, which still sends it), its counts at zero, with a new
 * session and its own sender thread, started by its first record; close
 * it in the child as usual.  Publishers opened in the child work too.  The
 * child talks to logbusd without nng, which cannot be used after a fork;
 * readers, subscriptions and the administration calls need nng, so in the
 * child they return LOGBUS_EFORKED (closing them is safe).  The parent's
 * handles are not affected.
 */
#ifndef LOGBUS_LOGBUS_H
#define LOGBUS_LOGBUS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define LOGBUS_API          __attribute__((visibility("default")))
#define LOGBUS_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define LOGBUS_API
#define LOGBUS_PRINTF(f, a)
#endif

#define LOGBUS_VERSION_STRING "0.1.0"

/* Error codes. */
enum {
	LOGBUS_OK = 0,
	LOGBUS_EINVAL = -1,       /* bad argument (service id, level, ...) */
	LOGBUS_ENOMEM = -2,       /* out of memory */
	LOGBUS_ETIMEDOUT = -3,    /* the broker did not answer in time */
	LOGBUS_EUNREACHABLE = -4, /* no broker at the run directory */
	LOGBUS_EFULL = -5,        /* queue full, record dropped (drop mode) */
	LOGBUS_ETOOBIG = -6,      /* record larger than LOGBUS_RECORD_MAX */
	LOGBUS_EUTF8 = -7,        /* text that is not valid UTF-8 */
	LOGBUS_EREJECTED = -8,    /* the broker refused a record or request */
	LOGBUS_ECURSOR = -9,      /* malformed cursor, or another journal's */
	LOGBUS_EEXPIRED = -10,    /* cursor older than what the journal kept */
	LOGBUS_ECLOSED = -11,     /* handle is closing */
	LOGBUS_EPROTO = -12,      /* the broker's reply made no sense */
	LOGBUS_ESYS = -13,        /* a system call failed (see *_error()) */
	LOGBUS_ENOTFOUND = -14,   /* no such thing (an error report) */
	LOGBUS_ELIMITED = -15,    /* acknowledged, but the broker's rate limit
	                             dropped some (logbus_flush) */
	LOGBUS_EFORKED = -16,     /* readers and administration calls cannot
	                             work in a child of fork(): exec, or use
	                             them in the parent */
};

/* Python's level numbers; other values in 0..255 are allowed. */
enum logbus_level {
	LOGBUS_DEBUG = 10,
	LOGBUS_INFO = 20,
	LOGBUS_WARNING = 30,
	LOGBUS_ERROR = 40,
	LOGBUS_CRITICAL = 50,
};

enum logbus_stream {
	LOGBUS_STREAM_LOG = 0,
	LOGBUS_STREAM_STDOUT = 1,
	LOGBUS_STREAM_STDERR = 2,
};

/* Limits the broker enforces too (bytes of the encoded record). */
#define LOGBUS_RECORD_MAX  (256 * 1024)
#define LOGBUS_SERVICE_MAX 128
#define LOGBUS_LOGGER_MAX  256
#define LOGBUS_FIELDS_MAX  64
#define LOGBUS_KEY_MAX     64

/* ---- structured fields --------------------------------------------------- */

enum logbus_field_type {
	LOGBUS_FIELD_STR = 0,
	LOGBUS_FIELD_INT = 1,
	LOGBUS_FIELD_FLOAT = 2,
	LOGBUS_FIELD_BOOL = 3,
};

typedef struct logbus_field {
	const char *key; /* [A-Za-z0-9_.-], 1..LOGBUS_KEY_MAX bytes */
	enum logbus_field_type type;
	union {
		const char *s; /* UTF-8, NUL-terminated */
		int64_t i;
		double f;
		int b;
	} v;
} logbus_field;

#define LOGBUS_STR(k, val)                                                     \
	((logbus_field){.key = (k), .type = LOGBUS_FIELD_STR, .v.s = (val)})
#define LOGBUS_INT(k, val)                                                     \
	((logbus_field){.key = (k), .type = LOGBUS_FIELD_INT, .v.i = (val)})
#define LOGBUS_FLOAT(k, val)                                                   \
	((logbus_field){.key = (k), .type = LOGBUS_FIELD_FLOAT, .v.f = (val)})
#define LOGBUS_BOOL(k, val)                                                    \
	((logbus_field){.key = (k), .type = LOGBUS_FIELD_BOOL, .v.b = !!(val)})

/* ---- publishing ---------------------------------------------------------- */

typedef struct logbus_publisher logbus_publisher;

enum logbus_on_full {
	LOGBUS_ON_FULL_BLOCK = 0, /* the logging call waits for room, while
	                             the broker is there: with no connection
	                             to it for 5 s the record is dropped and
	                             counted, LOGBUS_EUNREACHABLE */
	LOGBUS_ON_FULL_DROP = 1,  /* the record is dropped and counted; the
	                             count reaches the broker as a record */
};

typedef struct logbus_publisher_options {
	const char *run_dir; /* NULL: $LOGBUS_RUN_DIR or the default */
	const char *service; /* required: [A-Za-z0-9._-], not starting '.' */
	const char *logger;  /* default logger name; NULL: the service id */
	size_t queue_bytes;  /* bound of the in-process queue; 0: 8 MiB */
	enum logbus_on_full on_full;
	/* How long the sender waits for a partial batch to fill.  0 (the
	 * default): it sends at once, and batches form by themselves while
	 * the previous one is in flight, so a quiet publisher has no added
	 * latency and a busy one still sends large batches. */
	int linger_ms;
	/* 1: logbus_flush (and so logbus_publisher_close) returns
	 * LOGBUS_EUNREACHABLE at once, the records still queued, while no
	 * broker can be reached: no socket file, or this user may not enter
	 * the run directory or open the socket (logbus_publisher_error says
	 * which); for a command-line tool.  0 (the default): flush waits up
	 * to its timeout, for a broker that is starting or restarting. */
	int fail_fast;
} logbus_publisher_options;

/* Open a publisher.  Connecting is asynchronous: this does not fail when the
 * broker is down; records wait in the queue until it is up. */
LOGBUS_API int logbus_publisher_open(logbus_publisher **out,
                                     const logbus_publisher_options *opts);

/* Flush (up to timeout_ms, -1 = as logbus_flush), stop the sender, free.
 * Returns the flush's result.  Bounded when the broker is gone: at most
 * timeout_ms (-1: 5 s without a connection) plus a moment. */
LOGBUS_API int logbus_publisher_close(logbus_publisher *pub, int timeout_ms);

/* Log with the default logger. */
LOGBUS_API int logbus_log(logbus_publisher *pub, int level, const char *fmt,
                          ...) LOGBUS_PRINTF(3, 4);

/* Log with a logger (NULL: default) and structured fields. */
LOGBUS_API int logbus_log_fields(logbus_publisher *pub, int level,
                                 const char *logger, const logbus_field *fields,
                                 size_t nfields, const char *fmt, ...)
    LOGBUS_PRINTF(6, 7);

LOGBUS_API int logbus_logv(logbus_publisher *pub, int level, const char *logger,
                           const logbus_field *fields, size_t nfields,
                           const char *fmt, va_list ap);

/* Everything explicit, message not formatted (may hold any UTF-8).  A
 * record may name its own service (one publisher for many services): the
 * id is checked here like the publisher's, and by logbusd against who owns
 * it (a record of a service another user owns is refused alone, and
 * logbus_flush returns LOGBUS_EREJECTED saying who owns it). */
typedef struct logbus_entry {
	int64_t time_ns; /* 0: now (CLOCK_REALTIME) */
	int level;
	enum logbus_stream stream;
	const char *logger; /* NULL: the publisher's default */
	const char *message;
	size_t message_len; /* (size_t)-1: strlen(message) */
	const logbus_field *fields;
	size_t nfields;
	const char *service; /* NULL: the publisher's service */
} logbus_entry;

LOGBUS_API int logbus_write(logbus_publisher *pub, const logbus_entry *e);

/*
 * Wait until every record logged before this call was answered by the
 * broker.  Returns 0 when all were committed, LOGBUS_EREJECTED when the
 * broker refused some (logbus_publisher_error() says why), else
 * LOGBUS_ELIMITED when the broker acknowledged them all but its per-service
 * rate limit dropped some (counted in logbus_publisher_stats.limited; each
 * drop is reported by one flush only), LOGBUS_ETIMEDOUT when the time ran
 * out (they are still queued and will be sent).  timeout_ms -1 waits as
 * long as it takes while the broker is there, and returns
 * LOGBUS_EUNREACHABLE once there has been no connection to it for 5 s (a
 * restart takes less; the records stay queued).  Committed records are in the
 * journal; when it returns 0, LOGBUS_EREJECTED or LOGBUS_ELIMITED within its
 * time the broker has also written them to the routed files and error reports
 * and passed them to followers (one more round trip, only when something was
 * committed since the last flush).
 */
LOGBUS_API int logbus_flush(logbus_publisher *pub, int timeout_ms);

typedef struct logbus_publisher_stats {
	uint64_t logged;    /* records accepted by logging calls */
	uint64_t committed; /* acknowledged by the broker */
	uint64_t rejected;  /* refused by the broker */
	uint64_t dropped;   /* dropped because the queue was full */
	uint64_t batches;   /* batches acknowledged */
	uint64_t resends;  /* batches sent again after a timeout or reconnect */
	uint64_t last_seq; /* sequence number of the last committed record */
	int connected;     /* a connection to the broker is up now */
	uint64_t limited;  /* acknowledged but dropped by the broker's
	                      per-service rate limit (not in committed) */
} logbus_publisher_stats;

LOGBUS_API void logbus_publisher_get_stats(logbus_publisher *pub,
                                           logbus_publisher_stats *st);

/* The message of the last error on this publisher (a rejected record, the
 * broker unreachable, ...), or "" if none.  Copied into buf. */
LOGBUS_API const char *logbus_publisher_error(logbus_publisher *pub, char *buf,
                                              size_t len);

/* ---- process deaths ------------------------------------------------------ */

/*
 * The last bytes of a stream (a child's stderr or stdout), kept as they
 * come: a supervisor adds everything it reads and the buffer keeps the
 * newest max bytes, counting what it cut.
 */
typedef struct logbus_tail logbus_tail;

/* max 0: 64 KiB. */
LOGBUS_API logbus_tail *logbus_tail_new(size_t max);
LOGBUS_API void logbus_tail_add(logbus_tail *t, const void *data, size_t len);
/* The kept bytes, in order (valid until the next add), and how many were
 * cut before them. */
LOGBUS_API const char *logbus_tail_data(logbus_tail *t, size_t *len,
                                        uint64_t *cut);
LOGBUS_API void logbus_tail_free(logbus_tail *t);

typedef struct logbus_exit {
	int pid;
	/* Either the raw status from waitpid() (has_wait_status = 1), or
	 * exit_code: >= 0 a normal exit, -N killed by signal N. */
	int has_wait_status;
	int wait_status;
	int exit_code;
	const char *const *argv; /* the command line, argc strings */
	size_t argc;
	const char *cwd;          /* NULL: none */
	const char *venv;         /* NULL: none */
	logbus_tail *stderr_tail; /* NULL: none captured */
	logbus_tail *stdout_tail;
	/* Names in the working directory; NULL with nfiles 0: the library
	 * lists cwd itself (sorted, at most 1000). */
	const char *const *files;
	size_t nfiles;
	const char *logger;  /* NULL: the publisher's default */
	const char *service; /* NULL: the publisher's service */
	/* What only the supervisor knows (0: no): */
	int timed_out;  /* it killed the process at its time limit */
	int oom_killed; /* the kernel's OOM killer killed it (e.g. its
	                   cgroup's count rose: logbus_oom_kill_count) */
} logbus_exit;

/*
 * Publish a process exit: one ERROR record (INFO for exit code 0) whose
 * message says how it ended ("Process killed by SIGTERM (exit code: -15)")
 * followed by the last lines of stderr, carrying the whole report, from
 * which logbusd writes <service>_error.log.  A failure gets its error
 * category ("dependency", "port", "crash", ... : README's table), from how
 * it ended and the tails, in the report and as the record's field
 * error_category.  Flushes before it returns: LOGBUS_OK once the broker
 * has it, else as logbus_flush.
 */
LOGBUS_API int logbus_report_exit(logbus_publisher *pub, const logbus_exit *e,
                                  int timeout_ms);

/*
 * The level a line of a process's output names itself, or -1: the rule
 * `logbusctl run` and the Python binding's logbus.run apply before the
 * stream's level.  The line (len bytes, no newline) must START with it:
 * `LEVEL:` (uvicorn, Python logging's default), `[LEVEL]`, `TIME [LEVEL]`,
 * `TIME LEVEL`, `TIME - [NAME - ]LEVEL -` or gunicorn's `[TIME] [PID]
 * [LEVEL]`, LEVEL one of DEBUG INFO WARNING WARN ERROR CRITICAL FATAL in
 * capitals (line_level.c has it exactly).
 */
LOGBUS_API int logbus_line_level(const char *line, size_t len);

/*
 * How many processes the kernel's OOM killer has killed in the calling
 * process's cgroup and those below it (cgroup v2 memory.events, else v1
 * memory.oom_control): read it before starting a child and after it died
 * of SIGKILL; a rise means the OOM killer (or another of the cgroup's
 * processes met it too).  LOGBUS_ENOTFOUND when the count cannot be read.
 */
LOGBUS_API int logbus_oom_kill_count(uint64_t *count);

/* ---- records read back --------------------------------------------------- */

typedef struct logbus_record {
	uint64_t seq;
	const char *cursor; /* opaque; pass to a reader to resume after */
	int64_t time_ns;    /* publisher's clock */
	int64_t recv_ns;    /* broker's clock when committed */
	int level;
	enum logbus_stream stream;
	const char *service;
	const char *logger;
	const char *message;
	size_t message_len;
	const logbus_field *fields;
	size_t nfields;
	/* Trusted: from the publisher's socket credentials, set by logbusd;
	 * comm is the process name (/proc/<pid>/comm when it connected),
	 * "" when unknown.  A record's own fields cannot set these. */
	uint32_t pid, uid, gid;
	char comm[16];
	/* Set by logbusd: 1 when the publisher was not the service's owner
	 * (root and logbusd's own user may publish as any service); text
	 * output shows its uid after the service, "service_7[uid=0]". */
	int not_owner;
} logbus_record;

/* ---- reading ------------------------------------------------------------- */

typedef struct logbus_reader logbus_reader;

enum logbus_start {
	LOGBUS_START_HEAD = 0,   /* the oldest record kept */
	LOGBUS_START_TAIL = 1,   /* the last tail_n matching records as of
	                            open, then what follows */
	LOGBUS_START_CURSOR = 2, /* after the record named by cursor */
	LOGBUS_START_NEW = 3,    /* only records committed after open */
	LOGBUS_START_SINCE = 4,  /* records whose time is >= since_ns */
};

/* Which records a reader wants.  Every part is optional and they combine
 * with AND.  The broker applies the filter to what it reads from the
 * journal, the library to live records, with the same code. */
typedef struct logbus_filter {
	const char *const *services; /* any of these; NULL/0: all */
	size_t nservices;
	int min_level;             /* 0: all */
	const char *logger_prefix; /* "a.b" matches a.b and a.b.c, not a.bc */
	unsigned streams;          /* bits 1 << LOGBUS_STREAM_*; 0: all */
	const char *const *fields; /* "KEY=VALUE": the record's field KEY
	                              written as text equals VALUE; all must
	                              hold */
	size_t nfields;
	const char *message_regex; /* PCRE2 on the message, e.g.
	                              "(?i)(error|exception|failed)" */
	int64_t since_ns;          /* record time >= since_ns (0: any) */
	int64_t until_ns;          /* record time < until_ns (0: any) */
	int max_level;             /* level <= max_level (0: no bound) */
	/* The publisher as logbusd saw it (logbus_record's trusted pid, uid,
	 * gid and comm; journalctl's _PID=, _UID=, _GID=, _COMM=): a record
	 * passes when its pid is one of pids (none given: any), and the
	 * same for uids, gids and comms (at most 15 bytes, exact).  A
	 * reader outside the reader group still sees only its own uid. */
	const uint32_t *pids;
	size_t npids;
	const uint32_t *uids;
	size_t nuids;
	const uint32_t *gids;
	size_t ngids;
	const char *const *comms;
	size_t ncomms;
} logbus_filter;

typedef struct logbus_reader_options {
	const char *run_dir; /* NULL: $LOGBUS_RUN_DIR or the default */
	enum logbus_start start;
	uint64_t tail_n;    /* for LOGBUS_START_TAIL */
	const char *cursor; /* for LOGBUS_START_CURSOR */
	int64_t since_ns;   /* for LOGBUS_START_SINCE */
	logbus_filter filter;
	/* 0: a snapshot, the reader ends when it has caught up with the
	 * journal; 1: follow, records keep coming as they are committed. */
	int follow;
	int timeout_ms; /* per request to the broker; 0: 5000 */
	char *error;    /* if not NULL, why open failed */
	size_t error_len;
} logbus_reader_options;

LOGBUS_API int logbus_reader_open(logbus_reader **out,
                                  const logbus_reader_options *opts);

/*
 * The next matching record, in sequence order, each exactly once.  Returns
 * 1 and sets *rec (valid until the next call or close); 0 when a snapshot
 * has caught up with the journal, or when a follower saw nothing for
 * timeout_ms (-1: wait as long as it takes); or a negative code.  For a
 * follower, LOGBUS_EUNREACHABLE and LOGBUS_ETIMEDOUT are passing (the
 * broker is restarting): call again and it carries on from where it was.
 * LOGBUS_EEXPIRED: the position is older than the journal keeps;
 * logbus_reader_oldest_seq() says where the journal starts and
 * logbus_reader_skip_expired() continues from there.
 */
LOGBUS_API int logbus_reader_next(logbus_reader *r, const logbus_record **rec,
                                  int timeout_ms);

/* Cursor after the last record returned (or the start position): resume
 * there later with LOGBUS_START_CURSOR.  NULL before the first request. */
LOGBUS_API const char *logbus_reader_cursor(logbus_reader *r);

/* After LOGBUS_EEXPIRED: the oldest sequence number the journal still has. */
LOGBUS_API uint64_t logbus_reader_oldest_seq(logbus_reader *r);

/* After LOGBUS_EEXPIRED: go on from the oldest record still kept. */
LOGBUS_API int logbus_reader_skip_expired(logbus_reader *r);

/* Make a logbus_reader_next blocked in another thread return
 * LOGBUS_ECLOSED soon (within ~100 ms); the only call that may run
 * concurrently with next. */
LOGBUS_API void logbus_reader_interrupt(logbus_reader *r);

LOGBUS_API const char *logbus_reader_error(logbus_reader *r);
LOGBUS_API void logbus_reader_close(logbus_reader *r);

/* ---- subscriptions: a reader driven by a thread, records to a callback --- */

typedef struct logbus_subscription logbus_subscription;

/* Called for each record on the subscription's thread; return 0 to go on,
 * anything else to end the subscription. */
typedef int (*logbus_on_log_fn)(const logbus_record *rec, void *user);

/* Called on the subscription's thread for an error (a code and a sentence).
 * Return non-zero to go on (after LOGBUS_EEXPIRED: from the oldest record
 * kept; after a passing error: retry), 0 to end the subscription.  NULL:
 * passing errors are retried, the others end it. */
typedef int (*logbus_on_error_fn)(int code, const char *message, void *user);

/* Open a reader with opts and deliver its records to on_log on a thread of
 * its own.  A snapshot subscription ends by itself when it has caught up. */
LOGBUS_API int logbus_subscribe(logbus_subscription **out,
                                const logbus_reader_options *opts,
                                logbus_on_log_fn on_log,
                                logbus_on_error_fn on_error, void *user);

/* Wait until the subscription ended (timeout_ms -1: no limit).  Returns 0
 * when it ended by itself (caught up, or on_log said stop), the error code
 * that ended it, or LOGBUS_ETIMEDOUT while it still runs. */
LOGBUS_API int logbus_subscription_wait(logbus_subscription *s, int timeout_ms);

/* Cursor after the last record delivered, copied into buf ("" if none). */
LOGBUS_API const char *logbus_subscription_cursor(logbus_subscription *s,
                                                  char *buf, size_t len);

/* Stop (on_log is not called again once this returns) and free. */
LOGBUS_API void logbus_subscription_close(logbus_subscription *s);

/* ---- administration: one request each ------------------------------------ */

/* Each takes the run directory (NULL: $LOGBUS_RUN_DIR or the default) and
 * a buffer for a sentence saying what went wrong. */

typedef struct logbus_report_info {
	char service[LOGBUS_SERVICE_MAX + 1];
	int64_t written_ns; /* when the latest report was written */
	uint64_t size;      /* its size in bytes */
	int kept;           /* reports kept: 1, or 2 with the previous one */
	char category[16];  /* the latest's error category ([a-z]+, the
	                       README's table); "" when none */
} logbus_report_info;

/* The services that have an error report.  *out is malloc'd (free it). */
LOGBUS_API int logbus_error_reports(const char *run_dir,
                                    logbus_report_info **out, size_t *n,
                                    char *err, size_t errlen);

/* The text of a service's error report: generation 0 the latest, 1 the one
 * before.  *text is malloc'd and NUL-terminated (free it).  No report:
 * LOGBUS_ENOTFOUND. */
LOGBUS_API int logbus_error_report(const char *run_dir, const char *service,
                                   int generation, char **text, size_t *len,
                                   int64_t *written_ns, char *err,
                                   size_t errlen);

/* May the calling user publish as service?  Claims it when nobody owns it
 * yet (as a first record would), and returns LOGBUS_OK; LOGBUS_EREJECTED
 * when another user owns it (err says who, and how to change that);
 * LOGBUS_EUNREACHABLE or LOGBUS_ETIMEDOUT when logbusd did not answer
 * within timeout_ms.  A supervisor asks before it starts a command, so
 * that the command never runs unrecorded. */
LOGBUS_API int logbus_service_claim(const char *run_dir, const char *service,
                                    int timeout_ms, char *err, size_t errlen);

/* Make logbusd reopen every file it writes (after logrotate moved them);
 * *files says how many. */
LOGBUS_API int logbus_rotate(const char *run_dir, unsigned *files, char *err,
                             size_t errlen);

/* A journal segment logbus_vacuum removed. */
typedef struct logbus_vacuumed {
	char file[64]; /* its name in the journal directory */
	uint64_t first_seq, last_seq, bytes;
} logbus_vacuumed;

typedef struct logbus_vacuum_result {
	logbus_vacuumed *removed; /* the first 1,000 removed, oldest first */
	size_t nremoved;
	uint64_t count, freed_bytes; /* every segment removed */
	/* what the journal keeps now */
	uint64_t segments, bytes, first_seq, last_seq;
} logbus_vacuum_result;

/*
 * Apply the journal's retention now with these limits (journalctl's
 * --vacuum-size and --vacuum-time): remove the oldest segments while the
 * journal is over max_bytes, or while their newest record is older than
 * max_age_s seconds; -1: no such limit (one of them must be given); never
 * the segment being written.  For root, logbusd's user and the reader
 * group (others: LOGBUS_EREJECTED, "denied").  Free res with
 * logbus_vacuum_free.
 */
LOGBUS_API int logbus_vacuum(const char *run_dir, int64_t max_bytes,
                             int64_t max_age_s, logbus_vacuum_result *res,
                             char *err, size_t errlen);
LOGBUS_API void logbus_vacuum_free(logbus_vacuum_result *res);

/* ---- statistics: one request each ---------------------------------------- */

/*
 * logbusd's figures, all since it started.  Records "received" are those of
 * publish batches seen for the first time (a resent batch counts in
 * batches_resent only), accepted or refused; "committed" ones are in the
 * journal, logbusd's own records (service "logbusd") included.  Bytes are
 * those of the encoded records.
 */
#define LOGBUS_STATS_CODES_MAX 16

typedef struct logbus_stats {
	char version[32];
	uint64_t pid;
	int64_t started_ns; /* when logbusd started, wall clock */
	uint64_t uptime_ns;
	uint64_t rss_bytes, rss_peak_bytes; /* VmRSS, VmHWM; 0: unknown */
	uint64_t received, received_bytes;
	uint64_t committed, committed_bytes;
	uint64_t rejected; /* records and requests refused, all codes */
	struct {
		char code[32]; /* "bad_utf8", "too_big", ... */
		uint64_t count;
	} rejected_by[LOGBUS_STATS_CODES_MAX];
	size_t nrejected_by;
	uint64_t rate_limited;   /* records dropped by per-service limits */
	uint64_t client_dropped; /* records publishers dropped, queue full */
	uint64_t batches, batches_resent;
	/* Committed records (bytes) per second over the last second and the
	 * last minute (or since start when shorter). */
	double rate_1s, rate_60s, bytes_rate_1s, bytes_rate_60s;
	/* Connections now: publishers (ingest), readers (query) and
	 * subscribers (live: following readers). */
	uint64_t publishers, readers, subscribers;
	uint64_t journal_segments, journal_bytes;
	uint64_t first_seq, last_seq; /* oldest and newest kept */
	uint64_t fsyncs, fsync_errors;
	uint64_t last_fsync_ns; /* how long the last fdatasync took */
	uint64_t route_files, route_open, route_errors, route_failing,
	    route_rotations;
	uint64_t services;      /* services known now */
	uint64_t services_max;  /* how many logbusd keeps (the least recently
	                           active are forgotten first) */
	uint64_t error_reports; /* error report files written */
	uint64_t queries;
} logbus_stats;

LOGBUS_API int logbus_broker_stats(const char *run_dir, logbus_stats *st,
                                   char *err, size_t errlen);

/* What logbusd counted for one service since it started. */
#define LOGBUS_SUMMARY_MAX 255

typedef struct logbus_service_info {
	char service[LOGBUS_SERVICE_MAX + 1];
	uint64_t records, bytes;
	/* by level: debug (and below), info, warning, error, critical (and
	 * above); a level between two counts with the lower one */
	uint64_t debug, info, warning, error, critical;
	int64_t first_ns, last_ns; /* first and last record's time */
	uint64_t last_seq;
	/* The last error report written for it: 0 when none since logbusd
	 * started (logbus_error_reports() lists the files kept on disk). */
	int64_t report_ns;
	int64_t exit_code; /* >= 0 exit status, -N killed by signal N */
	char exit_summary[LOGBUS_SUMMARY_MAX + 1]; /* first line of the
	                                              exit record's message */
	/* Who owns the service (only root and logbusd's own user publish
	 * as a service they do not own): */
	int owner_how;       /* enum logbus_owner_how */
	int owner_is_group;  /* owner_id is a gid ([owners] NAME = @group) */
	uint32_t owner_id;   /* uid, or gid */
	char owner_name[64]; /* user name, "@group", "" when it has none */
	char error_category[16]; /* the last error report's category
	                            ([a-z]+); "" when none (exit 0, or no
	                            report) */
} logbus_service_info;

enum logbus_owner_how {
	LOGBUS_OWNER_NONE = 0,       /* nobody has published as it */
	LOGBUS_OWNER_CLAIMED = 1,    /* the uid that published it first */
	LOGBUS_OWNER_CONFIGURED = 2, /* assigned in logbusd's [owners] */
	LOGBUS_OWNER_BROKER = 3,     /* "logbusd", the broker's own */
};

/*
 * The services logbusd has seen, the most recently active first (at most
 * 5,000 in one call; *total says how many it knows), or with service not
 * NULL just that one (LOGBUS_ENOTFOUND when it has no record of it).  Free
 * *out with logbus_services_free.
 */
LOGBUS_API int logbus_services(const char *run_dir, const char *service,
                               logbus_service_info **out, size_t *n,
                               size_t *total, char *err, size_t errlen);
LOGBUS_API void logbus_services_free(logbus_service_info *v);

/* ---- alert rules ([alert NAME] in logbusd.conf) -------------------------- */

typedef struct logbus_alert_info {
	char name[65];
	char action[16]; /* "exec", "webhook", or "journal" (a record only) */
	char rule[512];  /* its keys as written: "level = error; exec = ..." */
	uint64_t position;     /* the last record it is done with: evaluated and
	                          its action completed */
	uint64_t fed;          /* the last record handed to its worker */
	uint64_t queued_bytes; /* handed over, not evaluated yet */
	uint64_t fired;        /* actions run since logbusd started */
	uint64_t failed;       /* of them, and of tests, failed */
	uint64_t held;         /* matches held back now (throttled) */
	uint64_t tests;        /* test actions run */
	int64_t last_fired_ns; /* when the last action ended; 0: never */
	char last_service[LOGBUS_SERVICE_MAX + 1];
	char last_result[256]; /* "alert: page exited with 0" */
} logbus_alert_info;

/*
 * The alert rules logbusd runs, and last_seq the journal's newest record
 * (a rule whose position is below it has records left to evaluate).  For
 * root, logbusd's user and the reader group.  Free *out with
 * logbus_alerts_free.
 */
LOGBUS_API int logbus_alerts(const char *run_dir, logbus_alert_info **out,
                             size_t *n, uint64_t *last_seq, char *err,
                             size_t errlen);
LOGBUS_API void logbus_alerts_free(logbus_alert_info *v);

/*
 * Make a rule run its action once for a made-up record (service logbusd,
 * logger logbus.alert), queued behind what its worker is doing.  *tests
 * (if not NULL) is the rule's count of tests before this one: the test is
 * done once logbus_alerts shows more.  LOGBUS_ENOTFOUND: no such rule.
 */
LOGBUS_API int logbus_alert_test(const char *run_dir, const char *rule,
                                 uint64_t *tests, char *err, size_t errlen);

/* ---- formatting ---------------------------------------------------------- */

enum logbus_time_style {
	LOGBUS_TIME_PYTHON = 0,  /* "2026-11-22 10:00:00,123", local time */
	LOGBUS_TIME_RFC3339 = 1, /* "2026-11-22T10:00:00.123456Z", UTC */
};

/* Returns the length written (buf holds at least 40 bytes to be safe). */
LOGBUS_API size_t logbus_format_time(int64_t ns, enum logbus_time_style style,
                                     char *buf, size_t len);

enum logbus_format {
	/* "2026-11-22 10:00:00,123 [INFO] pactown.sandbox service_123: msg",
	 * the layout of logbusd's text files: a message's further lines
	 * start with "    | ", control characters are escaped (\x1b, \r,
	 * \u009b), so that no record makes a line that reads as another */
	LOGBUS_FORMAT_TEXT = 0,
	/* one JSON object: seq, cursor, time, time_ns, level, level_no,
	 * service, logger, message, stream, fields, pid, uid, gid, comm */
	LOGBUS_FORMAT_JSON = 1,
};

/*
 * Format a record as one line ending in '\n' (text: with its marked
 * continuation lines) into *buf, which is grown with
 * realloc as needed (start with *buf = NULL, *cap = 0; free(*buf) at the
 * end).  Returns the line's length, or LOGBUS_ENOMEM.
 */
LOGBUS_API long logbus_record_format(const logbus_record *r,
                                     enum logbus_format format, char **buf,
                                     size_t *cap);

/* ---- the ABI, for bindings without a compiler ---------------------------- */

/*
 * A binding that lays out these structs itself (Python's ctypes) checks
 * them against the library it loaded before it calls anything else:
 * LOGBUS_ABI_VERSION changes whenever a public struct or a function's
 * contract changes incompatibly, and logbus_abi_size gives the library's
 * sizeof of each public struct, so a mismatch is refused with an error
 * rather than found as corrupted memory.
 */
#define LOGBUS_ABI_VERSION 1

/* LOGBUS_VERSION_STRING of the library loaded. */
LOGBUS_API const char *logbus_version(void);

/* LOGBUS_ABI_VERSION of the library loaded. */
LOGBUS_API int logbus_abi_version(void);

/* sizeof the public struct called name ("logbus_entry", ...), or 0 for a
 * name the library does not know. */
LOGBUS_API size_t logbus_abi_size(const char *name);

/* ---- helpers ------------------------------------------------------------- */

LOGBUS_API const char *logbus_strerror(int code);

/* "DEBUG", "INFO", ... for the five levels, "LEVEL<n>" written to buf for
 * any other value. */
LOGBUS_API const char *logbus_level_name(int level, char *buf, size_t len);

/* Parse "debug".."critical" (any case), "warn", "fatal", or a number 0..255.
 * Returns the level or -1. */
LOGBUS_API int logbus_level_parse(const char *s);

/* The run directory the library uses when none is given. */
LOGBUS_API const char *logbus_default_run_dir(char *buf, size_t len);

/* 0 when s is a valid service id, else LOGBUS_EINVAL. */
LOGBUS_API int logbus_service_valid(const char *s);

#ifdef __cplusplus
}
#endif
#endif
