/*
 * publisher.c: logging calls in, acknowledged batches out.
 *
 * The caller's thread formats the message, checks the record and copies it
 * into a bounded byte ring under a mutex; nothing else.  One sender thread
 * per publisher takes what the ring holds (up to BATCH_MAX), encodes it
 * (record_encode: msgpack, without a packer) and sends it as one ingest
 * request.  One request is out at a
 * time; while it is, the sender encodes the next batch, so that its work
 * overlaps the broker's.
 *
 * Invariants:
 *  - records are answered (committed or refused) in the order they were
 *    logged; `answered` counts them, so flush waits for answered >= the
 *    number logged when flush was called;
 *  - a batch keeps its (session, batch number) until it is acknowledged:
 *    after a timeout, a reconnect or a broker restart the very same batch
 *    is sent again and the broker writes it once;
 *  - in drop mode the number of dropped records reaches the broker as a
 *    WARNING record of the logger "logbus.client";
 *  - flush returns after a `sync` request sent once its records were
 *    acknowledged came back: the broker acknowledges a batch before it
 *    writes the routed files and tells followers, and answers the sync
 *    after that (ingest.c).
 *
 * After fork() (fork.h) the child's copy becomes a publisher of the child's
 * own: an empty queue (what was queued is the parent's, which sends it),
 * zero counts, a new session id, and a sender thread started by its first
 * record, which talks through spconn.h because nng cannot be used in the
 * child.  A publisher opened in such a child uses spconn from the start.
 * The parent's publisher is not touched.  For the copy to be whole, the
 * sender changes its own state (the batches it encodes) only under
 * sender_mu, which the fork handlers hold with mu.
 */
#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <msgpack.h>

#include "fork.h"
#include "logbus/logbus.h"
#include "paths.h"
#include "proto.h"
#include "publisher.h"
#include "record.h"
#include "reqconn.h"
#include "spconn.h"
#include "timefmt.h"
#include "utf8.h"

#define QUEUE_DEFAULT  (8u * 1024 * 1024)
#define CALL_SLICE_MS  1000 /* one wait for an ack before sending again */
#define RETRY_PAUSE_MS 200  /* after the broker said it cannot write */
/* A wait without a deadline (flush -1, a logging call blocked on a full
 * queue) gives up once it has seen no connection to the broker for this
 * long: the broker is gone, not restarting.  The same as a reader's
 * default request timeout. */
#define GONE_MS       5000
#define WAIT_SLICE_MS 100 /* how often such a wait looks */
/* msgpack keys and headers per record, over the entry's own (take_batch
 * says why) */
#define ENCODE_SLACK 64
/* The end of every publish request: "tok" and a fixed-width u64 (the
 * BATCH_MAX - 4096 budget of take_batch leaves room for it). */
#define TOK_TAIL  13
#define FMT_STACK 1024

/*
 * A queued entry, as laid out in the ring:
 *   u32 total, i64 time_ns, u8 level, u8 stream, u16 nfields,
 *   u16 logger_len (0: the default logger), u16 flags, u32 msg_len,
 *   u16 service_len (0: the publisher's service),
 *   logger bytes, service bytes, message bytes, then per field:
 *   u8 type, u8 key_len, key, NUL, value (str: u32 len, bytes, NUL;
 *   int/float: 8 bytes; bool: 1 byte).
 */
struct entry_hdr {
	uint32_t total;
	int64_t time_ns;
	uint8_t level, stream;
	uint16_t nfields;
	uint16_t logger_len;
	uint16_t flags; /* ENTRY_ENCODED: the message is a whole record */
	uint32_t msg_len;
	uint16_t service_len;
};

#define ENTRY_ENCODED 1

/* An ingest request, built or out. */
struct outgoing {
	msgpack_sbuffer req;
	size_t n;     /* entries of the ring in it */
	nng_msg *msg; /* req's bytes as a message, made while the previous
	                 request was out; NULL once sent (or no memory) */
};

struct logbus_publisher {
	char service[LOGBUS_SERVICE_MAX + 1];
	char logger[LOGBUS_LOGGER_MAX + 1];
	size_t service_len, logger_len;
	enum logbus_on_full on_full;
	int linger_ms;
	char ingest_path[160];
	bool own_link;         /* a child of fork(): sp, never conn (nng) */
	struct reqconn conn;   /* opened when !own_link; in a child, the
	                          parent's, left alone */
	struct spconn sp;      /* used when own_link; made at open */
	struct fork_hook hook; /* on fork.c's list while open */

	pthread_mutex_t mu;
	pthread_cond_t work;  /* sender waits for records */
	pthread_cond_t space; /* blocked callers wait for room */
	pthread_cond_t done;  /* flushers wait for answers */
	char *ring;
	size_t cap, head, used; /* bytes; head is where the oldest starts */
	uint64_t logged, answered, dropped, dropped_reported, committed;
	uint64_t rejected, batches, resends, last_seq, flush_rejected;
	uint64_t flush_limited; /* since the last flush that returned */
	uint64_t limited;       /* dropped by the broker's rate limit */
	int flushing;           /* callers in flush: send without lingering */
	/* flush's last step, a `sync` request: asked and answered tickets,
	 * and what `committed` was at the last one asked */
	uint64_t sync_asked, sync_done, committed_at_sync;
	bool closing;
	bool fail_fast;     /* options: flush gives up when no broker can be */
	atomic_bool abort;  /* close timed out: stop retrying */
	int64_t gone_since; /* note_connection: no connection since (ms) */
	char error[256];
	pthread_t sender;
	bool sender_started; /* false in a child of fork() until it logs */

	/* sender-only state, changed only under sender_mu or mu (or before
	 * the sender starts) */
	pthread_mutex_t sender_mu;
	uint64_t session, batch;
	char *raw; /* entries taken from the ring */
	size_t raw_cap;
	msgpack_sbuffer rec;
	struct outgoing out[2]; /* the request out, the next one */
};

static void set_error(struct logbus_publisher *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Called with p->mu held. */
static void set_error(struct logbus_publisher *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->error, sizeof p->error, fmt, ap);
	va_end(ap);
}

/* ---- the ring ------------------------------------------------------------ */

static void ring_put(struct logbus_publisher *p, const void *src, size_t n)
{
	size_t tail = (p->head + p->used) % p->cap;
	size_t first = n < p->cap - tail ? n : p->cap - tail;

	memcpy(p->ring + tail, src, first);
	memcpy(p->ring, (const char *)src + first, n - first);
	p->used += n;
}

