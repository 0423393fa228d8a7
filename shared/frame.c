/*
 * frame.c: encode and check journal frames (layout in frame.h).
 *
 * frame_check is the only place that decides whether bytes on disk or on the
 * wire are a frame: the journal's recovery and the client's reader both rely
 * on it, so a torn or flipped frame is judged the same way everywhere.
 */
#include "frame.h"

#include "crc32c.h"

static void body_header(unsigned char *b, int type)
{
	memset(b, 0, FRAME_BODY_HDR);
	b[0] = (unsigned char)type;
}

void frame_record_header(unsigned char hdr[FRAME_OVERHEAD],
                         const struct frame_record *r)
{
	unsigned char *b = hdr + FRAME_HDR;

	body_header(b, FRAME_RECORD);
	b[1] = r->flags;
	le_put32(b + 4, r->pid);
	le_put32(b + 8, r->uid);
	le_put32(b + 12, r->gid);
	le_put64(b + 16, r->seq);
	le_put64(b + 24, (uint64_t)r->recv_ns);
	memcpy(b + 32, r->comm, strnlen(r->comm, FRAME_COMM_LEN - 1));
	uint32_t crc = crc32c(0, b, FRAME_BODY_HDR);
	crc = crc32c(crc, r->data, r->len);
	le_put32(hdr, FRAME_BODY_HDR + r->len);
	le_put32(hdr + 4, crc);
}

void frame_batch_encode(unsigned char out[FRAME_OVERHEAD],
                        const struct frame_batch *bt)
{
	unsigned char *b = out + FRAME_HDR;

	body_header(b, FRAME_BATCH);
	le_put32(b + 4, bt->count);
	le_put64(b + 8, bt->session);
	le_put64(b + 16, bt->batch);
	le_put64(b + 24, bt->first_seq);
	if (bt->has_uid) {
		b[1] = FRAME_BATCH_UID;
		le_put32(b + 32, bt->uid);
	}
	le_put32(out, FRAME_BODY_HDR);
	le_put32(out + 4, crc32c(0, b, FRAME_BODY_HDR));
}

enum frame_status frame_check(const unsigned char *buf, size_t avail,
                              uint32_t max_body, int *type, uint32_t *total)
{
	if (avail < FRAME_HDR)
		return FRAME_SHORT;
	uint32_t len = le_get32(buf);
	if (len < FRAME_BODY_HDR || len > max_body)
		return FRAME_CORRUPT;
	if (avail - FRAME_HDR < len)
		return FRAME_SHORT;
	const unsigned char *b = buf + FRAME_HDR;
	if (crc32c(0, b, len) != le_get32(buf + 4))
		return FRAME_CORRUPT;
	if (b[0] == FRAME_BATCH && len != FRAME_BODY_HDR)
		return FRAME_CORRUPT;
	*type = b[0];
	*total = FRAME_HDR + len;
	return FRAME_OK;
}

void frame_record_decode(const unsigned char *f, struct frame_record *r)
{
	const unsigned char *b = f + FRAME_HDR;

	r->flags = b[1];
	r->pid = le_get32(b + 4);
	r->uid = le_get32(b + 8);
	r->gid = le_get32(b + 12);
	r->seq = le_get64(b + 16);
	r->recv_ns = (int64_t)le_get64(b + 24);
	memcpy(r->comm, b + 32, FRAME_COMM_LEN - 1);
	r->comm[FRAME_COMM_LEN - 1] = '\0';
	r->data = (const char *)b + FRAME_BODY_HDR;
	r->len = le_get32(f) - FRAME_BODY_HDR;
}

void frame_batch_decode(const unsigned char *f, struct frame_batch *bt)
{
	const unsigned char *b = f + FRAME_HDR;

	bt->count = le_get32(b + 4);
	bt->session = le_get64(b + 8);
	bt->batch = le_get64(b + 16);
	bt->first_seq = le_get64(b + 24);
	bt->has_uid = (b[1] & FRAME_BATCH_UID) != 0;
	bt->uid = bt->has_uid ? le_get32(b + 32) : 0;
}
