/*
 * test_bad_input.c: every bad input is refused with an error reply (or a
 * clear library error) and the broker goes on serving everyone else;
 * nothing already acknowledged is affected.
 *
 * Requests are built by hand with msgpack-c and sent on a raw req0 socket
 * (raw_request.c), exactly as liblogbus lays them out (shared/proto.h), so
 * that the broker's gate is tested with inputs the library would never
 * produce.  The one
 * message over the broker's receive limit goes over a plain Unix socket
 * speaking SP by hand (raw_sp_connect: nng 1.5.2 can hang closing a req0
 * socket whose pipe was dropped for that).
 *
 * Each test starts with a few records published and acknowledged through
 * the real library and a snapshot of them as read back; at the end the
 * journal must hold that snapshot unchanged, plus exactly the good records
 * the test expected to be added, and the broker must still be running and
 * serving a fresh publisher and reader.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <msgpack.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "cursor.h"
#include "harness.h"
#include "logbus/logbus.h"
#include "proto.h"
#include "raw_request.h"
#include "record.h"

#define SERVICE "badinput"
#define LOGGER  "test.bad_input"
#define N_ACKED 20
/* The broker writes its own events ("journal ...: empty", "serving ...",
 * "query: ..." errors, warnings) into the journal as records of this
 * service, between the tests' records. */
#define SELF_SERVICE "logbusd"

/* ---- records read back ---- */

struct rec_copy {
	uint64_t seq;
	char *service;
	char *message;
	size_t message_len;
	char *json; /* the whole record as JSON, plus recv_ns */
};

struct rec_list {
	struct rec_copy *v;
	size_t n, cap;
	uint64_t last_seq; /* of the last record read, the broker's included */
};

static char *dup_bytes(const char *s, size_t len)
{
	char *p = malloc(len + 1);
	assert_non_null(p);
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

static void rec_list_free(struct rec_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].service);
		free(l->v[i].message);
		free(l->v[i].json);
	}
	free(l->v);
	memset(l, 0, sizeof *l);
}

static void rec_list_add(const logbus_record *r, void *arg)
{
	struct rec_list *l = arg;
	char *buf = NULL;
	size_t cap = 0;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->v = realloc(l->v, l->cap * sizeof *l->v);
		assert_non_null(l->v);
	}
	long len = logbus_record_format(r, LOGBUS_FORMAT_JSON, &buf, &cap);
	assert_true(len > 0);
	char *json = malloc((size_t)len + 32);
	assert_non_null(json);
	snprintf(json, (size_t)len + 32, "%.*s recv_ns=%lld", (int)len - 1, buf,
	         (long long)r->recv_ns);
	free(buf);
	struct rec_copy *c = &l->v[l->n++];
	c->seq = r->seq;
	c->service = dup_bytes(r->service, strlen(r->service));
	c->message = dup_bytes(r->message, r->message_len);
	c->message_len = r->message_len;
	c->json = json;
}

/* Everything in the journal, from its head, but the broker's own records:
 * the checks here are about what the tests published, and the broker adds
 * an event whenever it has one (at start, for a failed query, a warning),
 * which says nothing about whether a bad input was refused. */
static void read_all(const struct broker_proc *b, struct rec_list *out)
{
	logbus_reader_options ro = {.run_dir = b->run_dir,
	                            .start = LOGBUS_START_HEAD};

	memset(out, 0, sizeof *out);
	out->last_seq = harness_read_each(&ro, rec_list_add, out);
}

/* logbus_reader_next, passing over the broker's own records (see
 * read_all). */
static int next_not_self(logbus_reader *r, const logbus_record **rec)
{
	int rv;

	while ((rv = logbus_reader_next(r, rec, -1)) == 1 &&
	       strcmp((*rec)->service, SELF_SERVICE) == 0)
		;
	return rv;
}

/* ---- per-test broker and acknowledged data ---- */

struct fixture {
	struct broker_proc *b;
	logbus_publisher *pub; /* open for the whole test: "everyone else" */
	struct rec_list acked; /* snapshot of the acknowledged records */
	char ingest_url[400], query_url[400];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);

	if (f == NULL || (f->b = harness_new(NULL)) == NULL) {
		free(f);
		return -1;
	}
	*state = f;
	snprintf(f->ingest_url, sizeof f->ingest_url, "ipc://%s/%s",
	         f->b->run_dir, SOCK_INGEST);
	snprintf(f->query_url, sizeof f->query_url, "ipc://%s/%s",
	         f->b->run_dir, SOCK_QUERY);
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (f == NULL)
		return 0;
	if (f->pub)
		logbus_publisher_close(f->pub, 5000);
	rec_list_free(&f->acked);
	harness_free(f->b);
	free(f);
	return 0;
}

/* Publish N_ACKED records through the library, flush, and keep a snapshot
 * of them as the journal serves them. */
static void publish_acknowledged(struct fixture *f)
{
	logbus_publisher_options po = {
	    .run_dir = f->b->run_dir, .service = SERVICE, .logger = LOGGER};

	assert_int_equal(logbus_publisher_open(&f->pub, &po), LOGBUS_OK);
	for (int i = 0; i < N_ACKED; i++) {
		logbus_field fl[] = {LOGBUS_INT("i", i),
		                     LOGBUS_STR("kind", "acked"),
		                     LOGBUS_BOOL("even", i % 2 == 0)};
		char msg[64];
		snprintf(msg, sizeof msg, "acked-%d \xc3\xa9t\xc3\xa9", i);
		logbus_entry e = {.time_ns = 1700000000000000000LL + i,
		                  .level = i % 2 ? LOGBUS_INFO : LOGBUS_ERROR,
		                  .stream = (enum logbus_stream)(i % 3),
		                  .message = msg,
		                  .message_len = (size_t)-1,
		                  .fields = fl,
		                  .nfields = 3};
		assert_int_equal(logbus_write(f->pub, &e), LOGBUS_OK);
	}
	assert_int_equal(logbus_flush(f->pub, 15000), LOGBUS_OK);
	read_all(f->b, &f->acked);
	assert_int_equal(f->acked.n, N_ACKED);
	for (size_t i = 0; i < f->acked.n; i++) {
		char want[64];
		snprintf(want, sizeof want, "acked-%zu \xc3\xa9t\xc3\xa9", i);
		assert_string_equal(f->acked.v[i].message, want);
	}
}

