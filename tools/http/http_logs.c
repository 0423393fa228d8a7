/*
 * http_logs.c: GET /v1/logs and GET /v1/logs.json, records of logbusd's
 * journal over HTTP.
 *
 * /v1/logs is a stream: its own logbus_reader, read on its connection's
 * thread in libmicrohttpd's content callback, formatted into a buffer of
 * at most stream-buffer bytes (plus one record) that libmicrohttpd hands to
 * the socket.  The reader is pulled, never pushed: a client that reads
 * slowly only makes its own reader fall behind (liblogbus repairs that from
 * the journal), and one that stops reading is dropped by the reaper
 * (http_server.c).  Three shapes:
 *
 *  - text/plain (default): each record as logbusctl and the text files
 *    write it (shared/textline.h: escaped, further lines after "    | ",
 *    so no record can forge a line), or a JSON object per line with
 *    format=json; with timestamps=1 each record starts with its RFC 3339
 *    time.  A snapshot ends when it has caught up; follow=1 goes on
 *    (chunked);
 *  - text/event-stream (Accept: text/event-stream, or format=sse), always
 *    following: per record "event: log", "id: CURSOR", a "data: " line per
 *    line of the text (JSON with format=json).  Last-Event-ID resumes after
 *    that record: none lost, none twice.  An idle stream sends a comment
 *    every heartbeat seconds; a cursor older than the journal keeps gets
 *    "event: error" (what was lost, from where it goes on) and the stream
 *    carries on from the oldest record kept, as `logbusctl tail -f` does.
 *
 * A stream that waits for records looks at its client every
 * WAIT_SLICE_MS: one that hung up is ended then, not at the next record.
 *
 * /v1/logs.json is one JSON document: {"logs": [text lines], "cursor":
 * where to go on from, "records": [JSON records], "more": true when
 * json-max-records cut it}.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

#define WAIT_SLICE_MS 250
#define SSE_RETRY_MS  1000

struct logstream {
	struct stream_entry entry;
	struct http_server *srv;
	struct tokens *tokens; /* a reference: token and q point into it */
	const struct token *token;
	struct logs_query q;
	logbus_reader *reader;
	struct strbuf out; /* formatted, from off on not yet handed out */
	size_t off;
	char *line; /* logbus_record_format's buffer */
	size_t linecap;
	const logbus_record *primed; /* read by the handler, not yet sent */
	uint64_t bytes;              /* record bytes sent, for limitBytes */
	int64_t heartbeat_at;        /* mono ms */
	bool ended, failed, said_waiting;
};

/* ---- one record -----------------------------------------------------------
 */

/* The record as its line(s) in s->line; length, or -1. */
static long record_line(struct logstream *s, const logbus_record *rec)
{
	return logbus_record_format(
	    rec,
	    s->q.format == LOGS_JSON ? LOGBUS_FORMAT_JSON : LOGBUS_FORMAT_TEXT,
	    &s->line, &s->linecap);
}

static void put_time_prefix(struct strbuf *b, const logbus_record *rec)
{
	char t[64];
	size_t n =
	    logbus_format_time(rec->time_ns, LOGBUS_TIME_RFC3339, t, sizeof t);

	sb_put(b, t, n);
	sb_put(b, " ", 1);
}

/* Lines of text as SSE data lines: "data: LINE\n" each. */
static void put_sse_data(struct strbuf *b, const char *text, size_t len)
{
	while (len > 0) {
		const char *nl = memchr(text, '\n', len);
		size_t n = nl ? (size_t)(nl - text) : len;
		sb_put(b, "data: ", 6);
		sb_put(b, text, n);
		sb_put(b, "\n", 1);
		n += nl != NULL;
		text += n;
		len -= n;
	}
}

