/*
 * http_server.c: logbus-http's HTTP side: the listening socket, the
 * libmicrohttpd daemon (a thread per connection, see http.h), routing,
 * tokens, JSON errors, and the two guards of the broker's and the other
 * clients' time:
 *
 *  - the stream cap: at most max-streams /v1/logs responses at once (each
 *    holds a reader and a thread); one more is a 503 that says so;
 *  - the reaper: a stream whose client has taken no byte for stall-timeout
 *    seconds while data waits (its socket buffer, SO_SNDBUF = stream-buffer,
 *    is full and libmicrohttpd has not asked for more) is shut down.  A
 *    stream waiting for records is not stalled: its thread is in the
 *    content callback, which watches for the client going away itself.
 *
 * Invariant: an entry is on the list only while its connection's socket is
 * open (it leaves in the response's free callback, before libmicrohttpd
 * closes the socket), and the reaper shuts a socket down only under the
 * lock, so it never touches a descriptor number that was reused.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "loki.h"

#define REAPER_TICK_MS 250

int64_t http_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- replies ------------------------------------------------------------- */

enum MHD_Result http_reply(struct http_request *rq, unsigned status,
                           const char *type, const char *body, size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
	    len, (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	if (status == 401)
		MHD_add_response_header(r, "WWW-Authenticate",
		                        "Bearer realm=\"logbus\"");
	ret = MHD_queue_response(rq->conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

enum MHD_Result http_error(struct http_request *rq, unsigned status,
                           const char *code, const char *fmt, ...)
{
	struct strbuf b = {0};
	char msg[1024];
	enum MHD_Result ret;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	sb_puts(&b, "{\"error\":");
	sb_json_str(&b, code, strlen(code));
	sb_puts(&b, ",\"message\":");
	sb_json_str(&b, msg, strlen(msg));
	sb_printf(&b, ",\"status\":%u}\n", status);
	ret = b.failed ? MHD_NO
	               : http_reply(rq, status, "application/json", b.p, b.len);
	sb_free(&b);
	return ret;
}

enum MHD_Result http_lib_error(struct http_request *rq, int code,
                               const char *what, const char *detail)
{
	const char *d = detail && *detail ? detail : logbus_strerror(code);

	switch (code) {
	case LOGBUS_EUNREACHABLE:
	case LOGBUS_ETIMEDOUT:
		return http_error(rq, 503, "logbusd_unreachable",
		                  "%s: %s: is logbusd running?", what, d);
	case LOGBUS_EREJECTED:
		return http_error(rq, 403, "denied", "%s: logbusd refused: %s",
		                  what, d);
	case LOGBUS_ENOTFOUND:
		return http_error(rq, 404, "not_found", "%s: %s", what, d);
	case LOGBUS_EINVAL:
		return http_error(rq, 400, "bad_request", "%s: %s", what, d);
	case LOGBUS_ECURSOR:
		return http_error(rq, 400, "bad_cursor", "%s: %s", what, d);
	case LOGBUS_EEXPIRED:
		return http_error(rq, 410, "cursor_expired", "%s: %s", what, d);
	default:
		return http_error(rq, 502, "logbusd_error", "%s: %s", what, d);
	}
}

/* ---- streams: the cap and the reaper ------------------------------------ */

bool http_stream_admit(struct http_request *rq, struct stream_entry *e)
{
	struct http_server *srv = rq->srv;
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
	    rq->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	bool ok;

	e->fd = ci ? ci->connect_fd : -1;
	atomic_store(&e->busy, true);
	atomic_store(&e->progress_ms, http_mono_ms());
	pthread_mutex_lock(&srv->lock);
	ok = srv->nstreams < srv->cfg->max_streams;
	if (ok) {
		e->prev = NULL;
		e->next = srv->streams;
		if (srv->streams)
			srv->streams->prev = e;
		srv->streams = e;
		srv->nstreams++;
		srv->streams_served++;
	} else {
		srv->streams_refused++;
	}
	pthread_mutex_unlock(&srv->lock);
	return ok;
}

void http_stream_leave(struct http_server *srv, struct stream_entry *e)
{
	pthread_mutex_lock(&srv->lock);
	if (e->prev)
		e->prev->next = e->next;
	else
		srv->streams = e->next;
	if (e->next)
		e->next->prev = e->prev;
	srv->nstreams--;
	pthread_mutex_unlock(&srv->lock);
}

static void *reaper_main(void *arg)
{
	struct http_server *srv = arg;
	int64_t limit = (int64_t)srv->cfg->stall_timeout_s * 1000;

	while (!atomic_load(&srv->stopping)) {
		struct timespec tick = {0, REAPER_TICK_MS * 1000000L};
		nanosleep(&tick, NULL);
		int64_t now = http_mono_ms();
		pthread_mutex_lock(&srv->lock);
		for (struct stream_entry *e = srv->streams; e; e = e->next) {
			if (e->dropped || atomic_load(&e->busy) ||
			    now - atomic_load(&e->progress_ms) < limit)
				continue;
			e->dropped = true;
			srv->stalled_dropped++;
			if (e->fd >= 0)
				shutdown(e->fd, SHUT_RDWR);
		}
		pthread_mutex_unlock(&srv->lock);
	}
	return NULL;
}

/* ---- routing ------------------------------------------------------------- */

struct loki_args {
	struct http_arg *v;
	size_t n, cap;
};

static enum MHD_Result on_loki_arg(void *cls, enum MHD_ValueKind kind,
                                   const char *key, const char *value)
{
	struct loki_args *a = cls;

	(void)kind;
	if (strcmp(key, "token") == 0)
		return MHD_YES;
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 16;
		struct http_arg *v = realloc(a->v, cap * sizeof *v);
		if (v == NULL)
			return MHD_NO;
		a->v = v;
		a->cap = cap;
	}
	a->v[a->n++] = (struct http_arg){key, value ? value : ""};
	return MHD_YES;
}

static bool loki_allow(void *ctx, const char *service)
{
	return token_allows(ctx, service);
}

static enum MHD_Result serve_loki(struct http_request *rq)
{
	struct loki_args a = {0};
	char *body = NULL;
	size_t len = 0;
	int status;
	enum MHD_Result ret;

	MHD_get_connection_values(rq->conn, MHD_GET_ARGUMENT_KIND, on_loki_arg,
	                          &a);
	status = loki_serve(rq->srv->run_dir, rq->url, a.v, a.n,
	                    rq->token ? loki_allow : NULL, (void *)rq->token,
	                    &body, &len);
	free(a.v);
	if (body == NULL)
		return http_error(rq, 500, "internal", "%s: out of memory",
		                  rq->url);
	ret = http_reply(rq, (unsigned)status, "application/json", body, len);
	free(body);
	return ret;
}

static enum MHD_Result serve_www(struct http_request *rq)
{
	const unsigned char *data;
	const char *type;
	size_t len;

	if (!www_find(rq->url, &data, &len, &type))
		return http_error(rq, 404, "not_found",
		                  "%.200s: no such page; the API is under /v1/ "
		                  "(/v1/logs, /v1/logs.json, /v1/services, "
		                  "/v1/stats)",
		                  rq->url);
	return http_reply(rq, 200, type, (const char *)data, len);
}

struct tokens *http_server_tokens(struct http_server *srv)
{
	struct tokens *t;

	pthread_mutex_lock(&srv->lock);
	t = tokens_ref(srv->tokens);
	pthread_mutex_unlock(&srv->lock);
	return t;
}

void http_server_set_tokens(struct http_server *srv, struct tokens *tokens)
{
	struct tokens *old;

	pthread_mutex_lock(&srv->lock);
	old = srv->tokens;
	srv->tokens = tokens;
	pthread_mutex_unlock(&srv->lock);
	tokens_unref(old);
}

/* The token of the request: "Authorization: Bearer T", else ?token=T (an
 * EventSource cannot set headers). */
static bool authenticate(struct http_request *rq)
{
	const char *h, *secret = NULL;

	if (rq->tokens == NULL)
		return true;
	h = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND,
	                                "Authorization");
	if (h && strncasecmp(h, "Bearer ", 7) == 0)
		secret = h + 7;
	else
		secret = MHD_lookup_connection_value(
		    rq->conn, MHD_GET_ARGUMENT_KIND, "token");
	rq->token = tokens_find(rq->tokens, secret);
	return rq->token != NULL;
}

static enum MHD_Result route(struct http_request *rq)
{
	const char *u = rq->url;
	static const char svc[] = "/v1/services/";

	if (strncmp(u, "/v1/", 4) != 0 && strncmp(u, "/loki/", 6) != 0)
		return serve_www(rq); /* the page holds no records */
	if (!authenticate(rq))
		return http_error(
		    rq, 401, "unauthorized",
		    "a token is needed: send Authorization: Bearer "
		    "TOKEN (or ?token=TOKEN), one of %s",
		    rq->srv->cfg->tokens_file);
	if (strcmp(u, "/v1/logs") == 0)
		return logs_serve(rq, false);
	if (strcmp(u, "/v1/logs.json") == 0)
		return logs_serve(rq, true);
	if (strcmp(u, "/v1/services") == 0)
		return api_services(rq);
	if (strcmp(u, "/v1/stats") == 0)
		return api_stats(rq);
	if (strncmp(u, svc, sizeof svc - 1) == 0) {
		const char *id = u + sizeof svc - 1, *slash = strchr(id, '/');
		char name[LOGBUS_SERVICE_MAX + 1];
		size_t n = slash ? (size_t)(slash - id) : 0;
		if (slash && strcmp(slash, "/error") == 0 && n > 0 &&
		    n < sizeof name) {
			memcpy(name, id, n);
			name[n] = '\0';
			return api_error_report(rq, name);
		}
	}
	if (strncmp(u, "/loki/api/v1/", 13) == 0)
		return serve_loki(rq);
	return http_error(rq, 404, "not_found",
	                  "%.200s: no such endpoint (/v1/logs, /v1/logs.json, "
	                  "/v1/services, /v1/services/ID/error, /v1/stats, "
	                  "/loki/api/v1/...)",
	                  u);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
	struct http_request rq = {.srv = cls, .conn = conn, .url = url};
	static int seen;
	enum MHD_Result ret;

	(void)version, (void)upload, (void)upload_size;
	if (*con_cls == NULL) {
		*con_cls = &seen;
		if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) {
			rq.tokens = http_server_tokens(rq.srv);
			ret = route(&rq);
			tokens_unref(rq.tokens);
			return ret;
		}
		return http_error(&rq, 405, "method_not_allowed",
		                  "%.16s: logbus-http only reads (GET)",
		                  method);
	}
	return MHD_NO; /* a body we did not ask for */
}

