/*
 * test_shared.c: the common code both sides depend on: checksum, UTF-8,
 * cursors, the record codec and its validation, filters, frames.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "crc32c.h"
#include "cursor.h"
#include "exitinfo.h"
#include "filter.h"
#include "frame.h"
#include "proto.h"
#include "record.h"
#include "size.h"
#include "strbuf.h"
#include "timefmt.h"
#include "utf8.h"

static void test_crc32c_matches_standard_vectors(void **state)
{
	(void)state;
	/* RFC 3720 B.4 and the "123456789" check value. */
	assert_int_equal(crc32c(0, "123456789", 9), 0xe3069283u);
	unsigned char zeros[32] = {0}, ones[32];
	memset(ones, 0xff, sizeof ones);
	assert_int_equal(crc32c(0, zeros, 32), 0x8a9136aau);
	assert_int_equal(crc32c(0, ones, 32), 0x62a8ab43u);
	char buf[1000];
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (char)(i * 7 + 3);
	for (size_t n = 0; n < sizeof buf; n += 37)
		assert_int_equal(crc32c(0, buf, n), crc32c_sw(0, buf, n));
	assert_int_equal(crc32c(crc32c(0, buf, 100), buf + 100, 900),
	                 crc32c(0, buf, 1000));
}

static void test_utf8_accepts_valid_and_rejects_invalid(void **state)
{
	(void)state;
	const char *good[] = {"",
	                      "plain ascii text longer than eight",
	                      "caf\xc3\xa9",
	                      "\xe2\x82\xac",
	                      "\xf0\x9f\x98\x80",
	                      "\xed\x9f\xbf",
	                      "\xf4\x8f\xbf\xbf"};
	const char *bad[] = {"\xff",
	                     "\xc0\xaf",
	                     "\xe0\x80\xaf",
	                     "\xed\xa0\x80",
	                     "\xf4\x90\x80\x80",
	                     "\xc3",
	                     "abcdefgh\xe2\x82",
	                     "\x80"};
	for (size_t i = 0; i < sizeof good / sizeof *good; i++)
		assert_true(utf8_valid(good[i], strlen(good[i])));
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		assert_false(utf8_valid(bad[i], strlen(bad[i])));
	/* Each sequence at every offset of a long ASCII run, so that the 32-
	 * and 8-byte fast paths meet it at every position of their words. */
	char buf[160];
	for (size_t off = 0; off < 80; off++) {
		for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
			memset(buf, 'a', sizeof buf);
			size_t n = strlen(good[i]);
			memcpy(buf + off, good[i], n);
			assert_true(utf8_valid(buf, off + n + 40));
		}
		for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
			memset(buf, 'a', sizeof buf);
			size_t n = strlen(bad[i]);
			memcpy(buf + off, bad[i], n);
			/* a truncated sequence is bad only at the very end */
			size_t len =
			    bad[i][n - 1] & 0x80 ? off + n : off + n + 40;
			assert_false(utf8_valid(buf, len));
		}
	}
}

static void test_utf8_cut_never_splits_a_character(void **state)
{
	(void)state;
	const char *s = "a\xc3\xa9\xe2\x82\xac";
	assert_int_equal(utf8_cut(s, 1), 1);
	assert_int_equal(utf8_cut(s, 2), 1);
	assert_int_equal(utf8_cut(s, 3), 3);
	assert_int_equal(utf8_cut(s, 4), 3);
	assert_int_equal(utf8_cut(s, 5), 3);
	assert_int_equal(utf8_cut(s, 6), 6);
}

/* out holds utf8_sanitize(in); compares it with want. */
static void assert_sanitized(const char *in, const char *want)
{
	char out[64];
	size_t n = utf8_sanitize(in, strlen(in), out);

	assert_int_equal(n, strlen(want));
	assert_memory_equal(out, want, n);
}

static void test_utf8_sanitize_replaces_each_bad_byte(void **state)
{
	(void)state;
	assert_sanitized("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
	                 "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	assert_sanitized("a\xff"
	                 "b",
	                 "a\xef\xbf\xbd"
	                 "b");
	/* an overlong '/', a surrogate, a lone continuation byte */
	assert_sanitized("\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd");
	assert_sanitized("\xed\xa0\x80",
	                 "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	assert_sanitized("\x80x", "\xef\xbf\xbdx");
	/* a character the end cuts short: each byte */
	assert_sanitized("x\xe2\x82", "x\xef\xbf\xbd\xef\xbf\xbd");
}

static void test_utf8_sanitize_piece_never_splits_a_character(void **state)
{
	(void)state;
	const char *s = "ab\xe2\x82\xac";
	char out[16];
	size_t used, n;
	bool full;

	/* the euro sign does not fit in 4 bytes */
	used = utf8_sanitize_piece(s, 5, true, out, 4, &n, &full);
	assert_int_equal(used, 2);
	assert_int_equal(n, 2);
	assert_true(full);
	used = utf8_sanitize_piece(s, 5, true, out, 5, &n, &full);
	assert_int_equal(used, 5);
	assert_int_equal(n, 5);
	assert_false(full);
	assert_memory_equal(out, s, 5);
	/* cut short by the end: kept for later, or replaced at the end */
	used = utf8_sanitize_piece(s, 4, false, out, 16, &n, &full);
	assert_int_equal(used, 2);
	assert_int_equal(n, 2);
	assert_false(full);
	used = utf8_sanitize_piece(s, 4, true, out, 16, &n, &full);
	assert_int_equal(used, 4);
	assert_int_equal(n, 8);
	assert_memory_equal(out, "ab\xef\xbf\xbd\xef\xbf\xbd", 8);
	/* a replacement takes 3 bytes of room for 1 of input */
	used = utf8_sanitize_piece("\xff\xff", 2, true, out, 5, &n, &full);
	assert_int_equal(used, 1);
	assert_int_equal(n, 3);
	assert_true(full);
}

static void
test_strbuf_doubles_are_the_shortest_text_that_reads_back(void **state)
{
	(void)state;
	const struct {
		double d;
		const char *text, *json;
	} cases[] = {
	    {1.0, "1", "1.0"},
	    {0.1, "0.1", "0.1"},
	    {-2.5, "-2.5", "-2.5"},
	    {1e300, "1e+300", "1e+300"},
	    {1.0 / 3, "0.3333333333333333", "0.3333333333333333"},
	    {NAN, "nan", "null"},
	};
	struct strbuf b = {0};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		sb_reset(&b);
		sb_double(&b, cases[i].d);
		assert_string_equal(b.p, cases[i].text);
		sb_reset(&b);
		sb_json_float(&b, cases[i].d);
		assert_string_equal(b.p, cases[i].json);
	}
	sb_free(&b);
}

static void test_size_parse_takes_digits_and_a_unit(void **state)
{
	(void)state;
	const struct {
		const char *s;
		uint64_t v;
	} good[] = {
	    {"0", 0},           {"4096", 4096},     {"4K", 4096},
	    {"4k", 4096},       {"64M", 64u << 20}, {"1G", 1u << 30},
	    {"2T", 2ull << 40}, {"1KiB", 1024},     {"1MB", 1u << 20},
	    {"512B", 512},
	};
	const char *bad[] = {
	    "",   "K",    "-1",    "+1",  " 1",        "1 K",
	    "1X", "1KB2", "1KiBB", " -5", "16777216T", "18446744073709551615",
	};
	uint64_t v;

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		assert_true(size_parse(good[i].s, &v));
		assert_true(v == good[i].v);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (size_parse(bad[i], &v))
			fail_msg("size_parse took '%s'", bad[i]);
}

static void test_cursor_round_trips(void **state)
{
	(void)state;
	unsigned char id[CURSOR_ID_LEN], id2[CURSOR_ID_LEN];
	char s[CURSOR_STR_LEN + 1];
	uint64_t seq;
	for (int i = 0; i < CURSOR_ID_LEN; i++)
		id[i] = (unsigned char)(i * 17);
	cursor_format(s, id, 0x123456789abcdefull);
	assert_int_equal(strlen(s), CURSOR_STR_LEN);
	assert_int_equal(cursor_parse(s, id2, &seq), 0);
	assert_memory_equal(id, id2, CURSOR_ID_LEN);
	assert_true(seq == 0x123456789abcdefull);
}

