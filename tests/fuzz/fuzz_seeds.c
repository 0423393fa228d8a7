/*
 * fuzz_seeds.c: writes the seed corpora of the fuzz targets from the
 * project's own encoders, so that each target starts from inputs the
 * library and the broker really make: fuzz_seeds DIR writes DIR/record,
 * DIR/request, DIR/cursor, DIR/filter and DIR/journal (tests/fuzz/config
 * holds configuration files written by hand).  Run by hand when a format
 * changes:  build-fuzz/tests/fuzz/fuzz_seeds tests/fuzz
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cursor.h"
#include "exitinfo.h"
#include "files.h"
#include "filter.h"
#include "fuzz_util.h"
#include "journal.h"
#include "proto.h"
#include "record.h"

static const char *top;

static void put(const char *target, const char *name, const void *data,
                size_t len)
{
	char path[1024];

	snprintf(path, sizeof path, "%s/%s", top, target);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		fuzz_fail("cannot make %s (%s)", path, strerror(errno));
	snprintf(path, sizeof path, "%s/%s/%s", top, target, name);
	fuzz_write_file(path, data, len);
}

static void put_sb(const char *target, const char *name, msgpack_sbuffer *sb)
{
	put(target, name, sb->data, sb->size);
}

/* The request target's input: the socket byte, then the body. */
static void put_request(const char *name, int ingest, msgpack_sbuffer *sb)
{
	char *buf = malloc(sb->size + 1);
	buf[0] = (char)(ingest ? 1 : 0);
	memcpy(buf + 1, sb->data, sb->size);
	put("request", name, buf, sb->size + 1);
	free(buf);
}

static const logbus_field fields[] = {
    LOGBUS_STR("user", "bob"), LOGBUS_INT("port", 8001),
    LOGBUS_FLOAT("load", 0.25), LOGBUS_BOOL("ok", 1)};

static struct record_in plain(const char *svc, const char *msg)
{
	return (struct record_in){
	    .time_ns = 1700000000123456789,
	    .level = LOGBUS_INFO,
	    .service = {svc, (uint32_t)strlen(svc)},
	    .logger = {"pactown.sandbox", 15},
	    .message = {msg, (uint32_t)strlen(msg)},
	};
}

/* Records: as the publisher encodes them (record_encode) and as
 * record_pack does, with fields, streams and an exit report. */
static void records(msgpack_sbuffer out[4])
{
	static const char *const argv[] = {"uvicorn", "main:app", "--port",
	                                   "8001"};
	static const char *const files[] = {"main.py", "requirements.txt",
	                                    ".venv"};
	struct exit_in x = {
	    .code = -15,
	    .pid = 4242,
	    .argv = argv,
	    .argc = 4,
	    .cwd = "/tmp/pactown-sandboxes/service_123",
	    .venv = "/tmp/pactown-sandboxes/service_123/.venv",
	    .err = "Traceback (most recent call last):\n",
	    .err_len = 35,
	    .out = "INFO: started\n",
	    .out_len = 14,
	    .files = files,
	    .nfiles = 3,
	};
	struct record_in r[4];
	msgpack_packer pk;

	r[0] = plain("service_123", "Creating sandbox for service_123");
	r[1] = plain("svc-b", "line one\nline two \xc3\xa9");
	r[1].level = LOGBUS_ERROR;
	r[1].stream = 2;
	r[1].fields = fields;
	r[1].nfields = 4;
	r[2] = plain("logbus.client", "");
	r[2].level = 7;
	r[2].stream = 1;
	r[3] = plain("service_123", "Process killed by SIGTERM (exit code: "
	                            "-15)");
	r[3].level = LOGBUS_ERROR;
	r[3].exit = &x;
	for (int i = 0; i < 4; i++) {
		msgpack_sbuffer_init(&out[i]);
		msgpack_packer_init(&pk, &out[i], msgpack_sbuffer_write);
		record_pack(&pk, &r[i]);
	}
	/* record_encode writes record_pack's bytes: checked here */
	for (int i = 0; i < 3; i++) {
		char *buf = malloc(record_encoded_max(&r[i]));
		size_t n = record_encode(buf, &r[i]);
		if (n != out[i].size || memcmp(buf, out[i].data, n) != 0)
			fuzz_fail("record_encode and record_pack differ");
		free(buf);
	}
	const char *names[] = {"plain", "fields-stderr", "empty-message",
	                       "exit-report"};
	for (int i = 0; i < 4; i++)
		put_sb("record", names[i], &out[i]);
}