static uint64_t acked_last_seq(const struct fixture *f)
{
	return f->acked.v[f->acked.n - 1].seq;
}

/* The journal's last seq when the acknowledged records were read back: the
 * last of them, or an event of the broker's that came after them. */
static uint64_t journal_last_seq(const struct fixture *f)
{
	return f->acked.last_seq;
}

static bool broker_alive(struct broker_proc *b)
{
	int status;
	return b->pid > 0 && waitpid(b->pid, &status, WNOHANG) == 0;
}

/* A fresh publisher and reader: publish one record, flush, read it back. */
static void assert_round_trip(struct broker_proc *b, const char *tag)
{
	logbus_publisher_options po = {.run_dir = b->run_dir,
	                               .service = "roundtrip"};
	const char *svcs[] = {"roundtrip"};
	logbus_reader_options ro = {
	    .run_dir = b->run_dir,
	    .start = LOGBUS_START_HEAD,
	    .filter = {.services = svcs, .nservices = 1}};
	logbus_publisher *pub;
	logbus_reader *r;
	const logbus_record *rec;
	int rv, found = 0;

	assert_int_equal(logbus_publisher_open(&pub, &po), LOGBUS_OK);
	assert_int_equal(logbus_log(pub, LOGBUS_INFO, "round trip %s", tag),
	                 LOGBUS_OK);
	assert_int_equal(logbus_flush(pub, 5000), LOGBUS_OK);
	assert_int_equal(logbus_publisher_close(pub, 5000), LOGBUS_OK);
	assert_int_equal(logbus_reader_open(&r, &ro), LOGBUS_OK);
	char want[128];
	snprintf(want, sizeof want, "round trip %s", tag);
	while ((rv = logbus_reader_next(r, &rec, -1)) == 1)
		found += strcmp(rec->message, want) == 0;
	if (rv != 0)
		fail_msg("reader: %s: %s", logbus_strerror(rv),
		         logbus_reader_error(r));
	logbus_reader_close(r);
	assert_int_equal(found, 1);
}

/*
 * The end of every test: the broker runs, the acknowledged records are all
 * there and unchanged, and after them come exactly the `nextra` messages of
 * `extra` (service SERVICE) and nothing else; then the publisher that was
 * open all along and a fresh one both still work.
 */
static void assert_journal_and_broker_intact(struct fixture *f,
                                             const char *const *extra,
                                             size_t nextra)
{
	struct rec_list now;

	assert_true(broker_alive(f->b));
	read_all(f->b, &now);
	if (now.n != f->acked.n + nextra) {
		for (size_t i = 0; i < now.n; i++)
			print_message("  journal[%zu]: %s\n", i, now.v[i].json);
		fail_msg("journal holds %zu records, expected %zu acknowledged "
		         "+ %zu added",
		         now.n, f->acked.n, nextra);
	}
	for (size_t i = 0; i < f->acked.n; i++)
		assert_string_equal(now.v[i].json, f->acked.v[i].json);
	for (size_t i = 0; i < nextra; i++) {
		const struct rec_copy *c = &now.v[f->acked.n + i];
		assert_string_equal(c->service, SERVICE);
		assert_int_equal(c->message_len, strlen(extra[i]));
		assert_string_equal(c->message, extra[i]);
		assert_true(c->seq > now.v[f->acked.n + i - 1].seq);
	}
	rec_list_free(&now);

	/* The publisher that was connected all along still publishes. */
	assert_int_equal(logbus_log(f->pub, LOGBUS_INFO, "still here"),
	                 LOGBUS_OK);
	assert_int_equal(logbus_flush(f->pub, 5000), LOGBUS_OK);
	assert_round_trip(f->b, "after bad input");
	assert_true(broker_alive(f->b));
}

/* ---- refusals ---- */

/* The reply is {"ok":false,"code":code,"error":<a sentence>}. */
static void assert_refused(const struct raw_reply *r, const char *code)
{
	bool ok = true;
	char got[128], text[512];

	assert_true(mp_get_bool(&r->o, "ok", &ok));
	raw_str(&r->o, "error", text, sizeof text);
	if (ok)
		fail_msg("expected a refusal with %s, got ok:true", code);
	assert_string_equal(raw_str(&r->o, "code", got, sizeof got), code);
	assert_true(mp_get(&r->o, "error") != NULL);
	assert_true(strlen(text) > 0);
	print_message("  refused (%s): %s\n", got, text);
}

static void call_expect_refused(const char *url, const void *body, size_t len,
                                const char *code)
{
	struct raw_reply r;

	raw_call(url, body, len, &r);
	assert_refused(&r, code);
	raw_reply_free(&r);
}

/* A msgpack writer for hand-built requests. */
struct mp {
	msgpack_sbuffer sb;
	msgpack_packer pk;
};

static void mp_begin(struct mp *m)
{
	msgpack_sbuffer_init(&m->sb);
	msgpack_packer_init(&m->pk, &m->sb, msgpack_sbuffer_write);
}

static void mp_end(struct mp *m)
{
	msgpack_sbuffer_destroy(&m->sb);
}

static void mp_send_refused(struct mp *m, const char *url, const char *code)
{
	call_expect_refused(url, m->sb.data, m->sb.size, code);
	mp_end(m);
}

/* ---- building records by hand ---- */

struct rec_spec {
	const char *service;
	size_t service_len; /* 0: strlen(service) unless service_empty */
	bool service_empty;
	bool service_int; /* "s" is an integer */
	const char *message;
	size_t message_len; /* 0: strlen(message) */
	bool omit_message;
	int level;
	int stream;
	bool fields;
	const char *logger; /* NULL: LOGGER */
	int bad_field;      /* 1: key "bad key", 2: value not UTF-8, 3: array */
};

/* The broker's count of refusals by code (info's "rejected"), for the
 * record codes. */
static const char *const record_codes[] = {ERR_BAD_RECORD, ERR_BAD_SERVICE,
                                           ERR_BAD_UTF8, ERR_TOO_BIG};
#define NCODES (sizeof record_codes / sizeof record_codes[0])

static void rejected_counts(struct fixture *f, uint64_t out[NCODES])
{
	struct raw_reply r;

	raw_info(f->b->run_dir, &r);
	const msgpack_object *rej = mp_get(&r.o, "rejected");
	assert_non_null(rej);
	for (size_t i = 0; i < NCODES; i++)
		assert_true(mp_get_u64(rej, record_codes[i], &out[i]));
	raw_reply_free(&r);
}