static void test_cursor_rejects_malformed(void **state)
{
	(void)state;
	unsigned char id[CURSOR_ID_LEN];
	uint64_t seq;
	char s[CURSOR_STR_LEN + 1];
	memset(id, 0xab, sizeof id);
	cursor_format(s, id, 42);
	const char *bad[] = {"", "nonsense", "lb2-", NULL};
	for (int i = 0; bad[i]; i++)
		assert_int_equal(cursor_parse(bad[i], id, &seq), -1);
	assert_int_equal(cursor_parse(NULL, id, &seq), -1);
	char t[CURSOR_STR_LEN + 2];
	strcpy(t, s);
	t[10] = 'A'; /* upper case is not ours */
	assert_int_equal(cursor_parse(t, id, &seq), -1);
	strcpy(t, s);
	t[36] = '_';
	assert_int_equal(cursor_parse(t, id, &seq), -1);
	strcpy(t, s);
	strcat(t, "0");
	assert_int_equal(cursor_parse(t, id, &seq), -1);
	strcpy(t, s);
	t[CURSOR_STR_LEN - 1] = 'g';
	assert_int_equal(cursor_parse(t, id, &seq), -1);
}

/*
 * Issue 15's finding 4: a cursor that parses formats back to exactly the
 * string given, so a reader's stored cursor is never read as another.
 * Every byte of a cursor replaced by every other byte: accepted only as
 * a lowercase hex digit where a hex digit belongs, and then it formats
 * back to the same string; white space around it, or a sign, is refused.
 */
static void test_cursor_accepts_only_what_it_writes(void **state)
{
	(void)state;
	unsigned char id[CURSOR_ID_LEN];
	char s[CURSOR_STR_LEN + 1], t[CURSOR_STR_LEN + 3],
	    back[CURSOR_STR_LEN + 1];
	uint64_t seq;

	for (int i = 0; i < CURSOR_ID_LEN; i++)
		id[i] = (unsigned char)(i * 29 + 7);
	cursor_format(s, id, 0xfedcba9876543210ull);
	for (int i = 0; i < CURSOR_STR_LEN; i++) {
		bool hex = i >= 4 && i != 4 + 2 * CURSOR_ID_LEN;
		int accepted = 0;
		for (int c = 1; c < 256; c++) {
			strcpy(t, s);
			t[i] = (char)c;
			if (cursor_parse(t, id, &seq) != 0)
				continue;
			accepted++;
			cursor_format(back, id, seq);
			assert_string_equal(back, t);
		}
		assert_int_equal(accepted, hex ? 16 : 1);
	}
	const char *around[] = {" %s", "%s ", "%s\n", "+%s", "%s0", "\t%s"};
	for (size_t i = 0; i < sizeof around / sizeof around[0]; i++) {
		snprintf(t, sizeof t, around[i], s);
		assert_int_equal(cursor_parse(t, id, &seq), -1);
	}
}

struct packed {
	msgpack_sbuffer sb;
	msgpack_zone zone;
};

/* An empty buffer and zone, and pk writing into the buffer. */
static void packing(struct packed *p, msgpack_packer *pk)
{
	msgpack_sbuffer_init(&p->sb);
	msgpack_zone_init(&p->zone, 1024);
	msgpack_packer_init(pk, &p->sb, msgpack_sbuffer_write);
}

static void pack(struct packed *p, const struct record_in *in)
{
	msgpack_packer pk;
	packing(p, &pk);
	record_pack(&pk, in);
}

static void unpacked(struct packed *p)
{
	msgpack_sbuffer_destroy(&p->sb);
	msgpack_zone_destroy(&p->zone);
}

/* What was packed into p, read back in p's zone. */
static msgpack_object unpack_packed(struct packed *p)
{
	msgpack_object o;
	size_t off = 0;

	assert_int_equal(
	    msgpack_unpack(p->sb.data, p->sb.size, &off, &p->zone, &o),
	    MSGPACK_UNPACK_SUCCESS);
	return o;
}

#define S(x) ((struct lb_str){(x), (uint32_t)strlen(x)})

/* A record with every top key and four fields, one of each type. */
static const logbus_field sample_fields[] = {
    LOGBUS_STR("user", "user123"), LOGBUS_INT("n", -5), LOGBUS_FLOAT("r", 0.5),
    LOGBUS_BOOL("ok", 1)};
static struct record_in sample_record(void)
{
	return (struct record_in){.time_ns = 1763805600123456789,
	                          .level = 30,
	                          .stream = LOGBUS_STREAM_STDERR,
	                          .service = S("service_123"),
	                          .logger = S("pactown.sandbox"),
	                          .message = S("Creating sandbox"),
	                          .fields = sample_fields,
	                          .nfields = 4};
}

/* pack(), then record_decode's result. */
static int pack_and_decode(struct packed *p, const struct record_in *in,
                           struct record_view *v, struct record_error *e)
{
	pack(p, in);
	return record_decode(p->sb.data, p->sb.size, &p->zone, v, e);
}

/* A map of nkeys keys, the first five of them t, v, s, n and m; the caller
 * packs the rest. */
static void pack_record_head(msgpack_packer *pk, uint32_t nkeys, int64_t t,
                             int v, const char *svc, const char *logger,
                             const char *msg)
{
	msgpack_pack_map(pk, nkeys);
	mp_pack_key(pk, "t");
	msgpack_pack_int64(pk, t);
	mp_pack_key(pk, "v");
	msgpack_pack_int(pk, v);
	mp_pack_key(pk, "s");
	mp_pack_key(pk, svc);
	mp_pack_key(pk, "n");
	mp_pack_key(pk, logger);
	mp_pack_key(pk, "m");
	mp_pack_key(pk, msg);
}

static void test_record_round_trips_every_field(void **state)
{
	(void)state;
	struct record_in in = sample_record();
	struct packed p;
	struct record_view v;
	struct record_error e;
	assert_int_equal(pack_and_decode(&p, &in, &v, &e), 0);
	assert_true(v.time_ns == in.time_ns);
	assert_int_equal(v.level, 30);
	assert_int_equal(v.stream, LOGBUS_STREAM_STDERR);
	assert_memory_equal(v.service.p, "service_123", 11);
	assert_memory_equal(v.logger.p, "pactown.sandbox", 15);
	assert_memory_equal(v.message.p, "Creating sandbox", 16);
	assert_non_null(v.fields);
	assert_int_equal(v.fields->size, 4);
	assert_int_equal(v.fields->ptr[1].val.type,
	                 MSGPACK_OBJECT_NEGATIVE_INTEGER);
	assert_int_equal(v.fields->ptr[2].val.type, MSGPACK_OBJECT_FLOAT64);
	assert_int_equal(v.fields->ptr[3].val.type, MSGPACK_OBJECT_BOOLEAN);
	unpacked(&p);
}

static void expect_refused(struct record_in *in, const char *code)
{
	struct packed p;
	struct record_view v;
	struct record_error e;
	assert_int_equal(pack_and_decode(&p, in, &v, &e), -1);
	assert_string_equal(e.code, code);
	assert_true(strlen(e.msg) > 0);
	unpacked(&p);
}

static void test_record_refuses_bad_service_ids(void **state)
{
	(void)state;
	char longid[200];
	memset(longid, 'a', sizeof longid - 1);
	longid[sizeof longid - 1] = '\0';
	const char *bad[] = {"",     "../x", "a/b",         ".hidden",
	                     longid, "a b",  "caf\xc3\xa9", NULL};
	for (int i = 0; bad[i]; i++) {
		struct record_in in = {.level = 20,
		                       .service = S(bad[i]),
		                       .logger = S("l"),
		                       .message = S("m")};
		expect_refused(&in, ERR_BAD_SERVICE);
	}
	struct record_in nul = {.level = 20,
	                        .service = {"svc\0x", 5},
	                        .logger = S("l"),
	                        .message = S("m")};
	expect_refused(&nul, ERR_BAD_SERVICE);
	assert_true(service_id_valid("service_123", 11));
	assert_true(service_id_valid("a.b-c_D9", 8));
}

