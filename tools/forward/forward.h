/*
 * forward.h: what logbus-forward's files share.  logbus-forward reads
 * logbusd's journal through liblogbus's public API and sends what each
 * [output NAME] selects to a destination, at least once.
 *
 *   forward_main.c     the command line, the threads, signals, --stats
 *   forward_config.c   the INI file ([forward], [output NAME])
 *   forward_state.c    the positions file: one cursor per output, replaced
 *                      atomically after every acknowledged batch
 *   forward_output.c   one output's loop: read, batch, send, retry with
 *                      backoff, advance; its figures for the status file
 *   forward_status.c   the status file --stats prints
 *   forward_http.c     HTTP POST through libcurl (ClickHouse, Loki)
 *   forward_syslog.c   RFC 5424 text of a record (RELP and TCP)
 *   sink_*.c           one file per destination, behind struct sink_ops
 *
 * The one invariant: an output's position names the last record its
 * destination acknowledged, never one it has only been sent.  A record is
 * sent again (never lost) when the forwarder, logbusd or the destination
 * stops between the send and the position's write.
 */
#ifndef LOGBUS_FORWARD_H
#define LOGBUS_FORWARD_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <logbus/logbus.h>

#include "strbuf.h"

#define FWD_NAME_MAX   64
#define FWD_CURSOR_MAX 128
#define FWD_ERR_MAX    512
#define FWD_MSG_MAX    2048 /* a sentence built around an error */
#define FWD_SERVICES   32
#define FWD_VALUE_MAX  512

enum fwd_type {
	FWD_CLICKHOUSE,
	FWD_RELP,
	FWD_SYSLOG_TCP,
	FWD_LOKI,
};

/* One [output NAME] section. */
struct fwd_output_config {
	char name[FWD_NAME_MAX + 1];
	enum fwd_type type;
	/* the logbus filter */
	char *services[FWD_SERVICES];
	size_t nservices;
	int min_level;
	char logger[LOGBUS_LOGGER_MAX + 1];
	unsigned streams;
	char regex[FWD_VALUE_MAX];
	bool start_new; /* without a position: from now, not the head */
	/* batching and retries */
	size_t batch_records;
	size_t batch_bytes;
	int batch_wait_ms;
	int retry_max_ms;
	int timeout_ms; /* one send */
	/* destination: url for HTTP ones, host and port for syslog ones */
	char url[FWD_VALUE_MAX];
	char host[256];
	char port[16];
	char table[FWD_NAME_MAX + 1];    /* ClickHouse */
	bool create_table;               /* ClickHouse */
	char user[FWD_NAME_MAX + 1];     /* ClickHouse */
	char password[FWD_NAME_MAX + 1]; /* ClickHouse */
	char tenant[FWD_NAME_MAX + 1];   /* Loki's X-Scope-OrgID */
	bool fields_as_metadata;         /* Loki: else in the line */
	char hostname[256];              /* syslog HOSTNAME, Loki's host */
	int facility;                    /* syslog */
};

struct fwd_config {
	char path[4096]; /* the file read */
	char run_dir[4096];
	char state_file[4096];
	char status_file[4096];
	struct fwd_output_config *outputs;
	size_t noutputs;
};

/* Read path into cfg (zeroed first).  Returns 0, or -1 with err saying
 * FILE:LINE: what is wrong. */
int config_load(struct fwd_config *cfg, const char *path, char *err,
                size_t errlen);
void config_fini(struct fwd_config *cfg);
const char *config_type_name(enum fwd_type t);

/* ---- positions ------------------------------------------------------------
 */

struct fwd_state;

/* Open (and lock) the positions file; a missing one is empty.  Returns NULL
 * with err set. */
struct fwd_state *state_open(const char *path, char *err, size_t errlen);
/* The cursor kept for output name into out ("" when none). */
void state_get(struct fwd_state *st, const char *name,
               char out[FWD_CURSOR_MAX]);
/* Set output name's cursor and replace the file (temporary file, fsync,
 * rename, directory fsync).  Thread-safe.  Returns 0, or -1 with err. */
int state_set(struct fwd_state *st, const char *name, const char *cursor,
              char *err, size_t errlen);
