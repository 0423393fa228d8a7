/*
 * sink_relp.c: records as RFC 5424 messages to rsyslog's imrelp (or any
 * RELP server) through librelp.
 *
 * A batch is one RELP session: open, every message of the batch, close.
 * It is acknowledged only when the server answered "rsp 200" to every one
 * of its messages; anything less sends the whole batch again in a new
 * session, so a message can arrive twice (counted by the forwarder as
 * sent_again), never not at all.
 *
 * librelp (1.11, Debian 12's) does not say which messages were answered,
 * and it can end a session without a word: when the server sends its
 * "serverclose" hint while the client waits for the answer to its close
 * (rsyslogd stopped with SIGTERM does that to every session),
 * relpCltDestruct returns as after an answered close, with no error
 * callback and the unanswered messages dropped.  Taking the close as the
 * acknowledgement lost them (issue 17).  So the sink counts the answers
 * itself: librelp passes every "rsp" it receives through its trace
 * callback as RELP_RSP_TRACE with the answer's txnr and code, and a
 * session's messages are txnr 2, 3, ... (1 is its open; the server answers
 * in order).  The trace callback has no user pointer: the session being
 * counted is the thread's (each output has a thread and an engine of its
 * own, and librelp's client calls back only inside our calls).  A librelp
 * that traced otherwise would show no answer at all: every batch would be
 * retried, with an error saying why, and nothing lost.
 *
 * One session per batch costs a TCP connect and RELP's open handshake,
 * about a millisecond here, against thousands of records.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <librelp.h>

#include "forward.h"

/* librelp's trace of each answer it receives (src/scrsp.c) */
#define RELP_RSP_TRACE      "in rsp command handler, txnr %d, code %d, text '%s'\n"
#define RELP_FIRST_MSG_TXNR 2

struct sink {
	const struct fwd_output_config *cfg;
	relpEngine_t *engine;
	struct strbuf msgs; /* the messages, back to back */
	size_t *ends;       /* where each ends in msgs */
	size_t n, cap;
	bool broken;                /* librelp's error callback ran */
	char relp_err[FWD_ERR_MAX]; /* what it said first */
	bool opened;                /* the open had its answer 200 */
	size_t acked;               /* messages 1..acked had theirs */
};

/* the sink whose session this thread is in, for relp_trace */
static _Thread_local struct sink *relp_counting;

static void on_relp_error(void *user, char *objinfo, char *msg, relpRetVal code)
{
	struct sink *s = user;
	if (!s->broken)
		snprintf(s->relp_err, sizeof s->relp_err, "%s: %s (librelp %d)",
		         objinfo, msg, (int)code);
	s->broken = true;
}

/* librelp's trace callback: count the answers 200 of the session. */
static void relp_trace(char *fmt, ...)
{
	struct sink *s = relp_counting;
	if (s == NULL || strcmp(fmt, RELP_RSP_TRACE) != 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	int txnr = va_arg(ap, int);
	int code = va_arg(ap, int);
	va_end(ap);
	if (code != 200)
		return; /* librelp's error callback says it too */
	if (txnr == RELP_FIRST_MSG_TXNR - 1)
		s->opened = true;
	else if (s->acked < s->n &&
	         (size_t)txnr == RELP_FIRST_MSG_TXNR + s->acked)
		s->acked++;
}

static struct sink *relp_open(const struct fwd_output_config *oc)
{
	struct sink *s = calloc(1, sizeof *s);
	if (s == NULL)
		return NULL;
	s->cfg = oc;
	if (relpEngineConstruct(&s->engine) != RELP_RET_OK) {
		free(s);
		return NULL;
	}
	relpEngineSetDbgprint(s->engine, relp_trace);
	relpEngineSetOnErr(s->engine, on_relp_error);
	relpEngineSetEnableCmd(s->engine, (unsigned char *)"syslog",
	                       eRelpCmdState_Required);
	return s;
}

static void relp_add(struct sink *s, const logbus_record *r)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 1024;
		size_t *v = realloc(s->ends, cap * sizeof *v);
		if (v == NULL) {
			s->msgs.failed = true;
			return;
		}
		s->ends = v;
		s->cap = cap;
	}
	syslog_format(&s->msgs, r, s->cfg->hostname, s->cfg->facility);
	s->ends[s->n++] = s->msgs.len;
}