static void filters(msgpack_sbuffer *flt_out)
{
	const char *svcs[] = {"service_123", "svc-b"};
	const char *flds[] = {"user=bob", "port=8001"};
	const logbus_filter pubs[] = {
	    {.services = svcs, .nservices = 2, .min_level = LOGBUS_WARNING},
	    {.logger_prefix = "pactown.sandbox", .streams = 4},
	    {.message_regex = "^Creating (sandbox|cache) for \\w+$",
	     .since_ns = 1700000000000000000,
	     .until_ns = 1800000000000000000},
	    {.message_regex = "^(a|a?)+$"},
	    {.fields = flds, .nfields = 2},
	};
	char err[256], name[32];

	for (size_t i = 0; i < sizeof pubs / sizeof pubs[0]; i++) {
		struct filter f;
		msgpack_sbuffer sb;
		msgpack_packer pk;
		if (filter_from_public(&f, &pubs[i], err, sizeof err) != 0)
			fuzz_fail("filter %zu: %s", i, err);
		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		filter_pack(&pk, &f);
		snprintf(name, sizeof name, "filter-%zu", i);
		put_sb("filter", name, &sb);
		if (i == 2) { /* for a read request */
			msgpack_sbuffer_init(flt_out);
			msgpack_sbuffer_write(flt_out, sb.data, sb.size);
		}
		msgpack_sbuffer_destroy(&sb);
		filter_fini(&f);
	}
}

static void begin(msgpack_sbuffer *sb, msgpack_packer *pk, size_t n,
                  const char *op)
{
	msgpack_sbuffer_init(sb);
	msgpack_packer_init(pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(pk, n);
	mp_pack_key(pk, "op");
	mp_pack_key(pk, op);
}

static void requests(msgpack_sbuffer recs[4], const msgpack_sbuffer *flt)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	const unsigned char jid[16] = {1, 2,  3,  4,  5,  6,  7,  8,
	                               9, 10, 11, 12, 13, 14, 15, 16};

	/* ingest: a batch as the publisher sends it, and a sync */
	begin(&sb, &pk, 5, OP_PUBLISH);
	mp_pack_key(&pk, "sid");
	msgpack_pack_uint64(&pk, 0x1234567890abcdefull);
	mp_pack_key(&pk, "bn");
	msgpack_pack_uint64(&pk, 1);
	mp_pack_key(&pk, "r");
	msgpack_pack_array(&pk, 4);
	for (int i = 0; i < 4; i++) {
		msgpack_pack_bin(&pk, recs[i].size);
		msgpack_pack_bin_body(&pk, recs[i].data, recs[i].size);
	}
	mp_pack_key(&pk, "dr");
	msgpack_pack_uint64(&pk, 3);
	mp_pack_key(&pk, REPLY_TOK);
	msgpack_pack_uint64(&pk, 0);
	put_request("pub", 1, &sb);
	msgpack_sbuffer_destroy(&sb);
	begin(&sb, &pk, 2, OP_SYNC);
	mp_pack_key(&pk, REPLY_TOK);
	msgpack_pack_uint64(&pk, 42);
	put_request("sync", 1, &sb);
	msgpack_sbuffer_destroy(&sb);

	/* query: reads as the reader sends them */
	begin(&sb, &pk, 6, OP_READ);
	mp_pack_key(&pk, "jid");
	msgpack_pack_bin(&pk, 16);
	msgpack_pack_bin_body(&pk, jid, 16);
	mp_pack_key(&pk, "after");
	msgpack_pack_uint64(&pk, 0);
	mp_pack_key(&pk, "flt");
	msgpack_sbuffer_write(&sb, flt->data, flt->size);
	mp_pack_key(&pk, "max");
	msgpack_pack_uint64(&pk, 100);
	mp_pack_key(&pk, "maxb");
	msgpack_pack_uint64(&pk, 1 << 20);
	mp_pack_key(&pk, "wait");
	msgpack_pack_uint64(&pk, 10);
	put_request("read-filter", 0, &sb);
	msgpack_sbuffer_destroy(&sb);
	begin(&sb, &pk, 2, OP_READ);
	mp_pack_key(&pk, "tail");
	msgpack_pack_uint64(&pk, 100);
	put_request("read-tail", 0, &sb);
	msgpack_sbuffer_destroy(&sb);
	const char *simple[] = {OP_INFO, OP_STATS, OP_SERVICES, OP_ERRORS,
	                        OP_ROTATE};
	for (int i = 0; i < 5; i++) {
		begin(&sb, &pk, 1, simple[i]);
		put_request(simple[i], 0, &sb);
		msgpack_sbuffer_destroy(&sb);
	}
	begin(&sb, &pk, 2, OP_REPORT);
	mp_pack_key(&pk, "svc");
	mp_pack_key(&pk, "service_123");
	put_request("error_report", 0, &sb);
	msgpack_sbuffer_destroy(&sb);
}

