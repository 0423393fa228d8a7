/*
 * fuzz_filter.c: a read request's "flt" map as the broker decodes it
 * (mp_unpack, then filter_unpack, which compiles the regular expression with
 * PCRE2 and its match limit), then matched against a few records, the hostile
 * pattern's victims included.  Two properties besides not crashing: a match
 * costs at most about a millisecond a record (-timeout catches a pattern that
 * escapes the limit), and a decoded filter encodes (filter_pack) to bytes
 * that decode again and encode to the same bytes.
 *
 * Input: a msgpack object, the filter.
 */
#include <stdio.h>
#include <string.h>

#include "filter.h"
#include "fuzz_util.h"
#include "proto.h"

#define NRECS 5

static msgpack_zone rec_zone;
static struct record_view recs[NRECS];
static msgpack_sbuffer rec_bytes[NRECS];

static void add_record(int i, const char *svc, const char *logger, int level,
                       int stream, const char *msg, const logbus_field *f,
                       size_t nf)
{
	struct record_in in = {
	    .time_ns = 1700000000000000000 + i * 1000000000ll,
	    .level = level,
	    .stream = stream,
	    .service = {svc, (uint32_t)strlen(svc)},
	    .logger = {logger, (uint32_t)strlen(logger)},
	    .message = {msg, (uint32_t)strlen(msg)},
	    .fields = f,
	    .nfields = nf,
	};
	msgpack_packer pk;
	struct record_error e;

	msgpack_sbuffer_init(&rec_bytes[i]);
	msgpack_packer_init(&pk, &rec_bytes[i], msgpack_sbuffer_write);
	record_pack(&pk, &in);
	if (record_decode(rec_bytes[i].data, rec_bytes[i].size, &rec_zone,
	                  &recs[i], &e) < 0)
		fuzz_fail("record %d: %s", i, e.msg);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char aaa[4096];
	const logbus_field f1[] = {
	    LOGBUS_STR("user", "bob"), LOGBUS_INT("port", 8001),
	    LOGBUS_BOOL("ok", 1), LOGBUS_FLOAT("load", 0.5)};
	const logbus_field f2[] = {LOGBUS_STR("user", "älice"),
	                           LOGBUS_INT("port", -1)};

	(void)argc;
	(void)argv;
	msgpack_zone_init(&rec_zone, 4096);
	memset(aaa, 'a', sizeof aaa - 2);
	aaa[sizeof aaa - 2] = '!';
	add_record(0, "service_123", "pactown.sandbox", LOGBUS_INFO, 0,
	           "Creating sandbox for service_123", f1, 4);
	add_record(1, "svc-b", "pactown.sandbox.cache", LOGBUS_ERROR, 2,
	           "Traceback (most recent call last):\n  File \"main.py\"", f2,
	           2);
	add_record(2, "logbusd", "logbus", LOGBUS_WARNING, 0,
	           "Suppressed 12 records from service X", NULL, 0);
	add_record(3, "a", "a", 5, 1, aaa, NULL, 0);
	add_record(4, "unicode.ok", "x.y.z", LOGBUS_CRITICAL, 0,
	           "\xe2\x82\xac 100 \xf0\x9f\x98\x80 ", f1, 1);
	return 0;
}

static void pack(msgpack_sbuffer *sb, const struct filter *f)
{
	msgpack_packer pk;

	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	filter_pack(&pk, f);
}

/* filter_pack's bytes decode again and encode to the same bytes. */
static void check_packs_stably(const struct filter *f, msgpack_zone *zone)
{
	static msgpack_sbuffer a, b;
	struct filter g;
	msgpack_object o;
	size_t off = 0;
	char err[256];

	pack(&a, f);
	if (mp_unpack(a.data, a.size, &off, zone, &o) != MSGPACK_UNPACK_SUCCESS)
		fuzz_fail("filter_pack wrote what msgpack does not read");
	if (filter_unpack(&g, &o, err, sizeof err) < 0)
		fuzz_fail("filter_pack wrote a filter filter_unpack refuses: "
		          "%s",
		          err);
	pack(&b, &g);
	filter_fini(&g);
	if (a.size != b.size || memcmp(a.data, b.data, a.size) != 0)
		fuzz_fail("a filter packs to other bytes once decoded again");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static msgpack_zone zone;
	static bool zone_ready;
	struct filter f;
	msgpack_object o;
	size_t off = 0;
	char err[256];

	if (!zone_ready) {
		msgpack_zone_init(&zone, 4096);
		zone_ready = true;
	}
	if (mp_unpack((const char *)data, size, &off, &zone, &o) ==
	        MSGPACK_UNPACK_SUCCESS &&
	    filter_unpack(&f, &o, err, sizeof err) == 0) {
		for (int i = 0; i < NRECS; i++)
			(void)filter_test(&f, &recs[i]);
		check_packs_stably(&f, &zone);
		filter_fini(&f);
	}
	msgpack_zone_clear(&zone);
	return 0;
}