static void on_connection(void *cls, struct MHD_Connection *conn,
                          void **socket_ctx,
                          enum MHD_ConnectionNotificationCode code)
{
	struct http_server *srv = cls;
	const union MHD_ConnectionInfo *ci;
	int size;

	(void)socket_ctx;
	if (code != MHD_CONNECTION_NOTIFY_STARTED)
		return;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	size = (int)srv->cfg->stream_buffer;
	/* Bounds what the kernel holds for a client that stops reading. */
	if (ci)
		setsockopt(ci->connect_fd, SOL_SOCKET, SO_SNDBUF, &size,
		           sizeof size);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof msg, fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	fprintf(stderr, "logbus-http: libmicrohttpd: %s\n", msg);
}

/* ---- the listening socket ------------------------------------------------ */

static bool addr_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)(const void *)sa)
		                  ->sin_addr.s_addr) >>
		        24) == 127;
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(
		    &((const struct sockaddr_in6 *)(const void *)sa)
		         ->sin6_addr);
	return false;
}

static int listen_unix(struct http_server *srv, const char *path, char *err,
                       size_t errlen)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof sun.sun_path) {
		snprintf(err, errlen, "--listen unix:%s: path too long", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	/* A socket file left by a server that died: nobody answers on it. */
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0 &&
	    errno == ECONNREFUSED)
		unlink(path);
	close(fd);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof sun) < 0 ||
	    chmod(path, 0660) < 0 || listen(fd, 128) < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s%s", path,
		         strerror(errno),
		         errno == EADDRINUSE ? " (another server is there)"
		                             : "");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	snprintf(srv->unix_path, sizeof srv->unix_path, "%s", path);
	fprintf(stderr, "logbus-http: listening on unix:%s\n", path);
	return fd;
}