static size_t code_index(const char *code)
{
	for (size_t i = 0; i < NCODES; i++)
		if (strcmp(record_codes[i], code) == 0)
			return i;
	fail_msg("unexpected code %s", code);
	return 0;
}

static void pack_record(msgpack_sbuffer *out, const struct rec_spec *s)
{
	msgpack_packer pk;
	size_t slen = s->service_empty ? 0
	              : s->service_len ? s->service_len
	                               : strlen(s->service);
	size_t mlen = s->message_len ? s->message_len : strlen(s->message);

	msgpack_sbuffer_clear(out);
	msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 4 + !s->omit_message + (s->stream != 0) +
	                          (s->fields || s->bad_field));
	mp_pack_key(&pk, RK_TIME);
	msgpack_pack_int64(&pk, 1700000000123456789LL);
	mp_pack_key(&pk, RK_LEVEL);
	msgpack_pack_int(&pk, s->level);
	mp_pack_key(&pk, RK_SERVICE);
	if (s->service_int)
		msgpack_pack_int(&pk, 7);
	else
		mp_pack_str(&pk, s->service, slen);
	mp_pack_key(&pk, RK_LOGGER);
	mp_pack_key(&pk, s->logger ? s->logger : LOGGER);
	if (!s->omit_message) {
		mp_pack_key(&pk, RK_MESSAGE);
		mp_pack_str(&pk, s->message, mlen);
	}
	if (s->stream != 0) {
		mp_pack_key(&pk, RK_STREAM);
		msgpack_pack_int(&pk, s->stream);
	}
	if (s->fields) {
		mp_pack_key(&pk, RK_FIELDS);
		msgpack_pack_map(&pk, 2);
		mp_pack_key(&pk, "k");
		mp_pack_key(&pk, "v");
		mp_pack_key(&pk, "n");
		msgpack_pack_int(&pk, 5);
	} else if (s->bad_field) {
		mp_pack_key(&pk, RK_FIELDS);
		msgpack_pack_map(&pk, 1);
		mp_pack_key(&pk, s->bad_field == 1 ? "bad key" : "k");
		if (s->bad_field == 2) {
			mp_pack_str(&pk, "\xc0\xaf", 2);
		} else if (s->bad_field == 3) {
			msgpack_pack_array(&pk, 1);
			msgpack_pack_int(&pk, 1);
		} else {
			mp_pack_key(&pk, "v");
		}
	}
}

static void pack_record_bin(msgpack_packer *pk, const struct rec_spec *s)
{
	msgpack_sbuffer rec;

	msgpack_sbuffer_init(&rec);
	pack_record(&rec, s);
	raw_pack_bin(pk, rec.data, rec.size);
	msgpack_sbuffer_destroy(&rec);
}

/* The start of a publish request with n records to follow. */
static void begin_publish(struct mp *m, uint64_t sid, uint64_t bn, size_t n)
{
	mp_begin(m);
	raw_pack_publish(&m->pk, sid, bn, 0, (uint32_t)n);
}

/* ---- the tests ---- */

static void
test_malformed_requests_are_refused_and_broker_serves_on(void **state)
{
	struct fixture *f = *state;
	struct mp m;

	publish_acknowledged(f);

	/* Not msgpack at all: bytes of no msgpack type (0xc1 is never
	 * used), then pseudo-random noise. */
	unsigned char noise[777];
	uint32_t x = 0x9e3779b9u;
	for (size_t i = 0; i < sizeof noise; i++) {
		x = x * 1664525u + 1013904223u;
		noise[i] = (unsigned char)(x >> 24);
	}
	noise[0] = 0xc1;
	call_expect_refused(f->ingest_url, noise, sizeof noise,
	                    ERR_BAD_REQUEST);
	call_expect_refused(f->query_url, noise, sizeof noise, ERR_BAD_REQUEST);
	/* A truncated map: msgpack that ends too early. */
	const unsigned char torn[] = {0x84, 0xa2, 'o', 'p', 0xa3, 'p'};
	call_expect_refused(f->ingest_url, torn, sizeof torn, ERR_BAD_REQUEST);
	/* An empty message. */
	call_expect_refused(f->ingest_url, "", 0, ERR_BAD_REQUEST);

	/* msgpack, but not a map. */
	mp_begin(&m);
	msgpack_pack_array(&m.pk, 3);
	msgpack_pack_int(&m.pk, 1);
	msgpack_pack_int(&m.pk, 2);
	msgpack_pack_int(&m.pk, 3);
	mp_send_refused(&m, f->ingest_url, ERR_BAD_REQUEST);
	mp_begin(&m);
	mp_pack_key(&m.pk, "pub");
	mp_send_refused(&m, f->ingest_url, ERR_BAD_REQUEST);
	mp_begin(&m);
	msgpack_pack_int(&m.pk, 42);
	mp_send_refused(&m, f->query_url, ERR_BAD_REQUEST);

	/* A map without "op", and one whose op is not a string. */
	mp_begin(&m);
	msgpack_pack_map(&m.pk, 1);
	mp_pack_key(&m.pk, "sid");
	msgpack_pack_uint64(&m.pk, 1);
	mp_send_refused(&m, f->ingest_url, ERR_BAD_REQUEST);
	mp_begin(&m);
	msgpack_pack_map(&m.pk, 1);
	mp_pack_key(&m.pk, "op");
	msgpack_pack_int(&m.pk, 5);
	mp_send_refused(&m, f->ingest_url, ERR_BAD_REQUEST);
	mp_begin(&m);
	msgpack_pack_map(&m.pk, 0);
	mp_send_refused(&m, f->query_url, ERR_BAD_REQUEST);

	/* An unknown op, on both sockets; and "read" is not an ingest op. */
	mp_begin(&m);
	msgpack_pack_map(&m.pk, 1);
	mp_pack_key(&m.pk, "op");
	mp_pack_key(&m.pk, "frobnicate");
	call_expect_refused(f->ingest_url, m.sb.data, m.sb.size,
	                    ERR_UNKNOWN_OP);
	mp_send_refused(&m, f->query_url, ERR_UNKNOWN_OP);
	mp_begin(&m);
	msgpack_pack_map(&m.pk, 1);
	mp_pack_key(&m.pk, "op");
	mp_pack_key(&m.pk, OP_READ);
	mp_send_refused(&m, f->ingest_url, ERR_UNKNOWN_OP);
	mp_begin(&m);
	msgpack_pack_map(&m.pk, 1);
	mp_pack_key(&m.pk, "op");
	mp_pack_key(&m.pk, OP_PUBLISH);
	mp_send_refused(&m, f->query_url, ERR_UNKNOWN_OP);

	/* A publish without sid, without bn, without r, with r not an
	 * array: nothing of it may be written. */
	struct rec_spec good = {.service = SERVICE,
	                        .message = "never written",
	                        .level = LOGBUS_INFO};
	for (int missing = 0; missing < 4; missing++) {
		mp_begin(&m);
		msgpack_pack_map(&m.pk, 3 + (missing == 3));
		mp_pack_key(&m.pk, "op");
		mp_pack_key(&m.pk, OP_PUBLISH);
		if (missing != 0) {
			mp_pack_key(&m.pk, "sid");
			msgpack_pack_uint64(&m.pk, 0x5151);
		}
		if (missing != 1) {
			mp_pack_key(&m.pk, "bn");
			msgpack_pack_uint64(&m.pk, 1);
		}
		if (missing == 3) {
			mp_pack_key(&m.pk, "r");
			pack_record_bin(&m.pk, &good);
		} else if (missing != 2) {
			mp_pack_key(&m.pk, "r");
			msgpack_pack_array(&m.pk, 1);
			pack_record_bin(&m.pk, &good);
		}
		mp_send_refused(&m, f->ingest_url, ERR_BAD_REQUEST);
	}
	/* sid of the wrong type. */
	mp_begin(&m);
	msgpack_pack_map(&m.pk, 4);
	mp_pack_key(&m.pk, "op");
	mp_pack_key(&m.pk, OP_PUBLISH);
	mp_pack_key(&m.pk, "sid");
	mp_pack_key(&m.pk, "one");
	mp_pack_key(&m.pk, "bn");
	msgpack_pack_uint64(&m.pk, 1);
	mp_pack_key(&m.pk, "r");
	msgpack_pack_array(&m.pk, 1);
	pack_record_bin(&m.pk, &good);
	mp_send_refused(&m, f->ingest_url, ERR_BAD_REQUEST);

	assert_journal_and_broker_intact(f, NULL, 0);
}