/* Field keys take the letters of service ids, a leading '.' too. */
static void
test_field_keys_take_letters_digits_dot_underscore_dash(void **state)
{
	(void)state;
	char longkey[LOGBUS_KEY_MAX + 1];
	memset(longkey, 'k', sizeof longkey);
	assert_true(field_key_valid("a.b-c_D9", 8));
	assert_true(field_key_valid(".x", 2));
	assert_true(field_key_valid(longkey, LOGBUS_KEY_MAX));
	assert_false(field_key_valid(longkey, LOGBUS_KEY_MAX + 1));
	const char *bad[] = {"", "a b", "a/b", "caf\xc3\xa9", "k=v", NULL};
	for (int i = 0; bad[i]; i++)
		assert_false(field_key_valid(bad[i], strlen(bad[i])));
}

static void test_record_refuses_invalid_utf8_and_bad_logger(void **state)
{
	(void)state;
	struct record_in in = {.level = 20,
	                       .service = S("svc"),
	                       .logger = S("l"),
	                       .message = S("bad \xff here")};
	expect_refused(&in, ERR_BAD_UTF8);
	in.message = S("ok");
	in.logger = S("");
	expect_refused(&in, ERR_BAD_RECORD);
	in.logger = S("tab\there");
	expect_refused(&in, ERR_BAD_RECORD);
}

static void test_record_refuses_missing_keys_and_wrong_types(void **state)
{
	(void)state;
	struct packed p;
	msgpack_packer pk;
	struct record_view v;
	struct record_error e;

	packing(&p, &pk);
	msgpack_pack_map(&pk, 2);
	mp_pack_key(&pk, "t");
	msgpack_pack_int(&pk, 1);
	mp_pack_key(&pk, "v");
	msgpack_pack_int(&pk, 300);
	assert_int_equal(record_decode(p.sb.data, p.sb.size, &p.zone, &v, &e),
	                 -1);
	assert_string_equal(e.code, ERR_BAD_RECORD);
	msgpack_sbuffer_clear(&p.sb);
	msgpack_pack_array(&pk, 0);
	assert_int_equal(record_decode(p.sb.data, p.sb.size, &p.zone, &v, &e),
	                 -1);
	assert_int_equal(record_decode("\xc1", 1, &p.zone, &v, &e), -1);
	unpacked(&p);
}

static void test_exit_report_round_trips(void **state)
{
	(void)state;
	const char *argv[] = {"uvicorn", "main:app", "--port", "8001"};
	const char *files[] = {"main.py", ".venv"};
	struct exit_in x = {.code = -11,
	                    .core = true,
	                    .pid = 4242,
	                    .argv = argv,
	                    .argc = 4,
	                    .cwd = "/srv/s",
	                    .venv = "/srv/s/.venv",
	                    .err = "boom\n",
	                    .err_len = 5,
	                    .out = "",
	                    .out_len = 0,
	                    .err_cut = 7,
	                    .files = files,
	                    .nfiles = 2};
	struct record_in in = {.level = 40,
	                       .service = S("service_123"),
	                       .logger = S("sup"),
	                       .message = S("Process killed by SIGSEGV"),
	                       .exit = &x};
	struct packed p;
	struct record_view v;
	struct record_error e;
	struct exit_view xv;
	assert_int_equal(pack_and_decode(&p, &in, &v, &e), 0);
	assert_non_null(v.exit);
	assert_int_equal(exit_decode(v.exit, &xv, &e), 0);
	assert_true(xv.code == -11 && xv.core && xv.pid == 4242);
	assert_int_equal(xv.argv->size, 4);
	assert_int_equal(xv.files->size, 2);
	assert_true(xv.err.len == 5 && xv.err_cut == 7);
	assert_memory_equal(xv.cwd.p, "/srv/s", 6);
	unpacked(&p);
}

/* An exit report's category is one logbusd knows, and its field
 * error_category says the same. */
static void test_exit_report_category_is_checked(void **state)
{
	(void)state;
	struct exit_in x = {.code = 1, .category = "port"};
	logbus_field f = LOGBUS_STR("error_category", "port");
	struct record_in in = {.level = 40,
	                       .service = S("service_123"),
	                       .logger = S("sup"),
	                       .message = S("Process exited with code 1"),
	                       .exit = &x,
	                       .fields = &f,
	                       .nfields = 1};
	struct packed p;
	struct record_view v;
	struct record_error e;
	struct exit_view xv;

	assert_int_equal(pack_and_decode(&p, &in, &v, &e), 0);
	assert_int_equal(exit_decode(v.exit, &xv, &e), 0);
	assert_string_equal(exit_category(&xv), "port");
	unpacked(&p);

	x.category = "made_up";
	f.v.s = "made_up";
	assert_int_equal(pack_and_decode(&p, &in, &v, &e), -1);
	assert_string_equal(e.code, ERR_BAD_RECORD);
	assert_non_null(strstr(e.msg, "category \"made_up\" is not one of "
	                              "dependency, port,"));
	unpacked(&p);

	x.category = "port";
	f.v.s = "exit";
	assert_int_equal(pack_and_decode(&p, &in, &v, &e), -1);
	assert_non_null(strstr(e.msg, "error_category"));
	unpacked(&p);

	/* an older client's report has none: logbusd derives it */
	x.category = NULL;
	in.nfields = 0;
	x.err = "PermissionError: [Errno 13] Permission denied\n";
	x.err_len = strlen(x.err);
	assert_int_equal(pack_and_decode(&p, &in, &v, &e), 0);
	assert_int_equal(exit_decode(v.exit, &xv, &e), 0);
	assert_int_equal(xv.category.len, 0);
	assert_string_equal(exit_category(&xv), "permission");
	unpacked(&p);

	/* any other record may have a field of that name */
	in.exit = NULL;
	in.nfields = 1;
	assert_int_equal(pack_and_decode(&p, &in, &v, &e), 0);
	unpacked(&p);
}

/* An in-place reading (a) of the keys record_decode (d) read: the same
 * values, pointing at the same bytes. */
static void assert_top_keys_same(const struct record_view *a,
                                 const struct record_view *d)
{
	assert_true(a->time_ns == d->time_ns);
	assert_int_equal(a->level, d->level);
	assert_int_equal(a->stream, d->stream);
	assert_int_equal(a->service.len, d->service.len);
	assert_ptr_equal(a->service.p, d->service.p);
	assert_int_equal(a->logger.len, d->logger.len);
	assert_ptr_equal(a->logger.p, d->logger.p);
	assert_int_equal(a->message.len, d->message.len);
	assert_ptr_equal(a->message.p, d->message.p);
}

/* record_peek must read what record_decode reads. */
static void assert_peek_agrees(const char *data, size_t len)
{
	msgpack_zone zone;
	struct record_view v, pv;
	struct record_error e;

	msgpack_zone_init(&zone, 1024);
	assert_int_equal(record_decode(data, len, &zone, &v, &e), 0);
	assert_int_equal(record_peek(data, len, &pv), 0);
	assert_top_keys_same(&pv, &v);
	assert_null(pv.fields);
	msgpack_zone_destroy(&zone);
	/* Every cut of it is refused, and read within its bytes (ASan). */
	for (size_t cut = 0; cut < len; cut++) {
		char *p = malloc(cut ? cut : 1);
		assert_non_null(p);
		memcpy(p, data, cut);
		assert_int_equal(record_peek(p, cut, &pv), -1);
		free(p);
	}
}