static size_t relp_size(struct sink *s)
{
	return s->msgs.len;
}

static enum sink_result relp_send(struct sink *s, char *err, size_t errlen)
{
	relpClt_t *clt = NULL;
	relpRetVal rc;
	int timeout_s =
	    s->cfg->timeout_ms < 1000 ? 1 : s->cfg->timeout_ms / 1000;
	size_t i = 0, from = 0;

	if (s->msgs.failed) {
		snprintf(err, errlen, "out of memory for a batch");
		return SINK_RETRY;
	}
	s->broken = false;
	s->relp_err[0] = '\0';
	s->opened = false;
	s->acked = 0;
	if ((rc = relpEngineCltConstruct(s->engine, &clt)) != RELP_RET_OK) {
		snprintf(err, errlen, "cannot make a RELP client (librelp %d)",
		         (int)rc);
		return SINK_RETRY;
	}
	relp_counting = s;
	relpCltSetUsrPtr(clt, s);
	relpCltSetTimeout(clt, (unsigned)timeout_s);
	relpCltSetConnTimeout(clt, timeout_s < 10 ? timeout_s : 10);
	relpCltSetWindowSize(clt, 1024);
	rc = relpCltConnect(clt, AF_UNSPEC, (unsigned char *)s->cfg->port,
	                    (unsigned char *)s->cfg->host);
	if (rc != RELP_RET_OK)
		snprintf(err, errlen,
		         "cannot open a RELP session with %s port %s (librelp "
		         "%d): is rsyslog's imrelp listening there?",
		         s->cfg->host, s->cfg->port, (int)rc);
	for (; rc == RELP_RET_OK && !s->broken && i < s->n; i++) {
		rc = relpCltSendSyslog(clt, (unsigned char *)s->msgs.p + from,
		                       s->ends[i] - from);
		from = s->ends[i];
		if (rc != RELP_RET_OK)
			snprintf(err, errlen,
			         "RELP to %s port %s failed at message %zu of "
			         "%zu (librelp %d)",
			         s->cfg->host, s->cfg->port, i + 1, s->n,
			         (int)rc);
	}
	/* the close reads the answers still to come, or the session ends */
	relpEngineCltDestruct(s->engine, &clt);
	relp_counting = NULL;
	if (s->acked == s->n)
		return SINK_OK;
	if (rc != RELP_RET_OK)
		return SINK_RETRY;
	if (!s->opened)
		snprintf(
		    err, errlen,
		    "RELP to %s port %s: librelp traced no answer, not even "
		    "to the open: this librelp does not trace answers as "
		    "1.11 does, so no message can be known acknowledged",
		    s->cfg->host, s->cfg->port);
	else
		snprintf(err, errlen,
		         "RELP to %s port %s: %zu of %zu messages not "
		         "acknowledged: %s",
		         s->cfg->host, s->cfg->port, s->n - s->acked, s->n,
		         s->broken ? s->relp_err
		                   : "the server ended the session without "
		                     "answering them");
	return SINK_RETRY;
}

static void relp_clear(struct sink *s)
{
	sb_reset(&s->msgs);
	s->n = 0;
}

static void relp_close(struct sink *s)
{
	relpEngineDestruct(&s->engine);
	sb_free(&s->msgs);
	free(s->ends);
	free(s);
}

const struct sink_ops sink_relp = {
    .open = relp_open,
    .add = relp_add,
    .size = relp_size,
    .send = relp_send,
    .clear = relp_clear,
    .close = relp_close,
};