static void cursors(void)
{
	unsigned char id[CURSOR_ID_LEN];
	char c[CURSOR_STR_LEN + 1];
	const uint64_t seqs[] = {0, 42, 0x123456789abcdefull, UINT64_MAX};

	for (int i = 0; i < CURSOR_ID_LEN; i++)
		id[i] = (unsigned char)(i * 17 + 3);
	for (int i = 0; i < 4; i++) {
		char name[32];
		cursor_format(c, id, seqs[i]);
		snprintf(name, sizeof name, "cursor-%d", i);
		put("cursor", name, c, CURSOR_STR_LEN);
	}
}

/* Segments the journal wrote: two batches, one cut in its last frame,
 * and a new journal's empty segment. */
static void segments(msgpack_sbuffer recs[4])
{
	char dir[300], seg[400], err[256];
	struct journal *j;
	struct journal_recovery rec;
	struct journal_rec r[4];
	struct frame_record stamp = {
	    .pid = 4242, .uid = 1000, .gid = 1000, .comm = "seeds"};
	uint64_t first;
	size_t len;

	snprintf(dir, sizeof dir, "%s/journal", fuzz_dir());
	snprintf(seg, sizeof seg, "%s/0000000000000001.journal", dir);
	struct journal_config jc = {.dir = dir,
	                            .segment_bytes = 1 << 20,
	                            .max_total_bytes = 64 << 20,
	                            .max_record = LOGBUS_RECORD_MAX};
	if (journal_open(&j, &jc, &rec, err, sizeof err) < 0)
		fuzz_fail("journal: %s", err);
	char *empty = files_slurp(seg, &len);
	if (empty == NULL)
		fuzz_fail("no segment %s", seg);
	put("journal", "empty", empty, len);
	free(empty);
	for (int i = 0; i < 4; i++)
		r[i] = (struct journal_rec){.data = recs[i].data,
		                            .len = (uint32_t)recs[i].size};
	if (journal_append_batch(j, 7, 1, r, 2, &stamp, &first, err,
	                         sizeof err) < 0 ||
	    journal_append_batch(j, 7, 2, r + 2, 2, &stamp, &first, err,
	                         sizeof err) < 0)
		fuzz_fail("journal: %s", err);
	journal_close(j);
	char *whole = files_slurp(seg, &len);
	if (whole == NULL)
		fuzz_fail("no segment %s", seg);
	put("journal", "two-batches", whole, len);
	put("journal", "torn-tail", whole, len - 7);
	free(whole);
}

int main(int argc, char **argv)
{
	msgpack_sbuffer recs[4], flt;

	if (argc != 2) {
		fprintf(stderr, "usage: fuzz_seeds DIR (tests/fuzz)\n");
		return 2;
	}
	top = argv[1];
	records(recs);
	filters(&flt);
	requests(recs, &flt);
	cursors();
	segments(recs);
	for (int i = 0; i < 4; i++)
		msgpack_sbuffer_destroy(&recs[i]);
	msgpack_sbuffer_destroy(&flt);
	return 0;
}