static void stream_emit(struct logstream *s, const logbus_record *rec)
{
	long n;

	if (s->q.scope_check && !token_allows(s->token, rec->service))
		return;
	if ((n = record_line(s, rec)) < 0) {
		s->ended = s->failed = true;
		return;
	}
	if (s->q.limit_bytes && s->bytes + (uint64_t)n > s->q.limit_bytes) {
		s->ended = true; /* whole lines only */
		return;
	}
	s->bytes += (uint64_t)n;
	if (!s->q.sse) {
		if (s->q.timestamps)
			put_time_prefix(&s->out, rec);
		sb_put(&s->out, s->line, (size_t)n);
		return;
	}
	sb_puts(&s->out, "event: log\nid: ");
	sb_puts(&s->out, rec->cursor);
	sb_put(&s->out, "\n", 1);
	if (s->q.timestamps) {
		struct strbuf t = {0};
		put_time_prefix(&t, rec);
		sb_put(&t, s->line, (size_t)n);
		if (!t.failed)
			put_sse_data(&s->out, t.p, t.len);
		sb_free(&t);
	} else {
		put_sse_data(&s->out, s->line, (size_t)n);
	}
	sb_put(&s->out, "\n", 1);
}

/* "event: error" with a JSON object. */
static void stream_sse_error(struct logstream *s, const char *code,
                             const char *msg)
{
	struct strbuf j = {0};

	sb_puts(&j, "{\"error\":");
	sb_json_str(&j, code, strlen(code));
	sb_puts(&j, ",\"message\":");
	sb_json_str(&j, msg, strlen(msg));
	sb_puts(&j, "}");
	sb_puts(&s->out, "event: error\n");
	if (!j.failed)
		put_sse_data(&s->out, j.p, j.len);
	sb_put(&s->out, "\n", 1);
	sb_free(&j);
}

/* ---- reading ------------------------------------------------------------- */