static void test_record_peek_reads_what_decode_reads(void **state)
{
	(void)state;
	char longmsg[70000];
	memset(longmsg, 'm', sizeof longmsg);
	struct record_in in = sample_record();
	in.time_ns = -1763805600123456789;
	in.level = 255;
	struct packed p;
	pack(&p, &in);
	assert_peek_agrees(p.sb.data, p.sb.size);
	unpacked(&p);
	in.message = (struct lb_str){longmsg, 300}; /* str16 */
	in.time_ns = 5;
	pack(&p, &in);
	assert_peek_agrees(p.sb.data, p.sb.size);
	unpacked(&p);

	/* Unknown keys holding nested containers and every kind of scalar
	 * (one of them "S", not the service), a map16, a str32 message. */
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 16);
	mp_pack_key(&pk, "S");
	mp_pack_key(&pk, "first");
	mp_pack_key(&pk, "t");
	msgpack_pack_uint64(&pk, 1ull << 40);
	mp_pack_key(&pk, "v");
	msgpack_pack_int8(&pk, 20);
	mp_pack_key(&pk, "n");
	mp_pack_key(&pk, "a.b");
	mp_pack_key(&pk, "m");
	msgpack_pack_str(&pk, sizeof longmsg);
	msgpack_pack_str_body(&pk, longmsg, sizeof longmsg);
	mp_pack_key(&pk, "zz");
	msgpack_pack_array(&pk, 3);
	msgpack_pack_map(&pk, 1);
	mp_pack_key(&pk, "s");
	mp_pack_key(&pk, "nested, not the service");
	msgpack_pack_bin(&pk, 3);
	msgpack_pack_bin_body(&pk, "abc", 3);
	msgpack_pack_ext(&pk, 2, 7);
	msgpack_pack_ext_body(&pk, "xy", 2);
	const char *keys[] = {"k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8"};
	for (int i = 0; i < 8; i++) {
		mp_pack_key(&pk, keys[i]);
		switch (i) {
		case 0:
			msgpack_pack_nil(&pk);
			break;
		case 1:
			msgpack_pack_true(&pk);
			break;
		case 2:
			msgpack_pack_float(&pk, 1.5f);
			break;
		case 3:
			msgpack_pack_double(&pk, 2.5);
			break;
		case 4:
			msgpack_pack_int64(&pk, INT64_MIN);
			break;
		case 5:
			msgpack_pack_int16(&pk, -300);
			break;
		case 6:
			msgpack_pack_ext(&pk, 4, 1);
			msgpack_pack_ext_body(&pk, "abcd", 4);
			break;
		default:
			msgpack_pack_ext(&pk, 20, 1);
			msgpack_pack_ext_body(&pk, longmsg, 20);
			break;
		}
	}
	mp_pack_key(&pk, "o");
	msgpack_pack_int(&pk, 1);
	mp_pack_key(&pk, "s");
	mp_pack_key(&pk, "second");
	assert_peek_agrees(sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
}

/*
 * record_check may send any record on to record_decode, but one it accepts
 * must be one record_decode accepts, read the same way.  Returns the
 * check's result.
 */
static int check_agrees(const char *data, size_t len)
{
	msgpack_zone zone;
	struct record_view v, cv;
	struct record_error e;

	int rc = record_check(data, len, &cv);
	if (rc != 0)
		return rc;
	msgpack_zone_init(&zone, 1024);
	assert_int_equal(record_decode(data, len, &zone, &v, &e), 0);
	assert_top_keys_same(&cv, &v);
	assert_int_equal(cv.nfields, v.fields ? v.fields->size : 0);
	assert_int_equal(cv.nfields, v.nfields);
	assert_null(cv.fields);
	assert_null(cv.exit);
	assert_null(v.exit);
	msgpack_zone_destroy(&zone);
	return 0;
}

static void test_record_check_accepts_only_what_decode_accepts(void **state)
{
	(void)state;
	logbus_field f[4];
	memcpy(f, sample_fields, sizeof f);
	f[0] = (logbus_field)LOGBUS_STR("user", "us\xc3\xa9r");
	struct record_in in = sample_record();
	in.level = LOGBUS_INFO;
	in.stream = LOGBUS_STREAM_LOG;
	in.fields = f;
	struct packed p;

	/* What the library sends: accepted in place, with or without
	 * fields. */
	pack(&p, &in);
	assert_int_equal(check_agrees(p.sb.data, p.sb.size), 0);
	/* Every byte changed to each of a few values, and every cut: never
	 * accepted unless record_decode accepts the same, and read within
	 * its bytes (ASan). */
	static const unsigned char subst[] = {0x00, 0x01, 0x7f, 0x80, 0x8f,
	                                      0xa1, 0xc0, 0xc1, 0xc4, 0xca,
	                                      0xd9, 0xdc, 0xde, 0xff};
	size_t accepted = 0;
	for (size_t at = 0; at < p.sb.size; at++)
		for (size_t k = 0; k < sizeof subst; k++) {
			char *m = malloc(p.sb.size);
			assert_non_null(m);
			memcpy(m, p.sb.data, p.sb.size);
			m[at] = (char)subst[k];
			accepted += check_agrees(m, p.sb.size) == 0;
			free(m);
		}
	assert_true(accepted > 0); /* e.g. another fixint or letter */
	for (size_t cut = 0; cut < p.sb.size; cut++) {
		char *m = malloc(cut ? cut : 1);
		assert_non_null(m);
		memcpy(m, p.sb.data, cut);
		assert_int_equal(record_check(m, cut, &(struct record_view){0}),
		                 -1);
		free(m);
	}
	unpacked(&p);
	in.nfields = 0;
	pack(&p, &in);
	assert_int_equal(check_agrees(p.sb.data, p.sb.size), 0);
	unpacked(&p);

	/* What only record_decode judges: an exit report, a field that is
	 * no scalar, too many fields, bad UTF-8 in a field, a bad key. */
	struct exit_in ex = {.code = 1, .cwd = "/"};
	in.nfields = 4;
	in.exit = &ex;
	pack(&p, &in);
	assert_int_equal(
	    record_check(p.sb.data, p.sb.size, &(struct record_view){0}), -1);
	unpacked(&p);
	in.exit = NULL;
	logbus_field bad_utf8[] = {LOGBUS_STR("k", "\xff")};
	logbus_field bad_key[] = {LOGBUS_STR("a b", "v")};
	logbus_field many[LOGBUS_FIELDS_MAX + 1];
	for (int i = 0; i <= LOGBUS_FIELDS_MAX; i++)
		many[i] = (logbus_field)LOGBUS_INT("k", i);
	const struct {
		const logbus_field *f;
		size_t n;
	} refused[] = {
	    {bad_utf8, 1}, {bad_key, 1}, {many, LOGBUS_FIELDS_MAX + 1}};
	for (size_t i = 0; i < 3; i++) {
		in.fields = refused[i].f;
		in.nfields = refused[i].n;
		pack(&p, &in);
		assert_int_equal(record_check(p.sb.data, p.sb.size,
		                              &(struct record_view){0}),
		                 -1);
		unpacked(&p);
	}

	/* Hand-made: fields holding every scalar, a bin (refused), a map
	 * (refused); a repeated "f" (refused); unknown keys with a
	 * scalar (accepted) or a container (left to record_decode). */
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	for (int variant = 0; variant < 5; variant++) {
		/* 1: a bin field, 2: a map field, 3: an unknown array */
		msgpack_sbuffer_clear(&sb);
		pack_record_head(&pk, 8, 7, 30, "svc", "a.b", "msg");
		mp_pack_key(&pk, "f");
		msgpack_pack_map(&pk, 6);
		mp_pack_key(&pk, "nil");
		msgpack_pack_nil(&pk);
		mp_pack_key(&pk, "f32");
		msgpack_pack_float(&pk, 1.5f);
		mp_pack_key(&pk, "f64");
		msgpack_pack_double(&pk, 2.5);
		mp_pack_key(&pk, "u64");
		msgpack_pack_uint64(&pk, UINT64_MAX);
		mp_pack_key(&pk, "false");
		msgpack_pack_false(&pk);
		mp_pack_key(&pk, "x");
		if (variant == 1)
			msgpack_pack_bin(&pk, 0);
		else if (variant == 2)
			msgpack_pack_map(&pk, 0);
		else
			mp_pack_key(&pk, "str");
		mp_pack_key(&pk, variant == 4 ? "f" : "zz");
		if (variant == 3) {
			msgpack_pack_array(&pk, 0);
		} else if (variant == 4) {
			msgpack_pack_map(&pk, 1);
			mp_pack_key(&pk, "k");
			msgpack_pack_int(&pk, 1);
		} else {
			msgpack_pack_int(&pk, 0);
		}
		mp_pack_key(&pk, "zz");
		msgpack_pack_bin(&pk, 2);
		msgpack_pack_bin_body(&pk, "ab", 2);
		int rc = check_agrees(sb.data, sb.size);
		struct record_view v;
		record_check(sb.data, sb.size, &v);
		switch (variant) {
		case 0:
			assert_int_equal(rc, 0);
			assert_int_equal(v.nfields, 6);
			break;
		default: /* a bin or a map field; an unknown array; "f"
		          * twice */
			assert_int_equal(rc, -1);
		}
	}
	msgpack_sbuffer_destroy(&sb);
}

/* record_encode writes what record_pack writes, byte for byte, within
 * record_encoded_max. */