/* HOST:PORT, [V6]:PORT.  Anything but loopback needs tokens. */
static int listen_tcp(struct http_server *srv, const char *addr, char *err,
                      size_t errlen)
{
	char host[256], shown[INET6_ADDRSTRLEN];
	const char *colon = strrchr(addr, ':'), *port;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_PASSIVE | AI_NUMERICSERV},
	                *res = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	int fd = -1, one = 1, rc;
	size_t hl;

	if (colon == NULL || colon == addr || colon[1] == '\0') {
		snprintf(err, errlen,
		         "--listen %s: not HOST:PORT or unix:PATH (e.g. %s)",
		         addr, HTTP_DEFAULT_LISTEN);
		return -1;
	}
	port = colon + 1;
	hl = (size_t)(colon - addr);
	if (addr[0] == '[' && colon[-1] == ']')
		addr++, hl -= 2;
	if (hl >= sizeof host) {
		snprintf(err, errlen, "--listen: host too long");
		return -1;
	}
	memcpy(host, addr, hl);
	host[hl] = '\0';
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "--listen %s:%s: %s", host, port,
		         gai_strerror(rc));
		return -1;
	}
	if (!addr_is_loopback(res->ai_addr) && srv->tokens == NULL) {
		snprintf(
		    err, errlen,
		    "--listen %s:%s is not a loopback address: without "
		    "tokens anybody who reaches it would read the logs; set "
		    "[http] tokens (see README) or listen on 127.0.0.1",
		    host, port);
		freeaddrinfo(res);
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) < 0 ||
	    listen(fd, 128) < 0) {
		snprintf(err, errlen, "cannot listen on %s:%s: %s", host, port,
		         strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	if (ss.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr,
		          shown, sizeof shown);
	else
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr,
		          shown, sizeof shown);
	fprintf(stderr, "logbus-http: listening on http://%s%s%s:%u/\n",
	        ss.ss_family == AF_INET6 ? "[" : "", shown,
	        ss.ss_family == AF_INET6 ? "]" : "",
	        ntohs(ss.ss_family == AF_INET6
	                  ? ((struct sockaddr_in6 *)&ss)->sin6_port
	                  : ((struct sockaddr_in *)&ss)->sin_port));
	return fd;
}