static void ring_get(struct logbus_publisher *p, void *dst, size_t n)
{
	size_t first = n < p->cap - p->head ? n : p->cap - p->head;

	memcpy(dst, p->ring + p->head, first);
	memcpy((char *)dst + first, p->ring, n - first);
	p->head = (p->head + n) % p->cap;
	p->used -= n;
}

static uint32_t ring_peek_total(struct logbus_publisher *p)
{
	unsigned char b[4];
	for (int i = 0; i < 4; i++)
		b[i] = (unsigned char)p->ring[(p->head + (size_t)i) % p->cap];
	uint32_t v;
	memcpy(&v, b, 4);
	return v;
}

/* ---- building an entry on the caller's thread ---------------------------- */

static size_t field_size(const logbus_field *f)
{
	size_t n = 2 + strlen(f->key) + 1;
	switch (f->type) {
	case LOGBUS_FIELD_STR:
		return n + 4 + strlen(f->v.s ? f->v.s : "") + 1;
	case LOGBUS_FIELD_BOOL:
		return n + 1;
	default:
		return n + 8;
	}
}

/* Refuse a record before it is queued, saying why. */
static int refuse(struct logbus_publisher *p, int rv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int refuse(struct logbus_publisher *p, int rv, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&p->mu);
	va_start(ap, fmt);
	vsnprintf(p->error, sizeof p->error, fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&p->mu);
	return rv;
}

static int check_fields(struct logbus_publisher *p, const logbus_field *fields,
                        size_t n)
{
	if (n > LOGBUS_FIELDS_MAX)
		return refuse(p, LOGBUS_EINVAL,
		              "record refused: %zu fields, over the limit of "
		              "%d (LOGBUS_FIELDS_MAX)",
		              n, LOGBUS_FIELDS_MAX);
	if (n > 0 && fields == NULL)
		return refuse(p, LOGBUS_EINVAL,
		              "record refused: nfields is %zu but fields is "
		              "NULL",
		              n);
	for (size_t i = 0; i < n; i++) {
		const logbus_field *f = &fields[i];
		if (f->key == NULL || !field_key_valid(f->key, strlen(f->key)))
			return refuse(
			    p, LOGBUS_EINVAL,
			    "record refused: field key '%.64s' is not "
			    "1..64 of [A-Za-z0-9._-]",
			    f->key ? f->key : "(null)");
		if (f->type > LOGBUS_FIELD_BOOL)
			return refuse(p, LOGBUS_EINVAL,
			              "record refused: field %s has an unknown "
			              "type %d",
			              f->key, (int)f->type);
		if (f->type == LOGBUS_FIELD_STR && f->v.s &&
		    !utf8_valid(f->v.s, strlen(f->v.s)))
			return refuse(
			    p, LOGBUS_EUTF8,
			    "record refused: the value of field %s is "
			    "not valid UTF-8",
			    f->key);
	}
	return 0;
}

static char *put_field(char *w, const logbus_field *f)
{
	size_t klen = strlen(f->key);

	*w++ = (char)f->type;
	*w++ = (char)klen;
	memcpy(w, f->key, klen + 1);
	w += klen + 1;
	switch (f->type) {
	case LOGBUS_FIELD_STR: {
		const char *s = f->v.s ? f->v.s : "";
		uint32_t len = (uint32_t)strlen(s);
		memcpy(w, &len, 4);
		memcpy(w + 4, s, len + 1);
		return w + 4 + len + 1;
	}
	case LOGBUS_FIELD_INT:
		memcpy(w, &f->v.i, 8);
		return w + 8;
	case LOGBUS_FIELD_FLOAT:
		memcpy(w, &f->v.f, 8);
		return w + 8;
	case LOGBUS_FIELD_BOOL:
		*w = (char)(f->v.b != 0);
		return w + 1;
	}
	return w;
}