static void assert_encode_same(const struct record_in *in)
{
	struct packed p;
	size_t max = record_encoded_max(in);
	char *out = malloc(max);

	assert_non_null(out);
	pack(&p, in);
	size_t n = record_encode(out, in);
	assert_true(n <= max);
	assert_int_equal(n, p.sb.size);
	assert_memory_equal(out, p.sb.data, n);
	unpacked(&p);
	free(out);
}

static void test_record_encode_writes_what_record_pack_writes(void **state)
{
	(void)state;
	static char big[70000];
	memset(big, 'b', sizeof big - 1);
	/* every int form's edges, both signs */
	static const int64_t ints[] = {0,
	                               1,
	                               31,
	                               32,
	                               127,
	                               128,
	                               255,
	                               256,
	                               65535,
	                               65536,
	                               4294967295LL,
	                               4294967296LL,
	                               INT64_MAX,
	                               -1,
	                               -32,
	                               -33,
	                               -128,
	                               -129,
	                               -32768,
	                               -32769,
	                               -2147483648LL,
	                               -2147483649LL,
	                               INT64_MIN};
	/* every str form's edges */
	static const size_t lens[] = {0, 1, 31, 32, 255, 256, 65535, 65536};
	const size_t nints = sizeof ints / sizeof ints[0];
	const size_t nlens = sizeof lens / sizeof lens[0];
	logbus_field f[LOGBUS_FIELDS_MAX];
	char keys[LOGBUS_FIELDS_MAX][LOGBUS_KEY_MAX + 1];

	for (size_t i = 0; i < nints; i++) {
		for (size_t j = 0; j < nlens; j++) {
			big[lens[j]] = '\0';
			struct record_in in = {
			    .time_ns = ints[i],
			    .level = (int)(ints[(i + j) % nints] & 0xff),
			    .stream = (int)((i + j) % 3),
			    .service = S("service_123"),
			    .logger = {big, (uint32_t)(lens[j] % 257)},
			    .message = {big, (uint32_t)lens[j]},
			    .fields = f,
			    .nfields = (i * 7 + j) % (LOGBUS_FIELDS_MAX + 1),
			};
			for (size_t k = 0; k < in.nfields; k++) {
				size_t kl = 1 + (i + j + k) % LOGBUS_KEY_MAX;
				memset(keys[k], 'k', kl);
				keys[k][kl] = '\0';
				switch ((i + k) % 4) {
				case 0:
					f[k] = (logbus_field)LOGBUS_STR(
					    keys[k],
					    big + sizeof big - 1 -
					        lens[(j + k) % (nlens - 1)]);
					break;
				case 1:
					f[k] = (logbus_field)LOGBUS_INT(
					    keys[k], ints[(i + k) % nints]);
					break;
				case 2:
					f[k] = (logbus_field)LOGBUS_FLOAT(
					    keys[k],
					    (double)ints[k % nints] / 3);
					break;
				default:
					f[k] = (logbus_field)LOGBUS_BOOL(
					    keys[k], k & 1);
				}
			}
			assert_encode_same(&in);
			big[lens[j]] = 'b';
		}
	}
}

/* Bytes record_decode refuses for their shape are refused by the peek. */
static void test_record_peek_refuses_what_decode_refuses(void **state)
{
	(void)state;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct record_view v;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	for (int bad = 0; bad < 7; bad++) {
		msgpack_sbuffer_clear(&sb);
		msgpack_pack_map(&pk, bad == 0 ? 4 : 5);
		mp_pack_key(&pk, "t");
		if (bad == 1)
			msgpack_pack_double(&pk, 1.0);
		else if (bad == 2)
			msgpack_pack_uint64(&pk, UINT64_MAX);
		else
			msgpack_pack_int(&pk, 1);
		mp_pack_key(&pk, "v");
		msgpack_pack_int(&pk, bad == 3 ? 256 : 20);
		mp_pack_key(&pk, "s");
		if (bad == 4)
			msgpack_pack_array(&pk, 0);
		else
			mp_pack_key(&pk, "svc");
		mp_pack_key(&pk, "n");
		mp_pack_key(&pk, "l");
		if (bad != 0) {
			mp_pack_key(&pk, bad == 5 ? "o" : "m");
			if (bad == 5)
				msgpack_pack_int(&pk, 3);
			else if (bad == 6)
				msgpack_pack_bin(&pk, 0);
			else
				mp_pack_key(&pk, "msg");
		}
		assert_int_equal(record_peek(sb.data, sb.size, &v), -1);
	}
	msgpack_sbuffer_clear(&sb);
	msgpack_pack_array(&pk, 0);
	assert_int_equal(record_peek(sb.data, sb.size, &v), -1);
	assert_int_equal(record_peek("\xc1", 1, &v), -1);
	assert_int_equal(record_peek("", 0, &v), -1);
	/* a valid record with a byte after it */
	struct record_in in = {.level = 20,
	                       .service = S("svc"),
	                       .logger = S("l"),
	                       .message = S("m")};
	struct packed p;
	pack(&p, &in);
	msgpack_sbuffer_write(&p.sb, "x", 1);
	assert_int_equal(record_peek(p.sb.data, p.sb.size, &v), -1);
	assert_int_equal(record_peek(p.sb.data, p.sb.size - 1, &v), 0);
	unpacked(&p);
	msgpack_sbuffer_destroy(&sb);
}