void state_close(struct fwd_state *st);

/* ---- destinations -----------------------------------------------------------
 */

enum sink_result {
	SINK_OK = 0,       /* acknowledged: the position may advance */
	SINK_RETRY = 1,    /* not acknowledged: send the same batch again */
	SINK_REJECTED = 2, /* refused for good (Loki's 400): counted, and the
	                      position advances past it */
};

struct sink;

/* A destination.  add() encodes one record into the batch being built;
 * send() sends the whole batch, as often as it is asked to, unchanged;
 * clear() starts the next batch. */
struct sink_ops {
	struct sink *(*open)(const struct fwd_output_config *oc);
	void (*add)(struct sink *s, const logbus_record *r);
	/* bytes encoded so far (a batch is sent at batch-bytes) */
	size_t (*size)(struct sink *s);
	enum sink_result (*send)(struct sink *s, char *err, size_t errlen);
	void (*clear)(struct sink *s);
	void (*close)(struct sink *s);
};

extern const struct sink_ops sink_clickhouse, sink_relp, sink_syslog_tcp,
    sink_loki;

/* ---- HTTP (forward_http.c) ------------------------------------------------
 */

struct http_post {
	const char *url;
	const char *const *headers; /* "Name: value" */
	size_t nheaders;
	const char *user, *password; /* NULL: none */
	const char *body;
	size_t body_len;
	int timeout_ms;
};

/* POST, returning the HTTP status (0 when none came: err says why); the
 * start of the answer's body is copied into err for a status >= 300, and
 * Retry-After (seconds) into *retry_after_s when given (else -1). */
int http_post(void *curl, const struct http_post *p, long *retry_after_s,
              char *err, size_t errlen);
void *http_new(void);
void http_free(void *curl);

/* ---- RFC 5424 (forward_syslog.c) ------------------------------------------
 */

/* Append record r as one RFC 5424 message (no framing) to b. */
void syslog_format(struct strbuf *b, const logbus_record *r,
                   const char *hostname, int facility);
/* The severity for a logbus level (CRITICAL 2 ... DEBUG 7). */
int syslog_severity(int level);
/* The facility's number for its name ("user", "local0", ...), or -1. */
int syslog_facility(const char *name);

/* A record's journal id (hex) and sequence number from its cursor. */
bool record_journal(const logbus_record *r, char id[33]);

/* A structured field's value as text (what -F KEY=VALUE compares). */
void fields_text_value(struct strbuf *b, const logbus_field *f);

/* ---- one output (forward_output.c) ------------------------------------------
 */

/* What the status file shows of an output; guarded by mu. */
struct fwd_figures {
	uint64_t forwarded, batches, retries, rejected, skipped, sent_again;
	uint64_t position_seq; /* last acknowledged record's seq, 0: none */
	int64_t oldest_pending_recv_ns; /* 0: nothing waiting */
	int64_t last_ack_ns;
	char state[32]; /* "ok", "retrying", "waiting for logbusd", ... */
	char last_error[FWD_MSG_MAX];
	int64_t last_error_ns;
};

struct fwd_output {
	const struct fwd_output_config *cfg;
	const char *run_dir;
	struct fwd_state *state;
	const char *state_path; /* for messages */
	const struct sink_ops *ops;
	pthread_t thread;
	logbus_reader *reader; /* set while open, for interrupt */
	volatile int *stop;
	pthread_mutex_t mu;
	struct fwd_figures fig;
	bool failed; /* stopped for good (see last_error) */
};

int output_start(struct fwd_output *o);
/* After *stop was set: interrupt the reader and join the thread. */
void output_join(struct fwd_output *o);
void output_figures(struct fwd_output *o, struct fwd_figures *out);
/* Whether the output stopped for good (its last_error says why). */
bool output_failed(struct fwd_output *o);

/* ---- status file (forward_status.c) -------------------------------------- */

int status_write(const struct fwd_config *cfg, struct fwd_output *outs,
                 size_t n, char *err, size_t errlen);
/* --stats: print the status file with whether its writer still runs. */
int status_print(const struct fwd_config *cfg);

/* A line on stderr, "logbus-forward: ...". */
void fwd_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