int http_server_start(struct http_server *srv, const struct http_config *cfg,
                      struct tokens *tokens, char *err, size_t errlen)
{
	memset(srv, 0, sizeof *srv);
	srv->cfg = cfg;
	srv->tokens = tokens;
	srv->run_dir = cfg->run_dir[0] ? cfg->run_dir : NULL;
	pthread_mutex_init(&srv->lock, NULL);
	srv->listen_fd = strncmp(cfg->listen, "unix:", 5) == 0
	                     ? listen_unix(srv, cfg->listen + 5, err, errlen)
	                     : listen_tcp(srv, cfg->listen, err, errlen);
	if (srv->listen_fd < 0) {
		tokens_unref(srv->tokens);
		pthread_mutex_destroy(&srv->lock);
		return -1;
	}
	srv->mhd = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
	        MHD_USE_POLL | MHD_USE_ERROR_LOG,
	    0, NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER,
	    on_mhd_log, srv, MHD_OPTION_LISTEN_SOCKET, srv->listen_fd,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->idle_timeout_s,
	    MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv, MHD_OPTION_END);
	if (srv->mhd == NULL) {
		snprintf(err, errlen, "libmicrohttpd did not start on %s",
		         cfg->listen);
		close(srv->listen_fd);
		tokens_unref(srv->tokens);
		pthread_mutex_destroy(&srv->lock);
		return -1;
	}
	if (pthread_create(&srv->reaper, NULL, reaper_main, srv) != 0) {
		snprintf(err, errlen, "cannot start a thread: %s",
		         strerror(errno));
		http_server_stop(srv);
		return -1;
	}
	srv->reaper_started = true;
	return 0;
}

void http_server_stop(struct http_server *srv)
{
	atomic_store(&srv->stopping, true);
	if (srv->reaper_started)
		pthread_join(srv->reaper, NULL);
	if (srv->mhd)
		MHD_stop_daemon(srv->mhd); /* streams see stopping and end;
		                              it closes the listening socket */
	else if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	if (srv->unix_path[0])
		unlink(srv->unix_path);
	tokens_unref(srv->tokens);
	srv->tokens = NULL;
	pthread_mutex_destroy(&srv->lock);
}