static void test_exit_summary_names_every_signal(void **state)
{
	(void)state;
	char buf[128];
	exit_summary(buf, sizeof buf, -15, false);
	assert_string_equal(buf, "Process killed by SIGTERM (exit code: -15)");
	exit_summary(buf, sizeof buf, -11, true);
	assert_string_equal(buf, "Process killed by SIGSEGV (exit code: -11, "
	                         "core dumped)");
	exit_summary(buf, sizeof buf, 3, false);
	assert_string_equal(buf, "Process exited with code 3");
	const int sigs[] = {1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
	const char *names[] = {"SIGHUP",  "SIGINT",  "SIGQUIT", "SIGILL",
	                       "SIGABRT", "SIGBUS",  "SIGFPE",  "SIGKILL",
	                       "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE",
	                       "SIGALRM", "SIGTERM"};
	for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
		assert_string_equal(exit_signal_name(sigs[i], buf, sizeof buf),
		                    names[i]);
}

static void test_levels_parse_and_name(void **state)
{
	(void)state;
	char buf[16];
	assert_int_equal(level_parse("error"), 40);
	assert_int_equal(level_parse("WARNING"), 30);
	assert_int_equal(level_parse("warn"), 30);
	assert_int_equal(level_parse("15"), 15);
	assert_int_equal(level_parse("256"), -1);
	assert_int_equal(level_parse("loud"), -1);
	assert_int_equal(level_parse(""), -1);
	assert_string_equal(level_name(50, buf, sizeof buf), "CRITICAL");
	assert_string_equal(level_name(15, buf, sizeof buf), "LEVEL15");
}

static void test_filter_matches_services_level_and_logger_prefix(void **state)
{
	(void)state;
	const char *svcs[] = {"a", "b"};
	logbus_filter pub = {.services = svcs,
	                     .nservices = 2,
	                     .min_level = 30,
	                     .logger_prefix = "pactown"};
	struct filter f, g;
	char err[128];
	assert_int_equal(filter_from_public(&f, &pub, err, sizeof err), 0);

	/* through the wire form, as the broker gets it */
	struct packed p;
	msgpack_packer pk;
	packing(&p, &pk);
	filter_pack(&pk, &f);
	msgpack_object o = unpack_packed(&p);
	assert_int_equal(filter_unpack(&g, &o, err, sizeof err), 0);

	struct record_view v = {
	    .level = 30, .service = S("a"), .logger = S("pactown.sandbox")};
	assert_true(filter_match(&g, &v));
	v.logger = S("pactown");
	assert_true(filter_match(&g, &v));
	v.logger = S("pactownx");
	assert_false(filter_match(&g, &v));
	v.logger = S("pactown");
	v.level = 20;
	assert_false(filter_match(&g, &v));
	v.level = 40;
	v.service = S("c");
	assert_false(filter_match(&g, &v));
	filter_fini(&f);
	filter_fini(&g);
	unpacked(&p);
}

/* filter_unpack of the map body(pk, arg) packs: its result, err set. */
static int unpack_filter_of(void (*body)(msgpack_packer *, const void *),
                            const void *arg, char *err, size_t errlen)
{
	struct packed p;
	msgpack_packer pk;
	struct filter f;

	packing(&p, &pk);
	body(&pk, arg);
	msgpack_object o = unpack_packed(&p);
	int rc = filter_unpack(&f, &o, err, errlen);
	if (rc == 0)
		filter_fini(&f);
	unpacked(&p);
	return rc;
}

static void pack_color(msgpack_packer *pk, const void *arg)
{
	(void)arg;
	msgpack_pack_map(pk, 1);
	mp_pack_key(pk, "color");
	msgpack_pack_int(pk, 1);
}

static void test_filter_unpack_refuses_unknown_keys(void **state)
{
	(void)state;
	char err[128];
	assert_int_equal(unpack_filter_of(pack_color, NULL, err, sizeof err),
	                 -1);
	assert_non_null(strstr(err, "color"));
}

/* f through the wire form, as the broker gets it, into g. */
static void filter_through_wire(const struct filter *f, struct filter *g)
{
	struct packed p;
	msgpack_packer pk;
	char err[128];

	packing(&p, &pk);
	filter_pack(&pk, f);
	msgpack_object o = unpack_packed(&p);
	assert_int_equal(filter_unpack(g, &o, err, sizeof err), 0);
	unpacked(&p);
}

static void
test_filter_matches_the_publisher_by_pid_uid_gid_and_comm(void **state)
{
	(void)state;
	const uint32_t uids[] = {1001, 1002}, pids[] = {42};
	const char *comms[] = {"python3"};
	logbus_filter pub = {.uids = uids,
	                     .nuids = 2,
	                     .pids = pids,
	                     .npids = 1,
	                     .comms = comms,
	                     .ncomms = 1};
	struct filter f, g;
	char err[128];
	assert_int_equal(filter_from_public(&f, &pub, err, sizeof err), 0);
	filter_through_wire(&f, &g);

	struct record_view v = {.level = 20, .service = S("a")};
	struct frame_record fr = {
	    .pid = 42, .uid = 1002, .gid = 7, .comm = "python3"};
	/* the same kind ORs: uid 1001 or 1002 */
	assert_true(filter_match_frame(&g, &v, &fr));
	fr.uid = 1001;
	assert_true(filter_match_frame(&g, &v, &fr));
	/* kinds AND: a matching uid with another pid or name is out */
	fr.uid = 1003;
	assert_false(filter_match_frame(&g, &v, &fr));
	fr.uid = 1001;
	fr.pid = 43;
	assert_false(filter_match_frame(&g, &v, &fr));
	fr.pid = 42;
	memcpy(fr.comm, "python", 7);
	assert_false(filter_match_frame(&g, &v, &fr));
	/* without the frame nobody is known to be the publisher */
	memcpy(fr.comm, "python3", 8);
	assert_true(filter_match_frame(&g, &v, &fr));
	assert_false(filter_match(&g, &v));

	const uint32_t gids[] = {7};
	logbus_filter by_gid = {.gids = gids, .ngids = 1};
	struct filter h;
	assert_int_equal(filter_from_public(&h, &by_gid, err, sizeof err), 0);
	assert_true(filter_match_frame(&h, &v, &fr));
	fr.gid = 8;
	assert_false(filter_match_frame(&h, &v, &fr));
	filter_fini(&h);
	filter_fini(&f);
	filter_fini(&g);
}

static void
test_filter_refuses_a_process_name_the_kernel_cannot_have(void **state)
{
	(void)state;
	const char *comms[] = {"sixteen_bytes_xx"};
	logbus_filter pub = {.comms = comms, .ncomms = 1};
	struct filter f;
	char err[128];
	assert_int_equal(filter_from_public(&f, &pub, err, sizeof err),
	                 LOGBUS_EINVAL);
	assert_non_null(strstr(err, "15 bytes"));
}

static void test_filter_level_range_has_a_top(void **state)
{
	(void)state;
	logbus_filter pub = {.min_level = 30, .max_level = 49};
	struct filter f, g;
	char err[128];
	assert_int_equal(filter_from_public(&f, &pub, err, sizeof err), 0);
	filter_through_wire(&f, &g);
	struct record_view v = {.level = 30, .service = S("a")};
	assert_true(filter_match(&g, &v));
	v.level = 49;
	assert_true(filter_match(&g, &v));
	v.level = 50;
	assert_false(filter_match(&g, &v));
	v.level = 29;
	assert_false(filter_match(&g, &v));
	filter_fini(&f);
	filter_fini(&g);

	logbus_filter empty = {.min_level = 40, .max_level = 30};
	assert_int_equal(filter_from_public(&f, &empty, err, sizeof err),
	                 LOGBUS_EINVAL);
	assert_non_null(strstr(err, "empty"));
}

/* A uid match that is no uid is refused, never read as another uid.  (A
 * broker older than the key refuses it as unknown, like "color".) */
static void pack_negative_uid(msgpack_packer *pk, const void *arg)
{
	(void)arg;
	msgpack_pack_map(pk, 1);
	mp_pack_key(pk, "uid");
	msgpack_pack_array(pk, 1);
	msgpack_pack_int64(pk, -1);
}

static void test_filter_unpack_refuses_a_bad_publisher_match(void **state)
{
	(void)state;
	char err[128];
	assert_int_equal(
	    unpack_filter_of(pack_negative_uid, NULL, err, sizeof err), -1);
	assert_non_null(strstr(err, "uid"));
}

static void test_filter_regex_gives_up_at_its_match_limit(void **state)
{
	(void)state;
	logbus_filter pub = {.message_regex = "^(a|a?)+$"};
	struct filter f;
	char err[128], msg[64];
	assert_int_equal(filter_from_public(&f, &pub, err, sizeof err), 0);

	struct record_view v = {.level = 20, .service = S("a")};
	v.message = S("aaaa");
	assert_int_equal(filter_test(&f, &v), FILTER_YES);
	v.message = S("b");
	assert_int_equal(filter_test(&f, &v), FILTER_NO);
	/* Exponential backtracking: 2^40 paths.  Without a limit this one
	 * record took a minute; now the match stops and says so. */
	memset(msg, 'a', 40);
	strcpy(msg + 40, "!");
	v.message = S(msg);
	assert_int_equal(filter_test(&f, &v), FILTER_LIMIT);
	assert_false(filter_match(&f, &v));
	filter_fini(&f);
}

struct twice {
	const char *k;
	void (*second)(msgpack_packer *);
};

/* A map holding key k twice, each with what second() packs. */
static void pack_twice(msgpack_packer *pk, const void *arg)
{
	const struct twice *t = arg;

	msgpack_pack_map(pk, 2);
	mp_pack_key(pk, t->k);
	t->second(pk);
	mp_pack_key(pk, t->k);
	t->second(pk);
}

/* filter_unpack of a map holding key k twice, each with what second()
 * packs. */
static int unpack_repeated(const char *k, void (*second)(msgpack_packer *),
                           char *err, size_t errlen)
{
	struct twice t = {k, second};

	return unpack_filter_of(pack_twice, &t, err, errlen);
}

static void pack_services(msgpack_packer *pk)
{
	static int calls;
	/* 8 services, then 1: the second array used to be allocated for
	 * its own size while the count went on from the first. */
	int n = calls++ % 2 ? 1 : 8;
	msgpack_pack_array(pk, n);
	for (int i = 0; i < n; i++)
		mp_pack_key(pk, "svc_a");
}
static void pack_fields(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 1);
	msgpack_pack_array(pk, 2);
	mp_pack_key(pk, "k");
	mp_pack_key(pk, "v");
}
static void pack_text(msgpack_packer *pk)
{
	mp_pack_key(pk, "abc");
}
static void pack_number(msgpack_packer *pk)
{
	msgpack_pack_int(pk, 1);
}

static void pack_ids(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 1);
	msgpack_pack_uint32(pk, 1000);
}