static void deadline_ts(struct timespec *ts, int64_t ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* One slice of a wait without a deadline on cond (p->mu held). */
static void wait_slice(struct logbus_publisher *p, pthread_cond_t *cond)
{
	struct timespec ts;

	deadline_ts(&ts, WAIT_SLICE_MS);
	pthread_cond_timedwait(cond, &p->mu, &ts);
}

/* Note whether the connection is up: p->gone_since is when it was first
 * seen down, 0 while up.  Called with p->mu held, by the sender after each
 * try and by every wait without a deadline. */
static bool link_connected(struct logbus_publisher *p);
static void link_unreachable(struct logbus_publisher *p, char *err,
                             size_t errlen);

static void note_connection(struct logbus_publisher *p)
{
	if (link_connected(p))
		p->gone_since = 0;
	else if (p->gone_since == 0)
		p->gone_since = redial_now_ms();
}

/* For a wait without a deadline: true, with p->error saying so, once the
 * connection has been down for GONE_MS.  Called with p->mu held. */
static bool broker_gone(struct logbus_publisher *p)
{
	note_connection(p);
	if (p->gone_since == 0 || redial_now_ms() - p->gone_since < GONE_MS)
		return false;
	link_unreachable(p, p->error, sizeof p->error);
	return true;
}

/* Wait for room (block mode, while the broker is there) or count a drop.
 * Called with p->mu held. */
static int make_room(struct logbus_publisher *p, size_t need)
{
	while (p->cap - p->used < need) {
		if (p->closing)
			return LOGBUS_ECLOSED;
		bool drop = p->on_full == LOGBUS_ON_FULL_DROP;
		if (drop || broker_gone(p)) {
			p->dropped++;
			pthread_cond_signal(&p->work);
			return drop ? LOGBUS_EFULL : LOGBUS_EUNREACHABLE;
		}
		wait_slice(p, &p->space);
	}
	return 0;
}

static int start_sender(struct logbus_publisher *p);

/* Copy an entry into the ring, waiting for room or dropping as the
 * publisher was told. */
static int queue_put(struct logbus_publisher *p, const char *buf, size_t total)
{
	int rv;

	pthread_mutex_lock(&p->mu);
	if (!p->sender_started && (rv = start_sender(p)) != 0) {
		set_error(p, "cannot start the sender thread: %s",
		          strerror(rv));
		rv = LOGBUS_ESYS;
	} else if (total > p->cap) {
		rv = LOGBUS_ETOOBIG;
		set_error(p, "record of %zu bytes is larger than the queue",
		          total);
	} else if ((rv = make_room(p, total)) == 0) {
		bool was_empty = p->used == 0;
		ring_put(p, buf, total);
		p->logged++;
		if (was_empty)
			pthread_cond_signal(&p->work);
	}
	pthread_mutex_unlock(&p->mu);
	return rv;
}

static int enqueue(struct logbus_publisher *p, const logbus_entry *e,
                   const char *msg, size_t msg_len)
{
	const char *logger = e->logger;
	size_t logger_len = 0, service_len = 0;
	int rv;

	if (e->level < 0 || e->level > 255)
		return refuse(p, LOGBUS_EINVAL,
		              "record refused: level %d is not 0..255",
		              e->level);
	if (e->stream > LOGBUS_STREAM_STDERR)
		return refuse(p, LOGBUS_EINVAL,
		              "record refused: stream %d is not 0, 1 or 2",
		              (int)e->stream);
	if (logger != NULL) {
		logger_len = strlen(logger);
		if (!logger_valid(logger, logger_len))
			return refuse(
			    p, LOGBUS_EINVAL,
			    "record refused: the logger must be 1..256 "
			    "bytes of UTF-8 without control "
			    "characters");
	}
	if (e->service != NULL) {
		service_len = strlen(e->service);
		if (!service_id_valid(e->service, service_len))
			return refuse(
			    p, LOGBUS_EINVAL,
			    "record refused: service '%.128s' is not 1..128 "
			    "of [A-Za-z0-9._-], not starting with '.'",
			    e->service);
	}
	if (!utf8_valid(msg, msg_len))
		return refuse(p, LOGBUS_EUTF8,
		              "record refused: the message is not valid "
		              "UTF-8");
	if ((rv = check_fields(p, e->fields, e->nfields)) != 0)
		return rv;
	size_t total =
	    sizeof(struct entry_hdr) + logger_len + service_len + msg_len;
	for (size_t i = 0; i < e->nfields; i++)
		total += field_size(&e->fields[i]);
	size_t encoded = total + p->service_len +
	                 (logger_len ? 0 : p->logger_len) + ENCODE_SLACK +
	                 e->nfields * 8;
	if (encoded > LOGBUS_RECORD_MAX)
		return refuse(p, LOGBUS_ETOOBIG,
		              "record refused: about %zu bytes encoded, over "
		              "the limit of %d bytes (LOGBUS_RECORD_MAX)",
		              encoded, LOGBUS_RECORD_MAX);

	char stack[FMT_STACK];
	char *buf = total <= sizeof stack ? stack : malloc(total);
	if (buf == NULL)
		return LOGBUS_ENOMEM;
	struct entry_hdr h = {
	    .total = (uint32_t)total,
	    .time_ns = e->time_ns ? e->time_ns : timefmt_now_ns(),
	    .level = (uint8_t)e->level,
	    .stream = (uint8_t)e->stream,
	    .nfields = (uint16_t)e->nfields,
	    .logger_len = (uint16_t)logger_len,
	    .msg_len = (uint32_t)msg_len,
	    .service_len = (uint16_t)service_len,
	};
	memcpy(buf, &h, sizeof(struct entry_hdr));
	char *w = buf + sizeof(struct entry_hdr);
	if (logger_len) {
		memcpy(w, logger, logger_len);
		w += logger_len;
	}
	if (service_len) {
		memcpy(w, e->service, service_len);
		w += service_len;
	}
	memcpy(w, msg, msg_len);
	w += msg_len;
	for (size_t i = 0; i < e->nfields; i++)
		w = put_field(w, &e->fields[i]);

	rv = queue_put(p, buf, total);
	if (buf != stack)
		free(buf);
	return rv;
}

void publisher_names(struct logbus_publisher *p, struct lb_str *service,
                     struct lb_str *logger)
{
	*service = (struct lb_str){p->service, (uint32_t)p->service_len};
	*logger = (struct lb_str){p->logger, (uint32_t)p->logger_len};
}

int publisher_put_encoded(struct logbus_publisher *p, const char *rec,
                          size_t len)
{
	struct entry_hdr h = {.flags = ENTRY_ENCODED, .msg_len = (uint32_t)len};
	size_t total = sizeof h + len;

	if (len > LOGBUS_RECORD_MAX)
		return refuse(p, LOGBUS_ETOOBIG,
		              "record refused: %zu bytes encoded, over the "
		              "limit of %d bytes (LOGBUS_RECORD_MAX)",
		              len, LOGBUS_RECORD_MAX);
	char *buf = malloc(total);
	if (buf == NULL)
		return LOGBUS_ENOMEM;
	h.total = (uint32_t)total;
	memcpy(buf, &h, sizeof h);
	memcpy(buf + sizeof h, rec, len);
	int rv = queue_put(p, buf, total);
	free(buf);
	return rv;
}

LOGBUS_API int logbus_write(logbus_publisher *p, const logbus_entry *e)
{
	if (p == NULL || e == NULL || e->message == NULL)
		return LOGBUS_EINVAL;
	size_t len =
	    e->message_len == (size_t)-1 ? strlen(e->message) : e->message_len;
	return enqueue(p, e, e->message, len);
}

static int message_too_big(struct logbus_publisher *p, size_t len)
{
	return refuse(p, LOGBUS_ETOOBIG,
	              "record refused: a message of %zu bytes, over the limit "
	              "of %d bytes (LOGBUS_RECORD_MAX)",
	              len, LOGBUS_RECORD_MAX);
}

LOGBUS_API int logbus_logv(logbus_publisher *p, int level, const char *logger,
                           const logbus_field *fields, size_t nfields,
                           const char *fmt, va_list ap)
{
	char stack[FMT_STACK];
	char *msg = stack;
	va_list ap2;

	if (p == NULL || fmt == NULL)
		return LOGBUS_EINVAL;
	/* The two commonest calls skip printf: a message already formatted
	 * ("%s", msg) and one without conversions.  glibc prints a NULL %s as
	 * "(null)": so does this. */
	const char *direct = NULL;
	if (fmt[0] == '%' && fmt[1] == 's' && fmt[2] == '\0') {
		direct = va_arg(ap, const char *);
		if (direct == NULL)
			direct = "(null)";
	} else if (strchr(fmt, '%') == NULL) {
		direct = fmt;
	}
	if (direct != NULL) {
		size_t len = strlen(direct);
		if (len > LOGBUS_RECORD_MAX)
			return message_too_big(p, len);
		logbus_entry e = {.level = level,
		                  .logger = logger,
		                  .fields = fields,
		                  .nfields = nfields};
		return enqueue(p, &e, direct, len);
	}
	va_copy(ap2, ap);
	int n = vsnprintf(stack, sizeof stack, fmt, ap);
	if (n < 0) {
		va_end(ap2);
		return LOGBUS_EINVAL;
	}
	if ((size_t)n >= sizeof stack) {
		if ((size_t)n > LOGBUS_RECORD_MAX) {
			va_end(ap2);
			return message_too_big(p, (size_t)n);
		}
		msg = malloc((size_t)n + 1);
		if (msg == NULL) {
			va_end(ap2);
			return LOGBUS_ENOMEM;
		}
		vsnprintf(msg, (size_t)n + 1, fmt, ap2);
	}
	va_end(ap2);
	logbus_entry e = {
	    .level = level,
	    .logger = logger,
	    .fields = fields,
	    .nfields = nfields,
	};
	int rv = enqueue(p, &e, msg, (size_t)n);
	if (msg != stack)
		free(msg);
	return rv;
}

LOGBUS_API int logbus_log(logbus_publisher *p, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int rv = logbus_logv(p, level, NULL, NULL, 0, fmt, ap);
	va_end(ap);
	return rv;
}

LOGBUS_API int logbus_log_fields(logbus_publisher *p, int level,
                                 const char *logger, const logbus_field *fields,
                                 size_t nfields, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int rv = logbus_logv(p, level, logger, fields, nfields, fmt, ap);
	va_end(ap);
	return rv;
}

/* ---- the sender ---------------------------------------------------------- */

/* Room for n more bytes in sb. */
static bool sbuffer_reserve(msgpack_sbuffer *sb, size_t n)
{
	if (sb->alloc - sb->size >= n)
		return true;
	size_t cap = sb->alloc ? sb->alloc : 8192;
	while (cap - sb->size < n)
		cap *= 2;
	char *d = realloc(sb->data, cap);
	if (d == NULL)
		return false;
	sb->data = d;
	sb->alloc = cap;
	return true;
}

/* Decode one entry of p->raw and append it to the request as a bin. */
static const char *encode_entry(struct logbus_publisher *p, const char *r,
                                msgpack_packer *reqpk)
{
	struct entry_hdr h;
	logbus_field fields[LOGBUS_FIELDS_MAX];

	memcpy(&h, r, sizeof(struct entry_hdr));
	const char *c = r + sizeof(struct entry_hdr);
	if (h.flags & ENTRY_ENCODED) {
		msgpack_pack_bin(reqpk, h.msg_len);
		msgpack_pack_bin_body(reqpk, c, h.msg_len);
		return r + h.total;
	}
	const char *svc = c + h.logger_len;
	struct record_in in = {
	    .time_ns = h.time_ns,
	    .level = h.level,
	    .stream = h.stream,
	    .service = {h.service_len ? svc : p->service,
	                h.service_len ? h.service_len
	                              : (uint32_t)p->service_len},
	    .logger = {h.logger_len ? c : p->logger,
	               h.logger_len ? h.logger_len : (uint32_t)p->logger_len},
	    .message = {svc + h.service_len, h.msg_len},
	    .fields = fields,
	    .nfields = h.nfields,
	};
	c = svc + h.service_len + h.msg_len;
	for (size_t i = 0; i < h.nfields; i++) {
		logbus_field *f = &fields[i];
		f->type = (enum logbus_field_type)(unsigned char)c[0];
		size_t klen = (unsigned char)c[1];
		f->key = c + 2;
		c += 2 + klen + 1;
		switch (f->type) {
		case LOGBUS_FIELD_STR: {
			uint32_t len;
			memcpy(&len, c, 4);
			f->v.s = c + 4;
			c += 4 + len + 1;
			break;
		}
		case LOGBUS_FIELD_INT:
			memcpy(&f->v.i, c, 8);
			c += 8;
			break;
		case LOGBUS_FIELD_FLOAT:
			memcpy(&f->v.f, c, 8);
			c += 8;
			break;
		case LOGBUS_FIELD_BOOL:
			f->v.b = *c++;
			break;
		}
	}
	/* Straight into the request, as a bin 32. */
	msgpack_sbuffer *req = reqpk->data;
	if (!sbuffer_reserve(req, 5 + record_encoded_max(&in))) {
		/* out of memory: an empty bin, which the broker refuses
		 * alone (rejected, counted), keeps the batch well formed */
		msgpack_pack_bin(reqpk, 0);
		return r + h.total;
	}
	unsigned char *b = (unsigned char *)req->data + req->size;
	uint32_t len = (uint32_t)record_encode((char *)b + 5, &in);
	b[0] = 0xc6;
	b[1] = (unsigned char)(len >> 24);
	b[2] = (unsigned char)(len >> 16);
	b[3] = (unsigned char)(len >> 8);
	b[4] = (unsigned char)len;
	req->size += 5 + len;
	return r + h.total;
}

static void encode_drop_notice(struct logbus_publisher *p, uint64_t n,
                               msgpack_packer *reqpk)
{
	char msg[128];
	logbus_field f = LOGBUS_INT("dropped", (int64_t)n);
	msgpack_packer pk;
	int len = snprintf(msg, sizeof msg,
	                   "Dropped %llu records: the publisher's queue was "
	                   "full",
	                   (unsigned long long)n);
	struct record_in in = {
	    .time_ns = timefmt_now_ns(),
	    .level = LOGBUS_WARNING,
	    .service = {p->service, (uint32_t)p->service_len},
	    .logger = {"logbus.client", 13},
	    .message = {msg, (uint32_t)len},
	    .fields = &f,
	    .nfields = 1,
	};
	msgpack_sbuffer_clear(&p->rec);
	msgpack_packer_init(&pk, &p->rec, msgpack_sbuffer_write);
	record_pack(&pk, &in);
	msgpack_pack_bin(reqpk, p->rec.size);
	msgpack_pack_bin_body(reqpk, p->rec.data, p->rec.size);
}

/*
 * Take a batch from the ring into p->raw.  Called with p->mu held; returns
 * the number of entries taken and the drop count to report with them.
 */
static size_t take_batch(struct logbus_publisher *p, size_t *raw_len,
                         uint64_t *drops)
{
	size_t n = 0, len = 0, budget = BATCH_MAX - 4096;

	*drops = p->dropped - p->dropped_reported;
	if (*drops)
		budget -= 512;
	size_t max_n = BATCH_RECORDS_MAX - (*drops > 0);
	while (p->used > 0 && n < max_n) {
		/* An upper bound of the entry's encoding: a field takes no
		 * more bytes in msgpack than in the entry; keys, headers and
		 * the bin 32 around the record at most 45 bytes where the
		 * entry's header has 24; plus the names the entry leaves out
		 * (the service, the default logger). */
		uint32_t total = ring_peek_total(p);
		size_t cost =
		    total + p->service_len + p->logger_len + ENCODE_SLACK;
		if (n > 0 && cost > budget)
			break;
		budget = cost > budget ? 0 : budget - cost;
		if (len + total > p->raw_cap) {
			size_t cap = p->raw_cap * 2;
			while (cap < len + total)
				cap *= 2;
			char *r = realloc(p->raw, cap);
			if (r == NULL)
				break;
			p->raw = r;
			p->raw_cap = cap;
		}
		ring_get(p, p->raw + len, total);
		len += total;
		n++;
	}
	*raw_len = len;
	p->dropped_reported += *drops;
	pthread_cond_broadcast(&p->space);
	return n;
}

static void build_request(struct logbus_publisher *p, struct outgoing *o,
                          uint64_t drops)
{
	msgpack_packer pk;
	size_t n = o->n;

	msgpack_sbuffer_clear(&o->req);
	msgpack_packer_init(&pk, &o->req, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 5 + (drops > 0));
	mp_pack_key(&pk, "op");
	mp_pack_key(&pk, OP_PUBLISH);
	mp_pack_key(&pk, "sid");
	msgpack_pack_uint64(&pk, p->session);
	mp_pack_key(&pk, "bn");
	msgpack_pack_uint64(&pk, p->batch);
	if (drops > 0) { /* the broker's "dropped by clients" */
		mp_pack_key(&pk, "dr");
		msgpack_pack_uint64(&pk, drops);
	}
	mp_pack_key(&pk, "r");
	msgpack_pack_array(&pk, n + (drops > 0));
	const char *r = p->raw;
	for (size_t i = 0; i < n; i++)
		r = encode_entry(p, r, &pk);
	if (drops > 0)
		encode_drop_notice(p, drops, &pk);
	/* The last ack's token, known only when the request goes out: the
	 * key and a fixed-width u64 that tok_patch fills in. */
	static const unsigned char tok[TOK_TAIL] = {0xa3, 't', 'o', 'k', 0xcf};
	msgpack_sbuffer_write(&o->req, (const char *)tok, sizeof tok);
}

/* Put the token of the last reply read on this connection into the last
 * 8 bytes of a request build_request made, just before it goes out: the
 * broker counts the acks a connection has not read (shared/proto.h). */
static void tok_patch(unsigned char *req, size_t len, uint64_t tok)
{
	for (int i = 0; i < 8; i++)
		req[len - 8 + (size_t)i] = (unsigned char)(tok >> (56 - 8 * i));
}

/* ---- the link: nng's req0, or spconn in a child of fork() ---------------- */

struct reply {
	const void *body;
	size_t len;
	nng_msg *msg; /* nng's, to free; NULL from spconn */
};

static uint64_t link_tok(const struct logbus_publisher *p)
{
	return p->own_link ? p->sp.tok : p->conn.tok;
}

/* Keep the token of a reply just decoded (reqconn_take_tok). */
static void link_take_tok(struct logbus_publisher *p, const msgpack_object *o)
{
	uint64_t tok;

	if (!p->own_link)
		reqconn_take_tok(&p->conn, o);
	else if (mp_get_u64(o, REPLY_TOK, &tok))
		p->sp.tok = tok;
}

static void link_take_tok_body(struct logbus_publisher *p,
                               const struct reply *r)
{
	uint64_t tok;

	if (!p->own_link)
		reqconn_take_tok_msg(&p->conn, r->msg);
	else if (mp_body_get_u64(r->body, r->len, REPLY_TOK, &tok))
		p->sp.tok = tok;
}

/* Send o's request, with the token of the last reply read. */
static int link_send(struct logbus_publisher *p, struct outgoing *o, char *err,
                     size_t errlen)
{
	if (p->own_link) {
		tok_patch((unsigned char *)o->req.data, o->req.size, p->sp.tok);
		return spconn_send(&p->sp, o->req.data, o->req.size,
		                   CALL_SLICE_MS, &p->abort, err, errlen);
	}
	/* The first time the message is made already; once nng has it,
	 * it is nng's (a fork must not see it as the publisher's). */
	pthread_mutex_lock(&p->sender_mu);
	nng_msg *m = o->msg;
	o->msg = NULL;
	pthread_mutex_unlock(&p->sender_mu);
	if (m != NULL) {
		tok_patch(nng_msg_body(m), nng_msg_len(m), p->conn.tok);
		return reqconn_send_msg(&p->conn, m, CALL_SLICE_MS, &p->abort,
		                        err, errlen);
	}
	tok_patch((unsigned char *)o->req.data, o->req.size, p->conn.tok);
	return reqconn_send(&p->conn, o->req.data, o->req.size, CALL_SLICE_MS,
	                    &p->abort, err, errlen);
}

static int link_wait(struct logbus_publisher *p, struct reply *r,
                     int timeout_ms, char *err, size_t errlen)
{
	r->msg = NULL;
	if (p->own_link)
		return spconn_wait(&p->sp, &r->body, &r->len, timeout_ms,
		                   &p->abort, err, errlen);
	int rv =
	    reqconn_wait(&p->conn, &r->msg, timeout_ms, &p->abort, err, errlen);
	if (rv == 0) {
		r->body = nng_msg_body(r->msg);
		r->len = nng_msg_len(r->msg);
	}
	return rv;
}

/* A request that is not a batch (sync): send and wait. */
static int link_call(struct logbus_publisher *p, const void *body, size_t len,
                     struct reply *r, char *err, size_t errlen)
{
	int rv;

	r->msg = NULL;
	if (!p->own_link) {
		rv = reqconn_call(&p->conn, body, len, &r->msg, CALL_SLICE_MS,
		                  &p->abort, err, errlen);
		if (rv == 0) {
			r->body = nng_msg_body(r->msg);
			r->len = nng_msg_len(r->msg);
		}
		return rv;
	}
	if ((rv = spconn_send(&p->sp, body, len, CALL_SLICE_MS, &p->abort, err,
	                      errlen)) != 0)
		return rv;
	return spconn_wait(&p->sp, &r->body, &r->len, CALL_SLICE_MS, &p->abort,
	                   err, errlen);
}

static void link_release(struct reply *r)
{
	if (r->msg != NULL)
		nng_msg_free(r->msg);
	r->msg = NULL;
}

static bool link_connected(struct logbus_publisher *p)
{
	return p->own_link ? spconn_connected(&p->sp)
	                   : reqconn_connected(&p->conn);
}

static void link_unreachable(struct logbus_publisher *p, char *err,
                             size_t errlen)
{
	if (p->own_link)
		spconn_unreachable(&p->sp, err, errlen);
	else
		reqconn_unreachable(&p->conn, err, errlen);
}

/* ---- batches out, acks in ------------------------------------------------ */

enum outcome { SENT, RETRY, GIVE_UP };

static bool dup_reply(const msgpack_object *o)
{
	bool dup = false;
	return mp_get_bool(o, "dup", &dup) && dup;
}

/* Read an ack.  Called with p->mu held.  n: records in the batch. */
static enum outcome take_reply(struct logbus_publisher *p,
                               const struct reply *reply, size_t n)
{
	msgpack_zone zone;
	msgpack_object o;
	size_t off = 0;
	bool ok = false;
	uint64_t first = 0, committed = 0;
	enum outcome out = SENT;

	msgpack_zone_init(&zone, 1024);
	if (mp_unpack(reply->body, reply->len, &off, &zone, &o) !=
	        MSGPACK_UNPACK_SUCCESS ||
	    !mp_get_bool(&o, "ok", &ok)) {
		set_error(p, "logbusd sent a reply this library cannot read");
		out = RETRY;
	} else if (link_take_tok(p, &o), !ok) {
		const char *code = "", *text = "";
		size_t clen = 0, tlen = 0;
		mp_get_bytes(&o, "code", &code, &clen);
		mp_get_bytes(&o, "error", &text, &tlen);
		set_error(p, "logbusd refused a batch (%.*s): %.*s", (int)clen,
		          code, (int)tlen, text);
		/* The journal could not write (disk full...): keep the batch
		 * and try again; anything else would fail the same way. */
		bool transient = (clen == strlen(ERR_JOURNAL) &&
		                  memcmp(code, ERR_JOURNAL, clen) == 0) ||
		                 (clen == strlen(ERR_SHUTTING_DOWN) &&
		                  memcmp(code, ERR_SHUTTING_DOWN, clen) == 0);
		if (transient) {
			out = RETRY;
		} else {
			p->rejected += n;
			p->flush_rejected += n;
			p->answered += n;
		}
	} else {
		mp_get_u64(&o, "first", &first);
		mp_get_u64(&o, "n", &committed);
		uint64_t limited = 0;
		mp_get_u64(&o, "limited", &limited);
		if (limited > 0 && !dup_reply(&o))
			set_error(p,
			          "logbusd dropped %llu records over the "
			          "service's rate limit",
			          (unsigned long long)limited);
		p->limited += limited;
		p->flush_limited += limited;
		const msgpack_object *rej = mp_get(&o, "rej");
		size_t nrej = rej && rej->type == MSGPACK_OBJECT_ARRAY
		                  ? rej->via.array.size
		                  : 0;
		for (size_t i = 0; i < nrej; i++) {
			const msgpack_object *r = &rej->via.array.ptr[i];
			/* The first refusal's reason: only the first few
			 * carry one (proto.h, REJ_TEXT_MAX). */
			if (i == 0 && r->type == MSGPACK_OBJECT_ARRAY &&
			    r->via.array.size == 3 &&
			    r->via.array.ptr[1].type == MSGPACK_OBJECT_STR &&
			    r->via.array.ptr[2].type == MSGPACK_OBJECT_STR)
				set_error(p,
				          "logbusd refused a record (%.*s): "
				          "%.*s",
				          (int)r->via.array.ptr[1].via.str.size,
				          r->via.array.ptr[1].via.str.ptr,
				          (int)r->via.array.ptr[2].via.str.size,
				          r->via.array.ptr[2].via.str.ptr);
		}
		p->committed += committed;
		p->rejected += nrej;
		p->flush_rejected += nrej;
		if (committed)
			p->last_seq = first + committed - 1;
		p->answered += n;
		p->batches++;
	}
	msgpack_zone_destroy(&zone);
	return out;
}

/* Take what the ring holds into o's request, as the next batch.  Called
 * with p->mu held, which it drops while encoding. */
static void prepare(struct logbus_publisher *p, struct outgoing *o)
{
	size_t raw_len;
	uint64_t drops;

	o->n = take_batch(p, &raw_len, &drops);
	pthread_mutex_unlock(&p->mu);
	pthread_mutex_lock(&p->sender_mu);
	p->batch++;
	build_request(p, o, drops);
	/* in a child of fork(), nng makes no messages */
	o->msg = p->own_link ? NULL : reqconn_msg(o->req.data, o->req.size);
	pthread_mutex_unlock(&p->sender_mu);
	pthread_mutex_lock(&p->mu);
}

/* While a request is out: the next one, if there are records for it. */
static bool prepare_next(struct logbus_publisher *p, struct outgoing *next)
{
	bool ready = false;

	pthread_mutex_lock(&p->mu);
	if (p->used > 0 || p->dropped != p->dropped_reported) {
		prepare(p, next);
		ready = true;
	}
	pthread_mutex_unlock(&p->mu);
	return ready;
}

/*
 * Send o until it is answered (or we must give up).  While it is out the
 * next request is built into next, once; returns whether it was.
 */
static bool deliver(struct logbus_publisher *p, struct outgoing *o,
                    struct outgoing *next)
{
	char err[256];
	bool ready = false;

	for (;;) {
		struct reply reply;
		int rv = link_send(p, o, err, sizeof err);
		if (rv == 0) {
			if (!ready)
				ready = prepare_next(p, next);
			rv = link_wait(p, &reply, CALL_SLICE_MS, err,
			               sizeof err);
		}
		pthread_mutex_lock(&p->mu);
		note_connection(p);
		enum outcome out = RETRY;
		if (rv == 0) {
			out = take_reply(p, &reply, o->n);
			link_release(&reply);
		} else if (rv == LOGBUS_ECLOSED) {
			out = GIVE_UP;
		} else {
			set_error(p, "%s", err);
		}
		if (out != SENT && atomic_load(&p->abort))
			out = GIVE_UP;
		if (out == RETRY)
			p->resends++;
		pthread_cond_broadcast(&p->done);
		pthread_mutex_unlock(&p->mu);
		if (out != RETRY)
			return ready;
		if (rv == 0) {
			struct timespec ts = {0, RETRY_PAUSE_MS * 1000000L};
			nanosleep(&ts, NULL);
		}
	}
}

static bool sync_wanted(const struct logbus_publisher *p)
{
	return p->sync_asked > p->sync_done;
}

/* Ask the broker to answer once it has fanned out what it acknowledged.
 * Called with p->mu held, which it drops for the round trip.  Done even
 * when that fails: the records are in the journal either way. */
static void sync_broker(struct logbus_publisher *p)
{
	uint64_t ticket = p->sync_asked;
	struct reply reply;
	msgpack_packer pk;
	char err[256];

	msgpack_sbuffer_clear(&p->rec);
	msgpack_packer_init(&pk, &p->rec, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 2);
	mp_pack_key(&pk, "op");
	mp_pack_key(&pk, OP_SYNC);
	mp_pack_key(&pk, REPLY_TOK);
	msgpack_pack_uint64(&pk, link_tok(p));
	pthread_mutex_unlock(&p->mu);
	if (link_call(p, p->rec.data, p->rec.size, &reply, err, sizeof err) ==
	    0) {
		link_take_tok_body(p, &reply);
		link_release(&reply);
	}
	pthread_mutex_lock(&p->mu);
	p->sync_done = ticket;
	pthread_cond_broadcast(&p->done);
}

/* Wait for records or a sync to send; linger briefly for a fuller batch
 * unless someone is flushing or closing.  Called with p->mu held; false:
 * time to exit. */
static bool wait_for_work(struct logbus_publisher *p)
{
	while (p->used == 0 && p->dropped == p->dropped_reported &&
	       !sync_wanted(p)) {
		if (p->closing)
			return false;
		pthread_cond_wait(&p->work, &p->mu);
	}
	if (p->linger_ms > 0 && !p->flushing && !p->closing &&
	    p->used < BATCH_MAX / 2) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += (long)p->linger_ms * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&p->work, &p->mu, &ts);
	}
	return true;
}