struct bad_case {
	const char *what;
	const char *code; /* NULL: a good record */
};

static void
test_bad_records_are_refused_and_the_rest_of_the_batch_committed(void **state)
{
	struct fixture *f = *state;
	const uint64_t sid = 0x0123456789abcdefULL, bn = 7;
	char long_svc[LOGBUS_SERVICE_MAX + 2];
	memset(long_svc, 'a', LOGBUS_SERVICE_MAX + 1);
	long_svc[LOGBUS_SERVICE_MAX + 1] = '\0';
	char *huge = harness_filled('x', LOGBUS_RECORD_MAX);
	static const char *const good_msgs[] = {
	    "good-0", "good-1", "good-2", "good-3 \xe2\x82\xac", "good-4"};
	const struct bad_case cases[] = {
	    {"good-0", NULL},
	    {"not a bin", ERR_BAD_RECORD},
	    {"good-1", NULL},
	    {"bin that is not msgpack", ERR_BAD_RECORD},
	    {"msgpack that is not a map", ERR_BAD_RECORD},
	    {"map without m", ERR_BAD_RECORD},
	    {"level 300", ERR_BAD_RECORD},
	    {"stream 3", ERR_BAD_RECORD},
	    {"service \"\"", ERR_BAD_SERVICE},
	    {"service of 129 chars", ERR_BAD_SERVICE},
	    {"service ../x", ERR_BAD_SERVICE},
	    {"service a/b", ERR_BAD_SERVICE},
	    {"service .hidden", ERR_BAD_SERVICE},
	    {"service with a NUL byte", ERR_BAD_SERVICE},
	    {"service not a string", ERR_BAD_RECORD},
	    {"good-2", NULL},
	    {"message \\xff\\xfe", ERR_BAD_UTF8},
	    {"message overlong \\xc0\\xaf", ERR_BAD_UTF8},
	    {"message surrogate \\xed\\xa0\\x80", ERR_BAD_UTF8},
	    {"record over LOGBUS_RECORD_MAX", ERR_TOO_BIG},
	    {"good-3", NULL},
	    {"bytes after the record", ERR_BAD_RECORD},
	    {"logger with a newline", ERR_BAD_RECORD},
	    {"logger empty", ERR_BAD_RECORD},
	    {"field key with a space", ERR_BAD_RECORD},
	    {"field value not UTF-8", ERR_BAD_UTF8},
	    {"field value not a scalar", ERR_BAD_RECORD},
	    {"good-4", NULL},
	};
	const size_t ncases = sizeof cases / sizeof cases[0];
	struct mp m;
	int good = 0;

	publish_acknowledged(f);
	uint64_t before[NCODES], after[NCODES], want[NCODES] = {0};
	rejected_counts(f, before);
	for (size_t i = 0; i < ncases; i++)
		if (cases[i].code != NULL)
			want[code_index(cases[i].code)]++;
	want[code_index(ERR_BAD_SERVICE)]++; /* the all-bad batch below */
	want[code_index(ERR_BAD_UTF8)]++;
	begin_publish(&m, sid, bn, ncases);
	for (size_t i = 0; i < ncases; i++) {
		struct rec_spec s = {.service = SERVICE,
		                     .message = "bad",
		                     .level = LOGBUS_WARNING};
		const char *w = cases[i].what;
		if (cases[i].code == NULL) {
			s.message = good_msgs[good];
			s.stream = good == 3 ? LOGBUS_STREAM_STDERR : 0;
			s.fields = good == 3;
			good++;
			pack_record_bin(&m.pk, &s);
			continue;
		}
		if (strcmp(w, "not a bin") == 0) {
			mp_pack_key(&m.pk, "a string, not a bin");
			continue;
		} else if (strcmp(w, "bin that is not msgpack") == 0) {
			raw_pack_bin(&m.pk, "\xc1\xc1\xc1\xc1", 4);
			continue;
		} else if (strcmp(w, "msgpack that is not a map") == 0) {
			raw_pack_bin(&m.pk, "\x93\x01\x02\x03", 4);
			continue;
		} else if (strcmp(w, "bytes after the record") == 0) {
			msgpack_sbuffer rec;
			msgpack_sbuffer_init(&rec);
			s.message = "trailing";
			pack_record(&rec, &s);
			msgpack_sbuffer_write(&rec, "\x01", 1);
			raw_pack_bin(&m.pk, rec.data, rec.size);
			msgpack_sbuffer_destroy(&rec);
			continue;
		} else if (strcmp(w, "map without m") == 0) {
			s.omit_message = true;
		} else if (strcmp(w, "level 300") == 0) {
			s.level = 300;
		} else if (strcmp(w, "stream 3") == 0) {
			s.stream = 3;
		} else if (strcmp(w, "service \"\"") == 0) {
			s.service_empty = true;
		} else if (strcmp(w, "service of 129 chars") == 0) {
			s.service = long_svc;
		} else if (strcmp(w, "service ../x") == 0) {
			s.service = "../x";
		} else if (strcmp(w, "service a/b") == 0) {
			s.service = "a/b";
		} else if (strcmp(w, "service .hidden") == 0) {
			s.service = ".hidden";
		} else if (strcmp(w, "service with a NUL byte") == 0) {
			s.service = "svc\0x";
			s.service_len = 5;
		} else if (strcmp(w, "service not a string") == 0) {
			s.service_int = true;
		} else if (strcmp(w, "message \\xff\\xfe") == 0) {
			s.message = "\xff\xfe";
		} else if (strcmp(w, "message overlong \\xc0\\xaf") == 0) {
			s.message = "ok \xc0\xaf";
		} else if (strcmp(w, "message surrogate \\xed\\xa0\\x80") ==
		           0) {
			s.message = "\xed\xa0\x80 surrogate";
		} else if (strcmp(w, "record over LOGBUS_RECORD_MAX") == 0) {
			s.message = huge;
		} else if (strcmp(w, "logger with a newline") == 0) {
			s.logger = "a\nb";
		} else if (strcmp(w, "logger empty") == 0) {
			s.logger = "";
		} else if (strcmp(w, "field key with a space") == 0) {
			s.bad_field = 1;
		} else if (strcmp(w, "field value not UTF-8") == 0) {
			s.bad_field = 2;
		} else if (strcmp(w, "field value not a scalar") == 0) {
			s.bad_field = 3;
		} else {
			fail_msg("no way to build case '%s'", w);
		}
		pack_record_bin(&m.pk, &s);
	}
	free(huge);

	/* The refused records are listed with their index and reason; the
	 * good ones are committed with consecutive sequence numbers right
	 * after what was already acknowledged. */
	struct raw_reply r;
	bool ok = false, dup = true;
	uint64_t first = 0, n = 0, rbn = 0;
	raw_call(f->ingest_url, m.sb.data, m.sb.size, &r);
	assert_true(mp_get_bool(&r.o, "ok", &ok));
	assert_true(ok);
	assert_true(mp_get_bool(&r.o, "dup", &dup));
	assert_false(dup);
	assert_true(mp_get_u64(&r.o, "bn", &rbn));
	assert_int_equal(rbn, bn);
	assert_true(mp_get_u64(&r.o, "n", &n));
	assert_int_equal(n, good);
	assert_true(mp_get_u64(&r.o, "first", &first));
	assert_int_equal(first, journal_last_seq(f) + 1);
	const msgpack_object *rej = mp_get(&r.o, "rej");
	assert_non_null(rej);
	assert_int_equal(rej->type, MSGPACK_OBJECT_ARRAY);
	assert_int_equal(rej->via.array.size, ncases - (size_t)good);
	bool seen[sizeof cases / sizeof cases[0]] = {false};
	for (uint32_t i = 0; i < rej->via.array.size; i++) {
		const msgpack_object *e = &rej->via.array.ptr[i];
		assert_int_equal(e->type, MSGPACK_OBJECT_ARRAY);
		assert_int_equal(e->via.array.size, 3);
		const msgpack_object *idx = &e->via.array.ptr[0];
		const msgpack_object *code = &e->via.array.ptr[1];
		const msgpack_object *msg = &e->via.array.ptr[2];
		assert_int_equal(idx->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
		assert_true(idx->via.u64 < ncases);
		assert_int_equal(code->type, MSGPACK_OBJECT_STR);
		assert_int_equal(msg->type, MSGPACK_OBJECT_STR);
		const struct bad_case *c = &cases[idx->via.u64];
		char got[64];
		snprintf(got, sizeof got, "%.*s", (int)code->via.str.size,
		         code->via.str.ptr);
		print_message("  [%2u] %-36s -> %s: %.*s\n",
		              (unsigned)idx->via.u64, c->what, got,
		              (int)msg->via.str.size, msg->via.str.ptr);
		if (c->code == NULL)
			fail_msg("good record %u (%s) was refused: %s",
			         (unsigned)idx->via.u64, c->what, got);
		if (strcmp(got, c->code) != 0)
			fail_msg("record %u (%s): code %s, expected %s",
			         (unsigned)idx->via.u64, c->what, got, c->code);
		/* Only the first REJ_TEXT_MAX carry a sentence. */
		assert_true(i >= REJ_TEXT_MAX || msg->via.str.size > 0);
		assert_false(seen[idx->via.u64]);
		seen[idx->via.u64] = true;
	}
	raw_reply_free(&r);

	/* The very same batch again (a resend): acknowledged as a duplicate
	 * with the same sequence numbers, and not written twice. */
	raw_call(f->ingest_url, m.sb.data, m.sb.size, &r);
	uint64_t first2 = 0, n2 = 0;
	assert_true(mp_get_bool(&r.o, "ok", &ok));
	assert_true(ok);
	assert_true(mp_get_bool(&r.o, "dup", &dup));
	assert_true(dup);
	assert_true(mp_get_u64(&r.o, "first", &first2));
	assert_int_equal(first2, first);
	assert_true(mp_get_u64(&r.o, "n", &n2));
	assert_int_equal(n2, n);
	raw_reply_free(&r);
	mp_end(&m);

	/* A batch where every record is bad commits nothing. */
	begin_publish(&m, sid, bn + 1, 2);
	struct rec_spec bad1 = {
	    .service = "../etc", .message = "x", .level = 20};
	struct rec_spec bad2 = {
	    .service = SERVICE, .message = "\xff", .level = 20};
	pack_record_bin(&m.pk, &bad1);
	pack_record_bin(&m.pk, &bad2);
	raw_call(f->ingest_url, m.sb.data, m.sb.size, &r);
	assert_true(mp_get_bool(&r.o, "ok", &ok));
	assert_true(ok);
	assert_true(mp_get_u64(&r.o, "n", &n2));
	assert_int_equal(n2, 0);
	rej = mp_get(&r.o, "rej");
	assert_non_null(rej);
	assert_int_equal(rej->type, MSGPACK_OBJECT_ARRAY);
	assert_int_equal(rej->via.array.size, 2);
	raw_reply_free(&r);
	mp_end(&m);

	/* Each refusal was counted once under its code (not again for the
	 * resent batch). */
	rejected_counts(f, after);
	for (size_t i = 0; i < NCODES; i++)
		assert_int_equal(after[i] - before[i], want[i]);

	assert_journal_and_broker_intact(f, good_msgs, (size_t)good);
	/* The good records kept their seq: first .. first + n - 1. */
	struct rec_list now;
	read_all(f->b, &now);
	for (size_t i = 0; i < (size_t)good; i++)
		assert_int_equal(now.v[f->acked.n + i].seq, first + i);
	rec_list_free(&now);
}

static void
test_message_over_receive_limit_drops_pipe_and_others_go_on(void **state)
{
	struct fixture *f = *state;
	const size_t big = INGEST_RECV_MAX + 4096;
	struct raw_reply r;
	struct mp m;
	int fd, rv;

	publish_acknowledged(f);

	/* The hand-made client speaks SP correctly: a small request on it
	 * is answered. */
	mp_begin(&m);
	msgpack_pack_map(&m.pk, 1);
	mp_pack_key(&m.pk, "op");
	mp_pack_key(&m.pk, "frobnicate");
	fd = raw_sp_connect(f->b->run_dir, SOCK_INGEST, RAW_SP_REQ0);
	assert_int_equal(raw_sp_send(fd, 1, m.sb.data, m.sb.size), 0);
	mp_end(&m);
	assert_int_equal(raw_sp_recv(fd, 1, &r), 1);
	assert_refused(&r, ERR_UNKNOWN_OP);
	raw_reply_free(&r);
	close(fd);

	/* A well-formed publish request, just too large for the socket: the
	 * broker drops the connection without a reply. */
	char *blob = calloc(1, big);
	assert_non_null(blob);
	begin_publish(&m, 0xb16b16, 1, 1);
	raw_pack_bin(&m.pk, blob, big);
	free(blob);
	assert_true(m.sb.size > INGEST_RECV_MAX);
	fd = raw_sp_connect(f->b->run_dir, SOCK_INGEST, RAW_SP_REQ0);
	rv = raw_sp_send(fd, 2, m.sb.data, m.sb.size);
	print_message("  oversized request: sending it %s\n",
	              rv == 0 ? "completed" : strerror(errno));
	mp_end(&m);
	rv = raw_sp_recv(fd, 2, &r);
	close(fd);
	if (rv == 1) {
		raw_reply_free(&r);
		fail_msg("the broker answered a message over its receive "
		         "limit");
	}
	if (rv < 0)
		fail_msg("the broker neither answered nor dropped the "
		         "connection of a message over its receive limit: %s",
		         strerror(errno));
	print_message("  oversized request: connection dropped, no reply\n");

	assert_journal_and_broker_intact(f, NULL, 0);
}

static void info(struct fixture *f, unsigned char jid[CURSOR_ID_LEN],
                 uint64_t *last)
{
	struct raw_reply r;
	const char *p;
	size_t n;
	bool ok = false;

	raw_info(f->b->run_dir, &r);
	assert_true(mp_get_bool(&r.o, "ok", &ok));
	assert_true(ok);
	assert_true(mp_get_bytes(&r.o, "jid", &p, &n));
	assert_int_equal(n, CURSOR_ID_LEN);
	memcpy(jid, p, CURSOR_ID_LEN);
	assert_true(mp_get_u64(&r.o, "last", last));
	raw_reply_free(&r);
}

/* {"op":"read", ...}: jid (NULL: none), after (UINT64_MAX: none), and a
 * filter built by flt (NULL: none). */
static void begin_read(struct mp *m, const unsigned char *jid, uint64_t after,
                       bool with_flt)
{
	mp_begin(m);
	msgpack_pack_map(&m->pk,
	                 1 + (jid != NULL) + (after != UINT64_MAX) + with_flt);
	mp_pack_key(&m->pk, "op");
	mp_pack_key(&m->pk, OP_READ);
	if (jid) {
		mp_pack_key(&m->pk, "jid");
		raw_pack_bin(&m->pk, jid, CURSOR_ID_LEN);
	}
	if (after != UINT64_MAX) {
		mp_pack_key(&m->pk, "after");
		msgpack_pack_uint64(&m->pk, after);
	}
	if (with_flt)
		mp_pack_key(&m->pk, "flt");
}

static void test_bad_read_requests_are_refused(void **state)
{
	struct fixture *f = *state;
	unsigned char jid[CURSOR_ID_LEN], other[CURSOR_ID_LEN];
	uint64_t last;
	struct mp m;
	struct raw_reply r;
	bool ok = false;

	publish_acknowledged(f);
	info(f, jid, &last);
	assert_int_equal(last, journal_last_seq(f));

	/* A good read first, so the refusals below are about the input. */
	begin_read(&m, jid, 0, false);
	raw_call(f->query_url, m.sb.data, m.sb.size, &r);
	mp_end(&m);
	assert_true(mp_get_bool(&r.o, "ok", &ok));
	assert_true(ok);
	raw_reply_free(&r);

	/* Another journal's id. */
	for (int i = 0; i < CURSOR_ID_LEN; i++)
		other[i] = (unsigned char)(jid[i] ^ 0x5a);
	begin_read(&m, other, 0, false);
	mp_send_refused(&m, f->query_url, ERR_CURSOR);
	/* A journal id of the wrong length. */
	mp_begin(&m);
	msgpack_pack_map(&m.pk, 3);
	mp_pack_key(&m.pk, "op");
	mp_pack_key(&m.pk, OP_READ);
	mp_pack_key(&m.pk, "jid");
	raw_pack_bin(&m.pk, jid, CURSOR_ID_LEN - 1);
	mp_pack_key(&m.pk, "after");
	msgpack_pack_uint64(&m.pk, 0);
	mp_send_refused(&m, f->query_url, ERR_CURSOR);
	/* A position beyond the journal's last record. */
	begin_read(&m, jid, last + 1, false);
	mp_send_refused(&m, f->query_url, ERR_CURSOR);
	begin_read(&m, jid, UINT64_MAX - 1, false);
	mp_send_refused(&m, f->query_url, ERR_CURSOR);

	/* Filters the broker cannot apply exactly. */
	begin_read(&m, NULL, UINT64_MAX, true);
	msgpack_pack_map(&m.pk, 1);
	mp_pack_key(&m.pk, "colour");
	mp_pack_key(&m.pk, "blue");
	mp_send_refused(&m, f->query_url, ERR_BAD_REQUEST);
	begin_read(&m, NULL, UINT64_MAX, true);
	msgpack_pack_map(&m.pk, 1);
	mp_pack_key(&m.pk, "svc");
	msgpack_pack_array(&m.pk, 2);
	mp_pack_key(&m.pk, SERVICE);
	mp_pack_key(&m.pk, "../x");
	mp_send_refused(&m, f->query_url, ERR_BAD_REQUEST);
	begin_read(&m, NULL, UINT64_MAX, true);
	msgpack_pack_map(&m.pk, 1);
	mp_pack_key(&m.pk, "svc");
	mp_pack_key(&m.pk, SERVICE); /* not an array */
	mp_send_refused(&m, f->query_url, ERR_BAD_REQUEST);
	begin_read(&m, NULL, UINT64_MAX, true);
	msgpack_pack_map(&m.pk, 1);
	mp_pack_key(&m.pk, "lvl");
	msgpack_pack_int(&m.pk, 300);
	mp_send_refused(&m, f->query_url, ERR_BAD_REQUEST);
	begin_read(&m, NULL, UINT64_MAX, true);
	msgpack_pack_array(&m.pk, 0); /* not a map */
	mp_send_refused(&m, f->query_url, ERR_BAD_REQUEST);
	begin_read(&m, NULL, UINT64_MAX, true);
	msgpack_pack_map(&m.pk, 1);
	mp_pack_key(&m.pk, "re");
	mp_pack_key(&m.pk, "(unclosed");
	mp_send_refused(&m, f->query_url, ERR_BAD_REQUEST);
	begin_read(&m, NULL, UINT64_MAX, true);
	msgpack_pack_map(&m.pk, 1);
	mp_pack_key(&m.pk, "st");
	msgpack_pack_int(&m.pk, 9);
	mp_send_refused(&m, f->query_url, ERR_BAD_REQUEST);
	begin_read(&m, NULL, UINT64_MAX, true);
	msgpack_pack_map(&m.pk, 1);
	mp_pack_key(&m.pk, "fld");
	msgpack_pack_array(&m.pk, 1);
	mp_pack_key(&m.pk, "k=v"); /* not a [key, value] pair */
	mp_send_refused(&m, f->query_url, ERR_BAD_REQUEST);

	assert_journal_and_broker_intact(f, NULL, 0);
}

/* One read request from any local user used to overflow the heap: a filter
 * whose "svc" holds 8 services and then, again, 1. */
static void test_read_with_a_repeated_filter_key_is_refused(void **state)
{
	struct fixture *f = *state;
	struct mp m;

	publish_acknowledged(f);
	begin_read(&m, NULL, UINT64_MAX, true);
	msgpack_pack_map(&m.pk, 2);
	mp_pack_key(&m.pk, "svc");
	msgpack_pack_array(&m.pk, 8);
	for (int i = 0; i < 8; i++)
		mp_pack_key(&m.pk, SERVICE);
	mp_pack_key(&m.pk, "svc");
	msgpack_pack_array(&m.pk, 1);
	mp_pack_key(&m.pk, SERVICE);
	mp_send_refused(&m, f->query_url, ERR_BAD_REQUEST);
	/* Each key that holds memory, repeated many times. */
	const char *keys[] = {"lg", "re", "fld"};
	for (size_t k = 0; k < 3; k++) {
		begin_read(&m, NULL, UINT64_MAX, true);
		msgpack_pack_map(&m.pk, 2);
		for (int i = 0; i < 2; i++) {
			mp_pack_key(&m.pk, keys[k]);
			if (k < 2) {
				mp_pack_key(&m.pk, "abc");
				continue;
			}
			msgpack_pack_array(&m.pk, 1);
			msgpack_pack_array(&m.pk, 2);
			mp_pack_key(&m.pk, "k");
			mp_pack_key(&m.pk, "v");
		}
		mp_send_refused(&m, f->query_url, ERR_BAD_REQUEST);
	}
	/* A request map whose own key repeats, on both sockets. */
	mp_begin(&m);
	msgpack_pack_map(&m.pk, 2);
	mp_pack_key(&m.pk, "op");
	mp_pack_key(&m.pk, OP_READ);
	mp_pack_key(&m.pk, "op");
	mp_pack_key(&m.pk, OP_INFO);
	mp_send_refused(&m, f->query_url, ERR_BAD_REQUEST);
	mp_begin(&m);
	msgpack_pack_map(&m.pk, 2);
	mp_pack_key(&m.pk, "op");
	mp_pack_key(&m.pk, OP_SYNC);
	mp_pack_key(&m.pk, "op");
	mp_pack_key(&m.pk, OP_SYNC);
	mp_send_refused(&m, f->ingest_url, ERR_BAD_REQUEST);

	assert_journal_and_broker_intact(f, NULL, 0);
}

static void test_library_refuses_bad_input_with_clear_errors(void **state)
{
	struct fixture *f = *state;
	logbus_publisher *p = NULL;
	char long_svc[201];
	int rv;

	publish_acknowledged(f);

	/* Service ids that could leave the log directory or are empty. */
	memset(long_svc, 's', 200);
	long_svc[200] = '\0';
	const char *bad_svcs[] = {"../x",   "",    ".hidden",
	                          long_svc, "a/b", "sp ace"};
	for (size_t i = 0; i < sizeof bad_svcs / sizeof bad_svcs[0]; i++) {
		logbus_publisher_options po = {.run_dir = f->b->run_dir,
		                               .service = bad_svcs[i]};
		rv = logbus_publisher_open(&p, &po);
		if (rv != LOGBUS_EINVAL)
			fail_msg("service '%s': %s, expected LOGBUS_EINVAL",
			         bad_svcs[i], logbus_strerror(rv));
		assert_null(p);
	}

	/* Records the library refuses before they are queued. */
	logbus_publisher_stats st;
	assert_int_equal(logbus_log(f->pub, LOGBUS_INFO, "%s", "\xff"),
	                 LOGBUS_EUTF8);
	assert_int_equal(logbus_log(f->pub, LOGBUS_INFO, "half %s", "\xe2\x82"),
	                 LOGBUS_EUTF8);
	const size_t big = 300 * 1024;
	char *msg = harness_filled('y', big);
	logbus_entry e = {
	    .level = LOGBUS_INFO, .message = msg, .message_len = big};
	assert_int_equal(logbus_write(f->pub, &e), LOGBUS_ETOOBIG);
	assert_int_equal(logbus_log(f->pub, LOGBUS_INFO, "%s", msg),
	                 LOGBUS_ETOOBIG);
	free(msg);
	logbus_field bad_key = LOGBUS_STR("bad key", "v");
	assert_int_equal(logbus_log_fields(f->pub, LOGBUS_INFO, NULL, &bad_key,
	                                   1, "with a bad field key"),
	                 LOGBUS_EINVAL);
	logbus_field bad_val = LOGBUS_STR("k", "\xc0\xaf");
	assert_int_equal(logbus_log_fields(f->pub, LOGBUS_INFO, NULL, &bad_val,
	                                   1, "with a bad field value"),
	                 LOGBUS_EUTF8);
	assert_int_equal(logbus_log(f->pub, 300, "level 300"), LOGBUS_EINVAL);
	logbus_publisher_get_stats(f->pub, &st);
	assert_int_equal(st.logged, N_ACKED);
	assert_int_equal(st.committed, N_ACKED);
	assert_int_equal(st.rejected, 0);

	/* Cursors: malformed, and well-formed but of another journal. */
	logbus_reader *r = NULL;
	logbus_reader_options ro = {.run_dir = f->b->run_dir,
	                            .start = LOGBUS_START_CURSOR,
	                            .cursor = "nonsense"};
	assert_int_equal(logbus_reader_open(&r, &ro), LOGBUS_ECURSOR);
	assert_null(r);
	const char *malformed[] = {
	    "", "lb1-", "LB1-00000000000000000000000000000000-0000000000000000",
	    "lb1-0000000000000000000000000000000G-0000000000000000",
	    "lb1-00000000000000000000000000000000-00000000000000001"};
	for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
		ro.cursor = malformed[i];
		rv = logbus_reader_open(&r, &ro);
		if (rv != LOGBUS_ECURSOR)
			fail_msg("cursor '%s': %s, expected LOGBUS_ECURSOR",
			         malformed[i], logbus_strerror(rv));
	}

	/* The cursor of the first acknowledged record, as a reader hands it
	 * out, names this journal's id. */
	unsigned char jid[CURSOR_ID_LEN];
	uint64_t seq;
	char cur[CURSOR_STR_LEN + 1];
	const logbus_record *rec;
	ro.start = LOGBUS_START_HEAD;
	assert_int_equal(logbus_reader_open(&r, &ro), LOGBUS_OK);
	assert_int_equal(next_not_self(r, &rec), 1);
	assert_int_equal(strlen(rec->cursor), CURSOR_STR_LEN);
	memcpy(cur, rec->cursor, CURSOR_STR_LEN + 1);
	logbus_reader_close(r);
	assert_int_equal(cursor_parse(cur, jid, &seq), 0);
	assert_int_equal(seq, f->acked.v[0].seq);
	ro.start = LOGBUS_START_CURSOR;

	/* The real cursor works... */
	ro.cursor = cur;
	assert_int_equal(logbus_reader_open(&r, &ro), LOGBUS_OK);
	assert_int_equal(next_not_self(r, &rec), 1);
	assert_int_equal(rec->seq, f->acked.v[1].seq);
	logbus_reader_close(r);

	/* ...the same position in another journal does not. */
	char other[CURSOR_STR_LEN + 1];
	for (int i = 0; i < CURSOR_ID_LEN; i++)
		jid[i] ^= 0xff;
	cursor_format(other, jid, seq);
	ro.cursor = other;
	assert_int_equal(logbus_reader_open(&r, &ro), LOGBUS_OK);
	rv = logbus_reader_next(r, &rec, -1);
	print_message("  cursor of another journal: %s: %s\n",
	              logbus_strerror(rv), logbus_reader_error(r));
	assert_int_equal(rv, LOGBUS_ECURSOR);
	assert_non_null(strstr(logbus_reader_error(r), "journal"));
	logbus_reader_close(r);

	/* A position beyond the end of this journal. */
	for (int i = 0; i < CURSOR_ID_LEN; i++)
		jid[i] ^= 0xff;
	cursor_format(other, jid, acked_last_seq(f) + 1000);
	ro.cursor = other;
	assert_int_equal(logbus_reader_open(&r, &ro), LOGBUS_OK);
	rv = logbus_reader_next(r, &rec, -1);
	print_message("  cursor beyond the end: %s: %s\n", logbus_strerror(rv),
	              logbus_reader_error(r));
	assert_int_equal(rv, LOGBUS_ECURSOR);
	assert_true(strlen(logbus_reader_error(r)) > 0);
	logbus_reader_close(r);

	/* A filter naming an invalid service is refused in the library. */
	const char *bad_filter[] = {"../x"};
	logbus_reader_options fo = {
	    .run_dir = f->b->run_dir,
	    .start = LOGBUS_START_HEAD,
	    .filter = {.services = bad_filter, .nservices = 1}};
	assert_int_equal(logbus_reader_open(&r, &fo), LOGBUS_EINVAL);

	assert_journal_and_broker_intact(f, NULL, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        test_malformed_requests_are_refused_and_broker_serves_on, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(
	        test_bad_records_are_refused_and_the_rest_of_the_batch_committed,
	        setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_message_over_receive_limit_drops_pipe_and_others_go_on,
	        setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_read_with_a_repeated_filter_key_is_refused, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(test_bad_read_requests_are_refused,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_library_refuses_bad_input_with_clear_errors, setup,
	        teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