static void test_filter_unpack_refuses_repeated_keys(void **state)
{
	(void)state;
	static const struct {
		const char *key;
		void (*value)(msgpack_packer *);
	} cases[] = {{"svc", pack_services},  {"fld", pack_fields},
	             {"lg", pack_text},       {"re", pack_text},
	             {"lvl", pack_number},    {"st", pack_number},
	             {"since", pack_number},  {"until", pack_number},
	             {"lvlmax", pack_number}, {"pid", pack_ids},
	             {"uid", pack_ids},       {"gid", pack_ids},
	             {"comm", pack_services}};
	char err[128];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		err[0] = '\0';
		assert_int_equal(unpack_repeated(cases[i].key, cases[i].value,
		                                 err, sizeof err),
		                 -1);
		assert_non_null(strstr(err, "appears twice"));
		assert_non_null(strstr(err, cases[i].key));
	}

	/* More keys than a filter has is refused before any is read. */
	struct packed p;
	msgpack_packer pk;
	struct filter f;
	packing(&p, &pk);
	msgpack_pack_map(&pk, 14);
	for (int i = 0; i < 14; i++) {
		char k[8];
		snprintf(k, sizeof k, "k%d", i);
		mp_pack_key(&pk, k);
		msgpack_pack_int(&pk, i);
	}
	msgpack_object o = unpack_packed(&p);
	assert_int_equal(filter_unpack(&f, &o, err, sizeof err), -1);
	assert_non_null(strstr(err, "14 keys"));
	unpacked(&p);
}

/*
 * A pattern is a C string everywhere else (logbus_filter.message_regex,
 * filter_pack): one with a NUL byte inside, which PCRE2 would compile
 * whole, is refused rather than read two ways (found by
 * tests/fuzz/fuzz_filter: "^(a\0)" packed again as "^(a", which does not
 * compile).  \x00 in the pattern still matches a NUL.
 */
static void test_filter_unpack_refuses_a_nul_in_the_pattern(void **state)
{
	(void)state;
	struct packed p;
	msgpack_packer pk;
	struct filter f;
	char err[128];

	packing(&p, &pk);
	msgpack_pack_map(&pk, 1);
	mp_pack_key(&pk, "re");
	mp_pack_str(&pk, "^(a\0)", 5);
	msgpack_object o = unpack_packed(&p);
	err[0] = '\0';
	assert_int_equal(filter_unpack(&f, &o, err, sizeof err), -1);
	assert_non_null(strstr(err, "NUL"));
	unpacked(&p);

	packing(&p, &pk);
	msgpack_pack_map(&pk, 1);
	mp_pack_key(&pk, "re");
	mp_pack_key(&pk, "^(a\\x00)");
	o = unpack_packed(&p);
	assert_int_equal(filter_unpack(&f, &o, err, sizeof err), 0);
	filter_fini(&f);
	unpacked(&p);
}

/* msgpack-c gives an empty string that comes before any other string a
 * NULL pointer: two empty keys are the same key, found without handing
 * memcmp a NULL (UBSan; found by tests/fuzz/fuzz_filter). */
static void test_repeated_empty_keys_are_found(void **state)
{
	(void)state;
	struct packed p;
	msgpack_packer pk;

	packing(&p, &pk);
	msgpack_pack_map(&pk, 2);
	mp_pack_key(&pk, "");
	msgpack_pack_int(&pk, 1);
	mp_pack_key(&pk, "");
	msgpack_pack_int(&pk, 2);
	msgpack_object o = unpack_packed(&p);
	const msgpack_object *k = mp_repeated_key(&o);
	assert_non_null(k);
	assert_int_equal(k->via.str.size, 0);
	unpacked(&p);
}

/* mp_put_i64 and mp_put_u64 pack one map entry each: the key, then the
 * value, signed or not. */
static void test_mp_put_packs_a_key_and_its_number(void **state)
{
	(void)state;
	struct packed p;
	msgpack_packer pk;

	packing(&p, &pk);
	msgpack_pack_map(&pk, 3);
	mp_put_i64(&pk, "since", INT64_MIN);
	mp_put_i64(&pk, "lvl", 30);
	mp_put_u64(&pk, "n", UINT64_MAX);
	msgpack_object o = unpack_packed(&p);
	const msgpack_object *v = mp_get(&o, "since");
	assert_non_null(v);
	assert_int_equal(v->type, MSGPACK_OBJECT_NEGATIVE_INTEGER);
	assert_true(v->via.i64 == INT64_MIN);
	uint64_t u = 0;
	assert_true(mp_get_u64(&o, "lvl", &u));
	assert_int_equal(u, 30);
	assert_true(mp_get_u64(&o, "n", &u));
	assert_true(u == UINT64_MAX);
	unpacked(&p);
}

/* A record whose key k appears twice (with valid values each time). */
static void pack_record_twice(msgpack_sbuffer *sb, const char *k)
{
	msgpack_packer pk;
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	/* "f" and "o" are not among the five keys every record has */
	bool extra = strcmp(k, "f") == 0 || strcmp(k, "o") == 0;
	pack_record_head(&pk, 6 + extra, 1, 20, "svc_a", "app", "hello");
	if (strcmp(k, "f") == 0) {
		/* a field map that is fine, and one whose key repeats */
		mp_pack_key(&pk, "f");
		msgpack_pack_map(&pk, 1);
		mp_pack_key(&pk, "a");
		msgpack_pack_int(&pk, 1);
		mp_pack_key(&pk, "f");
		msgpack_pack_map(&pk, 1);
		mp_pack_key(&pk, "a");
		msgpack_pack_int(&pk, 2);
		return;
	}
	if (extra) {
		mp_pack_key(&pk, k);
		msgpack_pack_int(&pk, 1);
	}
	mp_pack_key(&pk, k);
	if (strcmp(k, "s") == 0)
		mp_pack_key(&pk, "svc_b");
	else if (strcmp(k, "n") == 0 || strcmp(k, "m") == 0)
		mp_pack_key(&pk, "other");
	else
		msgpack_pack_int(&pk, 1);
}

/*
 * msgpack-c allocates a container's elements as soon as it reads the
 * container's header: five bytes (a map32 of 2^32-1 pairs) asked malloc
 * for 128 GiB, and a count of 2^24 inside a record mapped 512 MiB for a
 * request of a few bytes (found by tests/fuzz/fuzz_record).  A count the
 * remaining bytes cannot hold, at one byte an element, is refused first.
 */
static void test_decoders_refuse_counts_the_bytes_cannot_hold(void **state)
{
	(void)state;
	static const char huge_map[] = "\xdf\xff\xff\xff\xff";
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_zone zone;
	struct record_view v;
	struct record_error e;
	uint64_t u;

	msgpack_zone_init(&zone, 1024);
	assert_int_equal(record_decode(huge_map, 5, &zone, &v, &e), -1);
	assert_string_equal(e.code, ERR_BAD_RECORD);
	assert_non_null(strstr(e.msg, "more elements than"));
	assert_false(mp_body_get_u64(huge_map, 5, "tok", &u));

	/* a good record's head, then fields declaring 2^24 pairs */
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	pack_record_head(&pk, 6, 1, 20, "svc_a", "app", "hello");
	mp_pack_key(&pk, "f");
	msgpack_sbuffer_write(&sb, "\xdf\x01\x00\x00\x00", 5);
	mp_pack_key(&pk, "k");
	mp_pack_key(&pk, "v");
	assert_int_equal(record_check(sb.data, sb.size, &v), -1);
	assert_int_equal(record_decode(sb.data, sb.size, &zone, &v, &e), -1);
	assert_non_null(strstr(e.msg, "more elements than"));

	/* the same with the count it has: a good record */
	msgpack_sbuffer_clear(&sb);
	pack_record_head(&pk, 6, 1, 20, "svc_a", "app", "hello");
	mp_pack_key(&pk, "f");
	msgpack_sbuffer_write(&sb, "\xdf\x00\x00\x00\x01", 5);
	mp_pack_key(&pk, "k");
	mp_pack_key(&pk, "v");
	assert_int_equal(record_decode(sb.data, sb.size, &zone, &v, &e), 0);
	assert_int_equal(v.nfields, 1);

	/* mp_unpack starts where *off says (a live message's topic first) */
	static const char topic_then_map[] = "svc\0\x81\xa1k\x01";
	msgpack_object o;
	size_t off = 4;
	assert_int_equal(mp_unpack(topic_then_map, 8, &off, &zone, &o),
	                 MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(off, 8);
	assert_true(mp_get_u64(&o, "k", &u) && u == 1);
	off = 0;
	assert_int_equal(mp_unpack(huge_map, 5, &off, &zone, &o),
	                 MSGPACK_UNPACK_PARSE_ERROR);
	msgpack_sbuffer_destroy(&sb);
	msgpack_zone_destroy(&zone);
}

static void test_record_refuses_repeated_keys(void **state)
{
	(void)state;
	const char *keys[] = {"t", "v", "s", "n", "m", "o", "f"};
	msgpack_sbuffer sb;
	msgpack_zone zone;
	struct record_view v;
	struct record_error e;

	msgpack_zone_init(&zone, 1024);
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		msgpack_sbuffer_init(&sb);
		pack_record_twice(&sb, keys[i]);
		if (strcmp(keys[i], "o") != 0 && strcmp(keys[i], "f") != 0)
			/* the first six keys alone are a good record */
			assert_int_equal(record_peek(sb.data, sb.size, &v), 0);
		assert_int_equal(record_check(sb.data, sb.size, &v), -1);
		assert_int_equal(record_decode(sb.data, sb.size, &zone, &v, &e),
		                 -1);
		assert_string_equal(e.code, ERR_BAD_RECORD);
		assert_non_null(strstr(e.msg, "twice"));
		msgpack_sbuffer_destroy(&sb);
	}

	/* A field key repeated inside one field map. */
	msgpack_sbuffer_init(&sb);
	msgpack_packer pk;
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	pack_record_head(&pk, 6, 1, 20, "svc_a", "app", "hello");
	mp_pack_key(&pk, "f");
	msgpack_pack_map(&pk, 2);
	mp_pack_key(&pk, "user");
	mp_pack_key(&pk, "root");
	mp_pack_key(&pk, "user");
	mp_pack_key(&pk, "nobody");
	assert_int_equal(record_check(sb.data, sb.size, &v), -1);
	assert_int_equal(record_decode(sb.data, sb.size, &zone, &v, &e), -1);
	assert_non_null(strstr(e.msg, "'user' appears twice"));
	msgpack_sbuffer_destroy(&sb);
	msgpack_zone_destroy(&zone);
}