static void *sender_main(void *arg)
{
	struct logbus_publisher *p = arg;
	struct outgoing *cur = &p->out[0], *next = &p->out[1];
	bool ready = false; /* next holds a request */

	pthread_mutex_lock(&p->mu);
	while (!atomic_load(&p->abort)) {
		if (sync_wanted(p)) { /* before more batches: flush waits */
			sync_broker(p);
			continue;
		}
		if (!ready) {
			if (!wait_for_work(p))
				break;
			if (sync_wanted(p))
				continue;
			prepare(p, next);
		}
		struct outgoing *t = cur;
		cur = next;
		next = t;
		pthread_mutex_unlock(&p->mu);
		ready = deliver(p, cur, next);
		pthread_mutex_lock(&p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* Called with p->mu held (or alone).  0 or an errno. */
static int start_sender(struct logbus_publisher *p)
{
	int rv = pthread_create(&p->sender, NULL, sender_main, p);
	if (rv == 0)
		p->sender_started = true;
	return rv;
}

static void new_session(struct logbus_publisher *p)
{
	if (getrandom(&p->session, sizeof p->session, 0) != sizeof p->session)
		p->session = (uint64_t)timefmt_now_ns() ^ (uint64_t)getpid()
		                                              << 32;
	p->batch = 0;
}

/* ---- fork ---------------------------------------------------------------- */

/* The publisher a fork_hook is embedded in. */
static struct logbus_publisher *publisher_of(struct fork_hook *h)
{
	char *base = (char *)h - offsetof(struct logbus_publisher, hook);
	return (struct logbus_publisher *)(void *)base;
}

/* sender_mu first: the sender takes mu after it lets go of sender_mu. */
void publisher_atfork_prepare(struct fork_hook *h)
{
	struct logbus_publisher *p = publisher_of(h);

	pthread_mutex_lock(&p->sender_mu);
	pthread_mutex_lock(&p->mu);
}

void publisher_atfork_parent(struct fork_hook *h)
{
	struct logbus_publisher *p = publisher_of(h);

	pthread_mutex_unlock(&p->mu);
	pthread_mutex_unlock(&p->sender_mu);
}

/*
 * The child's copy, both locks held by this thread (the only one), becomes
 * a publisher of the child's own.  The conditions are made again, not
 * destroyed: they may count waiters that are not in this process.
 */
void publisher_atfork_child(struct fork_hook *h)
{
	struct logbus_publisher *p = publisher_of(h);

	spconn_disconnect(&p->sp); /* if connected: the parent's, a copy */
	p->own_link = true;
	p->sender_started = false;
	p->head = p->used = 0;
	p->logged = p->answered = p->dropped = p->dropped_reported = 0;
	p->committed = p->rejected = p->batches = p->resends = 0;
	p->last_seq = p->flush_rejected = p->flush_limited = p->limited = 0;
	p->flushing = 0;
	p->sync_asked = p->sync_done = p->committed_at_sync = 0;
	p->error[0] = '\0';
	new_session(p);
	for (int i = 0; i < 2; i++) {
		msgpack_sbuffer_clear(&p->out[i].req);
		p->out[i].n = 0;
		/* made ahead, never given to nng: freeing a message is
		 * plain memory in nng, which is not started for it */
		nng_msg_free(p->out[i].msg);
		p->out[i].msg = NULL;
	}
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->space, NULL);
	pthread_cond_init(&p->done, NULL);
	pthread_mutex_unlock(&p->mu);
	pthread_mutex_unlock(&p->sender_mu);
}

/* ---- open, flush, close -------------------------------------------------- */

/* Free what open made, the sender thread gone or never started; connected:
 * the connection, the lock and its conditions were made too.  In a child
 * of fork() the nng connection is the parent's: nng cannot close it here,
 * and the parent still uses it. */
static void publisher_free(struct logbus_publisher *p, bool connected)
{
	if (connected) {
		if (!p->own_link)
			reqconn_close(&p->conn);
		spconn_fini(&p->sp);
		pthread_mutex_destroy(&p->sender_mu);
		pthread_mutex_destroy(&p->mu);
		pthread_cond_destroy(&p->work);
		pthread_cond_destroy(&p->space);
		pthread_cond_destroy(&p->done);
	}
	msgpack_sbuffer_destroy(&p->rec);
	for (int i = 0; i < 2; i++) {
		msgpack_sbuffer_destroy(&p->out[i].req);
		nng_msg_free(p->out[i].msg); /* built, never sent */
	}
	free(p->ring);
	free(p->raw);
	free(p);
}

LOGBUS_API int logbus_publisher_open(logbus_publisher **out,
                                     const logbus_publisher_options *o)
{
	char run_dir[4096], err[256];
	const char *dir;
	int rv;

	*out = NULL;
	if (o == NULL || o->service == NULL ||
	    !service_id_valid(o->service, strlen(o->service)))
		return LOGBUS_EINVAL;
	const char *logger = o->logger ? o->logger : o->service;
	if (!logger_valid(logger, strlen(logger)))
		return LOGBUS_EINVAL;
	dir = o->run_dir ? o->run_dir
	                 : paths_default_run_dir(run_dir, sizeof run_dir);
	if (dir == NULL)
		return LOGBUS_EINVAL;
	struct logbus_publisher *p = calloc(1, sizeof *p);
	if (p == NULL)
		return LOGBUS_ENOMEM;
	p->service_len = strlen(o->service);
	memcpy(p->service, o->service, p->service_len + 1);
	p->logger_len = strlen(logger);
	memcpy(p->logger, logger, p->logger_len + 1);
	p->on_full = o->on_full;
	p->fail_fast = o->fail_fast != 0;
	p->linger_ms = o->linger_ms > 0 ? o->linger_ms : 0;
	p->cap = o->queue_bytes ? o->queue_bytes : QUEUE_DEFAULT;
	if (p->cap < 64 * 1024)
		p->cap = 64 * 1024;
	p->raw_cap = 64 * 1024;
	p->ring = malloc(p->cap);
	p->raw = malloc(p->raw_cap);
	atomic_init(&p->abort, false);
	msgpack_sbuffer_init(&p->rec);
	for (int i = 0; i < 2; i++)
		msgpack_sbuffer_init(&p->out[i].req);
	new_session(p);
	if (p->ring == NULL || p->raw == NULL) {
		rv = LOGBUS_ENOMEM;
		goto fail;
	}
	if ((size_t)snprintf(p->ingest_path, sizeof p->ingest_path, "%s/%s",
	                     dir, SOCK_INGEST) >= sizeof p->ingest_path) {
		rv = LOGBUS_EINVAL;
		goto fail;
	}
	/* Before nng starts: a fork from now on is seen.  spconn is made
	 * either way, ready for a child. */
	fork_watch();
	p->own_link = fork_forked();
	if ((rv = spconn_init(&p->sp, p->ingest_path, INGEST_REPLY_MAX, err,
	                      sizeof err)) != 0)
		goto fail;
	if (!p->own_link &&
	    (rv = reqconn_open(&p->conn, dir, SOCK_INGEST, INGEST_REPLY_MAX,
	                       err, sizeof err)) != 0)
		goto fail;
	pthread_mutex_init(&p->mu, NULL);
	pthread_mutex_init(&p->sender_mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->space, NULL);
	pthread_cond_init(&p->done, NULL);
	/* On the list before the sender starts, which a fork waits for. */
	fork_track(&p->hook);
	pthread_mutex_lock(&p->mu);
	rv = start_sender(p);
	pthread_mutex_unlock(&p->mu);
	if (rv != 0) {
		fork_untrack(&p->hook);
		publisher_free(p, true);
		return LOGBUS_ESYS;
	}
	*out = p;
	return 0;
fail:
	publisher_free(p, false);
	return rv;
}

/* After flush's records were acknowledged: wait until the broker has
 * fanned them out too (sync_broker), unless nothing was committed since
 * the last sync.  Called with p->mu held.  Past the deadline it returns 0
 * all the same: the records are in the journal, the files follow. */
static int wait_fanned_out(struct logbus_publisher *p,
                           const struct timespec *deadline)
{
	if (p->committed != p->committed_at_sync) {
		p->sync_asked++;
		p->committed_at_sync = p->committed;
		pthread_cond_signal(&p->work);
	}
	uint64_t want = p->sync_asked;
	while (p->sync_done < want) {
		if (atomic_load(&p->abort))
			return LOGBUS_ECLOSED;
		if (deadline == NULL) {
			if (broker_gone(p))
				return 0;
			wait_slice(p, &p->done);
		} else if (pthread_cond_timedwait(&p->done, &p->mu, deadline) ==
		           ETIMEDOUT) {
			return 0;
		}
	}
	return 0;
}

LOGBUS_API int logbus_flush(logbus_publisher *p, int timeout_ms)
{
	struct timespec ts;
	int rv = 0;

	if (p == NULL)
		return LOGBUS_EINVAL;
	if (timeout_ms >= 0)
		deadline_ts(&ts, timeout_ms);
	pthread_mutex_lock(&p->mu);
	uint64_t ticket = p->logged;
	/* A command-line tool asked not to wait for a broker that cannot
	 * come: no socket file, no permission (the records stay queued). */
	if (p->fail_fast && p->answered < ticket && !link_connected(p) &&
	    reqconn_absent(&p->conn, p->error, sizeof p->error)) {
		pthread_mutex_unlock(&p->mu);
		return LOGBUS_EUNREACHABLE;
	}
	p->flushing++;
	pthread_cond_signal(&p->work);
	while (p->answered < ticket && rv == 0) {
		if (atomic_load(&p->abort)) {
			rv = LOGBUS_ECLOSED;
		} else if (timeout_ms < 0) {
			if (broker_gone(p))
				rv = LOGBUS_EUNREACHABLE;
			else
				wait_slice(p, &p->done);
		} else if (pthread_cond_timedwait(&p->done, &p->mu, &ts) ==
		           ETIMEDOUT) {
			rv = p->answered < ticket ? LOGBUS_ETIMEDOUT : 0;
		}
	}
	if (rv == 0)
		rv = wait_fanned_out(p, timeout_ms >= 0 ? &ts : NULL);
	p->flushing--;
	if (rv == LOGBUS_ETIMEDOUT && !link_connected(p))
		link_unreachable(p, p->error, sizeof p->error);
	if (rv == 0 && p->flush_rejected > 0)
		rv = LOGBUS_EREJECTED;
	else if (rv == 0 && p->flush_limited > 0)
		rv = LOGBUS_ELIMITED;
	if (rv == 0 || rv == LOGBUS_EREJECTED || rv == LOGBUS_ELIMITED)
		p->flush_rejected = p->flush_limited = 0;
	pthread_mutex_unlock(&p->mu);
	return rv;
}

LOGBUS_API int logbus_publisher_close(logbus_publisher *p, int timeout_ms)
{
	if (p == NULL)
		return LOGBUS_EINVAL;
	int rv = logbus_flush(p, timeout_ms);
	fork_untrack(&p->hook);
	pthread_mutex_lock(&p->mu);
	p->closing = true;
	atomic_store(&p->abort, true);
	pthread_cond_broadcast(&p->work);
	pthread_cond_broadcast(&p->space);
	bool started = p->sender_started;
	pthread_mutex_unlock(&p->mu);
	if (started)
		pthread_join(p->sender, NULL);
	publisher_free(p, true);
	return rv;
}

LOGBUS_API void logbus_publisher_get_stats(logbus_publisher *p,
                                           logbus_publisher_stats *st)
{
	pthread_mutex_lock(&p->mu);
	st->logged = p->logged;
	st->committed = p->committed;
	st->rejected = p->rejected;
	st->dropped = p->dropped;
	st->batches = p->batches;
	st->resends = p->resends;
	st->last_seq = p->last_seq;
	st->limited = p->limited;
	pthread_mutex_unlock(&p->mu);
	st->connected = link_connected(p);
}

LOGBUS_API const char *logbus_publisher_error(logbus_publisher *p, char *buf,
                                              size_t len)
{
	if (len == 0)
		return buf;
	pthread_mutex_lock(&p->mu);
	snprintf(buf, len, "%s", p->error);
	pthread_mutex_unlock(&p->mu);
	return buf;
}
