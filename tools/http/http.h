/*
 * http.h: what the files of logbus-http share.  logbus-http is logbusd's
 * HTTP gateway, a separate program on liblogbus's public API:
 *
 *   http_main.c     main(): options, the configuration, signals
 *   http_config.c   the configuration file and the command line
 *   http_tokens.c   bearer tokens and the services each may read
 *   http_server.c   libmicrohttpd, routing, authentication, JSON errors,
 *                   the stream cap and the reaper of stalled clients
 *   http_query.c    /v1/logs parameters into a reader's options
 *   http_logs.c     /v1/logs (text, chunked follow, SSE), /v1/logs.json
 *   http_api.c      /v1/services, /v1/services/{id}/error, /v1/stats
 *   http_www.c      the Logs page at /, embedded at build time
 *   loki.c          /loki/api/v1/... (the LogQL module, loki.h)
 *
 * Threading: libmicrohttpd's thread per connection.  A request is served
 * on its connection's thread from start to end, so a handler may block on
 * liblogbus (a read, a follow) without holding up any other client; each
 * /v1/logs response owns one logbus_reader, read only on that thread.
 */
#ifndef LOGBUS_HTTP_H
#define LOGBUS_HTTP_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

#include "logbus/logbus.h"
#include "strbuf.h"

#define HTTP_DEFAULT_LISTEN "127.0.0.1:7436"

/* ---- configuration (http_config.c) --------------------------------------- */

struct http_config {
	char config_file[PATH_MAX]; /* "" when none was read */
	char run_dir[PATH_MAX];     /* "": the library's default */
	char listen[512];           /* HOST:PORT or unix:PATH */
	char tokens_file[PATH_MAX]; /* "": no tokens */
	unsigned max_streams;       /* /v1/logs responses at once */
	unsigned max_connections;   /* connections (threads) at once */
	unsigned stall_timeout_s;   /* a client that takes nothing this long */
	unsigned heartbeat_s;       /* SSE comment when idle this long */
	unsigned idle_timeout_s;    /* a connection with no request */
	size_t stream_buffer;       /* bytes a stream formats ahead */
	unsigned json_max_records;  /* records in one /v1/logs.json */
};

/* Defaults, then the file (--config or the default path when it exists),
 * then the options.  Returns 0, 1 after --help/--version (printed), or -1
 * with err saying what is wrong (exit status 2). */
int http_config_load(struct http_config *cfg, int argc, char **argv, char *err,
                     size_t errlen);

/* ---- tokens (http_tokens.c) ---------------------------------------------- */

struct token;
struct tokens;

/* Read a token file: "TOKEN PATTERN..." per line, '#' comments.  NULL with
 * err set (the file, the line, what is wrong); else a set with one
 * reference, the caller's. */
struct tokens *tokens_load(const char *path, char *err, size_t errlen);
/* Another reference to t (NULL stays NULL); the last unref frees it. */
struct tokens *tokens_ref(struct tokens *t);
void tokens_unref(struct tokens *t);
size_t tokens_count(const struct tokens *t);

/* The token whose secret is s, or NULL. */
const struct token *tokens_find(const struct tokens *t, const char *s);

/* Whether a token (NULL: no tokens configured, everything) may read
 * service. */
bool token_allows(const struct token *tok, const char *service);

/* The token's patterns that are exact service ids, for a reader's filter:
 * up to max into out; returns how many, or -1 when one is a wildcard (then
 * only the per-record check can hold the scope). */
long token_exact_services(const struct token *tok, const char **out,
                          size_t max);

/* ---- the server (http_server.c) ------------------------------------------ */

/* What the server knows of a /v1/logs response, for the stream cap and the
 * reaper of stalled clients (http_logs.c embeds it in its stream). */
struct stream_entry {
	struct stream_entry *next, *prev;
	int fd;           /* the connection's socket */
	atomic_bool busy; /* in a handler or the content callback */
	atomic_int_least64_t progress_ms; /* the client last took bytes */
	bool dropped;                     /* the reaper shut it down */
};

struct http_server {
	const struct http_config *cfg;
	const char *run_dir;   /* NULL: the library's default */
	struct tokens *tokens; /* under lock; a reference of its own */
	struct MHD_Daemon *mhd;
	int listen_fd;
	char unix_path[PATH_MAX]; /* unlinked at the end */
	atomic_bool stopping;

	pthread_mutex_t lock; /* streams and the counters below */
	struct stream_entry *streams;
	unsigned nstreams;
	uint64_t streams_served, streams_refused, stalled_dropped;
	pthread_t reaper;
	bool reaper_started;
};

/* A request as the handlers see it. */
struct http_request {
	struct http_server *srv;
	struct MHD_Connection *conn;
	const char *url;
	struct tokens *tokens;     /* a reference for the request's time */
	const struct token *token; /* NULL: no tokens configured */
};

/* Serve; the server takes over the reference to tokens (NULL: none),
 * also when it fails. */
int http_server_start(struct http_server *srv, const struct http_config *cfg,
                      struct tokens *tokens, char *err, size_t errlen);
void http_server_stop(struct http_server *srv);

/* The tokens new requests are checked against, with a reference. */
struct tokens *http_server_tokens(struct http_server *srv);
/* Replace them (the server takes over the reference to tokens); requests
 * and streams already in progress keep the set they started with. */
void http_server_set_tokens(struct http_server *srv, struct tokens *tokens);

/* Queue a response of status with body (copied) and content type. */
enum MHD_Result http_reply(struct http_request *rq, unsigned status,
                           const char *type, const char *body, size_t len);

/* A JSON error: {"error": CODE, "message": MESSAGE, "status": N}. */
enum MHD_Result http_error(struct http_request *rq, unsigned status,
                           const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The error of a liblogbus call as a response: 503 when logbusd cannot be
 * reached, 403 when it refused, 404 not found, 500 otherwise. */
enum MHD_Result http_lib_error(struct http_request *rq, int code,
                               const char *what, const char *detail);

/* Register a stream of rq's connection against the cap (busy until the
 * handler is done): false when max_streams are open. */
bool http_stream_admit(struct http_request *rq, struct stream_entry *e);
void http_stream_leave(struct http_server *srv, struct stream_entry *e);

/* ---- handlers ------------------------------------------------------------ */

enum MHD_Result logs_serve(struct http_request *rq, bool json);
enum MHD_Result api_services(struct http_request *rq);
enum MHD_Result api_error_report(struct http_request *rq, const char *service);
enum MHD_Result api_stats(struct http_request *rq);
/* The embedded page; false when path is not one of its files. */
bool www_find(const char *path, const unsigned char **data, size_t *len,
              const char **type);

/* ---- /v1/logs parameters (http_query.c) ---------------------------------- */

enum logs_format { LOGS_TEXT, LOGS_JSON };

#define LOGS_SERVICES_MAX 64

struct logs_query {
	logbus_reader_options ro; /* start, filter, follow: for the reader */
	const char *services[LOGS_SERVICES_MAX];
	size_t nservices;
	bool sse;
	enum logs_format format;
	bool timestamps;
	bool scope_check;     /* a token restricts what may leave */
	uint64_t limit_bytes; /* 0: no limit */
	bool tail_given;
	char cursor[256];
};

/* Read the request's parameters (and Last-Event-ID, Accept) into q; json
 * is /v1/logs.json.  Returns 0, or a status (400, 403) with why in err. */
unsigned logs_query_parse(struct http_request *rq, bool json,
                          struct logs_query *q, char *err, size_t errlen);

/* ---- small helpers ------------------------------------------------------- */

int64_t http_mono_ms(void);

#endif
