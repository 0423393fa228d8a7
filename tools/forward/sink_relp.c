/*
 * sink_relp.c: records as RFC 5424 messages to rsyslog's imrelp (or any
 * RELP server) through librelp.
 *
 * librelp acknowledges each message inside the session and resends what
 * was unacknowledged when it reconnects, but tells its caller nothing of
 * which messages the server acknowledged.  So a batch is one RELP session:
 * open, every message of the batch, then a graceful close, whose answer
 * the server sends after its answers to every earlier message (RELP
 * answers in order).  Only a session that closed without any error from
 * librelp (its error callback, or a failed call) acknowledges the batch;
 * anything else sends the whole batch again in a new session, so a
 * message can arrive twice (counted by the forwarder as sent_again),
 * never not at all.  One session per batch costs a TCP connect and RELP's
 * open handshake, about a millisecond here, against thousands of records.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <librelp.h>

#include "forward.h"

struct sink {
	const struct fwd_output_config *cfg;
	relpEngine_t *engine;
	struct strbuf msgs; /* the messages, back to back */
	size_t *ends;       /* where each ends in msgs */
	size_t n, cap;
	bool broken;                /* librelp's error callback ran */
	char relp_err[FWD_ERR_MAX]; /* what it said first */
};

static void on_relp_error(void *user, char *objinfo, char *msg, relpRetVal code)
{
	struct sink *s = user;
	if (!s->broken)
		snprintf(s->relp_err, sizeof s->relp_err, "%s: %s (librelp %d)",
		         objinfo, msg, (int)code);
	s->broken = true;
}

/* librelp calls its debug printer unconditionally: it must be set. */
static void relp_debug_quiet(char *fmt, ...)
{
	(void)fmt;
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
	relpEngineSetDbgprint(s->engine, relp_debug_quiet);
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
	if ((rc = relpEngineCltConstruct(s->engine, &clt)) != RELP_RET_OK) {
		snprintf(err, errlen, "cannot make a RELP client (librelp %d)",
		         (int)rc);
		return SINK_RETRY;
	}
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
	/* the graceful close: its answer comes after every earlier one */
	relpEngineCltDestruct(s->engine, &clt);
	if (rc == RELP_RET_OK && !s->broken)
		return SINK_OK;
	if (s->broken && rc == RELP_RET_OK)
		snprintf(err, errlen, "RELP to %s port %s: %s", s->cfg->host,
		         s->cfg->port, s->relp_err);
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