/* Whether the client hung up (or the socket failed). */
static bool client_gone(const struct logstream *s)
{
	struct pollfd p = {.fd = s->entry.fd, .events = POLLRDHUP};

	if (s->entry.fd < 0)
		return false;
	return poll(&p, 1, 0) == 1 &&
	       (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

/* After the reader's position fell out of retention. */
static void stream_expired(struct logstream *s)
{
	char msg[512];

	snprintf(msg, sizeof msg,
	         "cursor expired: records up to %llu were removed by the "
	         "journal's retention before they were read; going on from the "
	         "oldest record kept",
	         (unsigned long long)(logbus_reader_oldest_seq(s->reader) - 1));
	if (s->q.sse)
		stream_sse_error(s, "cursor_expired", msg);
	else
		fprintf(stderr, "logbus-http: a follower's %s\n", msg);
	if (logbus_reader_skip_expired(s->reader) != 0)
		s->ended = s->failed = true;
}

/* A passing error (logbusd away or restarting) on a follower. */
static void stream_waiting(struct logstream *s)
{
	if (s->said_waiting)
		return;
	s->said_waiting = true;
	if (s->q.sse) {
		sb_puts(&s->out, ": waiting for logbusd: ");
		sb_puts(&s->out, logbus_reader_error(s->reader));
		sb_puts(&s->out, "\n\n");
	}
}

/* Fill s->out with what is there to send: at least one record, or an SSE
 * comment, or nothing when the stream ended. */
static void stream_produce(struct logstream *s)
{
	size_t want = s->srv->cfg->stream_buffer;

	while (!s->ended && s->out.len < want && !s->out.failed) {
		const logbus_record *rec = NULL;
		int rc, wait;

		if (atomic_load(&s->srv->stopping)) {
			s->ended = true;
			break;
		}
		if (s->primed) {
			rec = s->primed;
			s->primed = NULL;
			rc = 1;
		} else {
			wait = !s->q.ro.follow ? -1
			       : s->out.len    ? 0
			                       : WAIT_SLICE_MS;
			rc = logbus_reader_next(s->reader, &rec, wait);
		}
		if (rc == 1) {
			s->said_waiting = false;
			stream_emit(s, rec);
			continue;
		}
		if (rc == 0 && !s->q.ro.follow) {
			s->ended = true;
			break;
		}
		if (s->out.len)
			break;
		if (rc == LOGBUS_EEXPIRED) {
			stream_expired(s);
			continue;
		}
		if (rc < 0 && (!s->q.ro.follow || (rc != LOGBUS_EUNREACHABLE &&
		                                   rc != LOGBUS_ETIMEDOUT))) {
			fprintf(stderr,
			        "logbus-http: a stream of /v1/logs ended: "
			        "%s\n",
			        logbus_reader_error(s->reader));
			if (s->q.sse)
				stream_sse_error(
				    s, "logbusd_error",
				    logbus_reader_error(s->reader));
			s->failed = !s->q.sse; /* text: a cut body */
			s->ended = true;
			break;
		}
		if (rc < 0)
			stream_waiting(s);
		if (client_gone(s)) {
			s->ended = s->failed = true;
			break;
		}
		if (s->q.sse && http_mono_ms() >= s->heartbeat_at)
			sb_puts(&s->out, ": keep-alive\n\n");
		if (s->out.len)
			break;
	}
	if (s->q.sse && s->out.len)
		s->heartbeat_at =
		    http_mono_ms() + (int64_t)s->srv->cfg->heartbeat_s * 1000;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct logstream *s = cls;
	ssize_t n;

	(void)pos;
	atomic_store(&s->entry.busy, true);
	if (s->off == s->out.len) {
		sb_reset(&s->out);
		s->off = 0;
		stream_produce(s);
	}
	if (s->off < s->out.len && !s->out.failed) {
		size_t left = s->out.len - s->off;
		n = (ssize_t)(left < max ? left : max);
		memcpy(buf, s->out.p + s->off, (size_t)n);
		s->off += (size_t)n;
	} else {
		n = s->failed ? MHD_CONTENT_READER_END_WITH_ERROR
		              : MHD_CONTENT_READER_END_OF_STREAM;
	}
	atomic_store(&s->entry.progress_ms, http_mono_ms());
	atomic_store(&s->entry.busy, false);
	return n;
}

static void stream_free(void *cls)
{
	struct logstream *s = cls;

	http_stream_leave(s->srv, &s->entry);
	if (s->reader)
		logbus_reader_close(s->reader);
	sb_free(&s->out);
	free(s->line);
	tokens_unref(s->tokens);
	free(s);
}

/* ---- the handlers ----------------------------------------------------------
 */

static logbus_reader *open_reader(struct http_request *rq, struct logs_query *q,
                                  enum MHD_Result *ret)
{
	logbus_reader *r = NULL;
	char err[512] = "";
	int rc;

	q->ro.error = err;
	q->ro.error_len = sizeof err;
	rc = logbus_reader_open(&r, &q->ro);
	q->ro.error = NULL;
	if (rc == 0)
		return r;
	*ret = http_lib_error(rq, rc, "reading logbusd's journal", err);
	return NULL;
}

static enum MHD_Result logs_json(struct http_request *rq, struct logs_query *q)
{
	struct strbuf logs = {0}, recs = {0}, doc = {0};
	logbus_reader *r;
	enum MHD_Result ret = MHD_NO;
	char *line = NULL, last[256] = "";
	size_t cap = 0, n = 0, max = rq->srv->cfg->json_max_records;
	const logbus_record *rec;
	const char *cursor;
	uint64_t bytes = 0;
	bool more = false;
	long len;
	int rc;

	if ((r = open_reader(rq, q, &ret)) == NULL)
		return ret;
	while ((rc = logbus_reader_next(r, &rec, -1)) == 1) {
		if (q->scope_check && !token_allows(rq->token, rec->service))
			continue;
		if ((len = logbus_record_format(rec, LOGBUS_FORMAT_TEXT, &line,
		                                &cap)) < 0)
			break;
		if (n == max || (q->limit_bytes &&
		                 bytes + (uint64_t)len > q->limit_bytes)) {
			more = true;
			break;
		}
		bytes += (uint64_t)len;
		sb_puts(&logs, n ? ",\n" : "\n");
		sb_json_str(&logs, line, (size_t)len - 1);
		if ((len = logbus_record_format(rec, LOGBUS_FORMAT_JSON, &line,
		                                &cap)) < 0)
			break;
		sb_puts(&recs, n ? ",\n" : "\n");
		sb_put(&recs, line, (size_t)len - 1);
		snprintf(last, sizeof last, "%s", rec->cursor);
		n++;
	}
	if (rc < 0) {
		ret = http_lib_error(rq, rc, "reading logbusd's journal",
		                     logbus_reader_error(r));
		goto out;
	}
	/* Cut short, the reader is past a record not shown: go on from the
	 * last one shown. */
	cursor =
	    more ? (last[0] ? last : q->ro.cursor) : logbus_reader_cursor(r);
	sb_puts(&doc, "{\"logs\":[");
	sb_put(&doc, logs.p ? logs.p : "", logs.len);
	sb_puts(&doc, "],\n\"cursor\":");
	if (cursor)
		sb_json_str(&doc, cursor, strlen(cursor));
	else
		sb_puts(&doc, "null");
	sb_puts(&doc, ",\n\"records\":[");
	sb_put(&doc, recs.p ? recs.p : "", recs.len);
	sb_printf(&doc, "],\n\"more\":%s}\n", more ? "true" : "false");
	if (logs.failed || recs.failed || doc.failed)
		ret = http_error(rq, 500, "internal", "out of memory");
	else
		ret = http_reply(rq, 200, "application/json", doc.p, doc.len);
out:
	logbus_reader_close(r);
	free(line);
	sb_free(&logs);
	sb_free(&recs);
	sb_free(&doc);
	return ret;
}

enum MHD_Result logs_serve(struct http_request *rq, bool json)
{
	struct logstream *s;
	struct MHD_Response *resp;
	enum MHD_Result ret = MHD_NO;
	char err[512];
	unsigned status;

	s = calloc(1, sizeof *s);
	if (s == NULL)
		return http_error(rq, 500, "internal", "out of memory");
	if ((status = logs_query_parse(rq, json, &s->q, err, sizeof err))) {
		free(s);
		return http_error(rq, status,
		                  status == 403 ? "forbidden" : "bad_request",
		                  "%s", err);
	}
	if (json) {
		ret = logs_json(rq, &s->q);
		free(s);
		return ret;
	}
	s->srv = rq->srv;
	s->token = rq->token;
	if (!http_stream_admit(rq, &s->entry)) {
		free(s);
		return http_error(rq, 503, "too_many_streams",
		                  "%u streams of /v1/logs are open, the most "
		                  "logbus-http serves at once ([limits] "
		                  "max-streams); try again later",
		                  rq->srv->cfg->max_streams);
	}
	s->tokens = tokens_ref(rq->tokens); /* until stream_free */
	if ((s->reader = open_reader(rq, &s->q, &ret)) == NULL) {
		stream_free(s);
		return ret;
	}
	/* A snapshot reads its first record before the status is sent, so
	 * that a bad cursor or an absent logbusd is a status, not a cut
	 * body.  A follower answers at once and says such things in-band. */
	if (!s->q.ro.follow) {
		const logbus_record *rec;
		int rc = logbus_reader_next(s->reader, &rec, -1);
		if (rc < 0) {
			ret =
			    http_lib_error(rq, rc, "reading logbusd's journal",
			                   logbus_reader_error(s->reader));
			stream_free(s);
			return ret;
		}
		if (rc == 1)
			s->primed = rec;
		else
			s->ended = true;
	}
	if (s->q.sse)
		sb_printf(&s->out, "retry: %d\n\n", SSE_RETRY_MS);
	s->heartbeat_at =
	    http_mono_ms() + (int64_t)rq->srv->cfg->heartbeat_s * 1000;
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN,
	                                         rq->srv->cfg->stream_buffer,
	                                         stream_read, s, stream_free);
	if (resp == NULL) {
		stream_free(s);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type",
	                        s->q.sse ? "text/event-stream; charset=utf-8"
	                        : s->q.format == LOGS_JSON
	                            ? "application/x-ndjson; charset=utf-8"
	                            : "text/plain; charset=utf-8");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	if (s->q.sse || s->q.ro.follow)
		MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	if (s->q.ro.follow)
		MHD_set_connection_option(rq->conn,
		                          MHD_CONNECTION_OPTION_TIMEOUT,
		                          0u); /* the reaper watches it */
	ret = MHD_queue_response(rq->conn, 200, resp);
	MHD_destroy_response(resp);
	atomic_store(&s->entry.progress_ms, http_mono_ms());
	atomic_store(&s->entry.busy, false);
	return ret;
}