static void test_batch_marker_carries_the_publishers_uid(void **state)
{
	(void)state;
	unsigned char f[FRAME_OVERHEAD];
	struct frame_batch in = {.count = 3,
	                         .session = 0x1122334455667788ull,
	                         .batch = 9,
	                         .first_seq = 77,
	                         .uid = 1001,
	                         .has_uid = true},
	                   out;
	frame_batch_encode(f, &in);
	frame_batch_decode(f, &out);
	assert_true(out.has_uid);
	assert_int_equal(out.uid, 1001);
	assert_true(out.session == in.session && out.batch == 9 &&
	            out.first_seq == 77 && out.count == 3);
	/* A marker as written before it carried the uid: flags 0. */
	in.has_uid = false;
	frame_batch_encode(f, &in);
	frame_batch_decode(f, &out);
	assert_false(out.has_uid);
	assert_int_equal(f[FRAME_HDR + 1], 0);
}

static void test_frame_detects_flipped_bytes_and_short_tails(void **state)
{
	(void)state;
	unsigned char buf[FRAME_OVERHEAD + 5];
	struct frame_record r = {.pid = 1,
	                         .uid = 2,
	                         .gid = 3,
	                         .seq = 99,
	                         .recv_ns = 7,
	                         .data = "hello",
	                         .len = 5};
	int type;
	uint32_t total;
	frame_record_header(buf, &r);
	memcpy(buf + FRAME_OVERHEAD, "hello", 5);
	assert_int_equal(frame_check(buf, sizeof buf, 1024, &type, &total),
	                 FRAME_OK);
	assert_int_equal(type, FRAME_RECORD);
	assert_int_equal(total, sizeof buf);
	struct frame_record back;
	frame_record_decode(buf, &back);
	assert_true(back.seq == 99 && back.pid == 1 && back.len == 5);
	assert_int_equal(frame_check(buf, sizeof buf - 1, 1024, &type, &total),
	                 FRAME_SHORT);
	buf[FRAME_OVERHEAD + 2] ^= 0x10;
	assert_int_equal(frame_check(buf, sizeof buf, 1024, &type, &total),
	                 FRAME_CORRUPT);
}

/* Both layouts, with the fraction of a time before 1970 counted up from
 * the second below it. */
static void test_timefmt_writes_python_and_rfc3339_layouts(void **state)
{
	(void)state;
	char b[TIMEFMT_MAX];

	assert_int_equal(setenv("TZ", "UTC", 1), 0);
	tzset();
	assert_int_equal(timefmt_python(b, sizeof b, 1763805600123456789), 23);
	assert_string_equal(b, "2025-11-22 10:00:00,123");
	assert_int_equal(timefmt_rfc3339(b, sizeof b, 1763805600123456789), 27);
	assert_string_equal(b, "2025-11-22T10:00:00.123456Z");
	assert_int_equal(timefmt_python(b, sizeof b, -1500000000), 23);
	assert_string_equal(b, "1969-12-31 23:59:58,500");
	assert_int_equal(timefmt_rfc3339(b, sizeof b, -1), 27);
	assert_string_equal(b, "1969-12-31T23:59:59.999999Z");
	assert_int_equal(timefmt_rfc3339(b, sizeof b, 5000), 27);
	assert_string_equal(b, "1970-01-01T00:00:00.000005Z");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_crc32c_matches_standard_vectors),
	    cmocka_unit_test(test_timefmt_writes_python_and_rfc3339_layouts),
	    cmocka_unit_test(test_utf8_accepts_valid_and_rejects_invalid),
	    cmocka_unit_test(test_utf8_cut_never_splits_a_character),
	    cmocka_unit_test(test_utf8_sanitize_replaces_each_bad_byte),
	    cmocka_unit_test(test_utf8_sanitize_piece_never_splits_a_character),
	    cmocka_unit_test(
	        test_strbuf_doubles_are_the_shortest_text_that_reads_back),
	    cmocka_unit_test(test_size_parse_takes_digits_and_a_unit),
	    cmocka_unit_test(test_cursor_round_trips),
	    cmocka_unit_test(test_cursor_rejects_malformed),
	    cmocka_unit_test(test_cursor_accepts_only_what_it_writes),
	    cmocka_unit_test(test_record_round_trips_every_field),
	    cmocka_unit_test(test_record_refuses_bad_service_ids),
	    cmocka_unit_test(
	        test_field_keys_take_letters_digits_dot_underscore_dash),
	    cmocka_unit_test(test_record_refuses_invalid_utf8_and_bad_logger),
	    cmocka_unit_test(test_record_refuses_missing_keys_and_wrong_types),
	    cmocka_unit_test(test_exit_report_round_trips),
	    cmocka_unit_test(test_record_peek_reads_what_decode_reads),
	    cmocka_unit_test(test_record_peek_refuses_what_decode_refuses),
	    cmocka_unit_test(
	        test_record_check_accepts_only_what_decode_accepts),
	    cmocka_unit_test(test_record_encode_writes_what_record_pack_writes),
	    cmocka_unit_test(test_exit_summary_names_every_signal),
	    cmocka_unit_test(test_levels_parse_and_name),
	    cmocka_unit_test(
	        test_filter_matches_services_level_and_logger_prefix),
	    cmocka_unit_test(test_filter_unpack_refuses_unknown_keys),
	    cmocka_unit_test(test_filter_unpack_refuses_repeated_keys),
	    cmocka_unit_test(
	        test_filter_matches_the_publisher_by_pid_uid_gid_and_comm),
	    cmocka_unit_test(
	        test_filter_refuses_a_process_name_the_kernel_cannot_have),
	    cmocka_unit_test(test_filter_level_range_has_a_top),
	    cmocka_unit_test(test_filter_unpack_refuses_a_bad_publisher_match),
	    cmocka_unit_test(test_filter_regex_gives_up_at_its_match_limit),
	    cmocka_unit_test(test_record_refuses_repeated_keys),
	    cmocka_unit_test(test_exit_report_category_is_checked),
	    cmocka_unit_test(test_repeated_empty_keys_are_found),
	    cmocka_unit_test(test_mp_put_packs_a_key_and_its_number),
	    cmocka_unit_test(test_filter_unpack_refuses_a_nul_in_the_pattern),
	    cmocka_unit_test(test_decoders_refuse_counts_the_bytes_cannot_hold),
	    cmocka_unit_test(test_frame_detects_flipped_bytes_and_short_tails),
	    cmocka_unit_test(test_batch_marker_carries_the_publishers_uid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
