/*
 * frame.h: the one binary layout shared by the journal, the query replies
 * and the client's reader.
 *
 * A frame is an 8-byte header followed by a body:
 *
 *   u32 body_len   little-endian, bytes after this header
 *   u32 crc32c     CRC-32C (Castagnoli) of the body
 *
 * Record body (type FRAME_RECORD), FRAME_BODY_HDR bytes then the client's
 * msgpack record exactly as it arrived:
 *
 *   u8  type = 1   u8 flags   u16 reserved (0)
 *                                            flags: FRAME_REC_* below
 *   u32 pid        u32 uid    u32 gid        trusted: from SO_PEERCRED
 *   u64 seq                                  broker-assigned
 *   i64 recv_ns                              broker clock at commit
 *   u8  comm[16]                             trusted: /proc/<pid>/comm of
 *                                            the publisher, NUL-padded
 *
 * Batch marker body (type FRAME_BATCH), written in front of the records of
 * one ingest batch by the same write(2), so that a resent batch is known
 * after a restart and a batch torn by a crash is truncated whole:
 *
 *   u8  type = 2   u8 flags   u16 reserved (0)
 *   u32 count                                records that follow
 *   u64 session    u64 batch                 the client's batch identity
 *   u64 first_seq
 *   u32 uid                                  the publisher's, when flags
 *                                            has FRAME_BATCH_UID (older
 *                                            markers: 0 and no flag)
 *   u8  zero[12]
 *
 * Every body header has the same size, so a marker is padded to it.  Readers
 * skip frame types they do not know.  Everything is little-endian and read with
 * memcpy: frames are not aligned.
 */
#ifndef LOGBUS_FRAME_H
#define LOGBUS_FRAME_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define FRAME_HDR      8u
#define FRAME_BODY_HDR 48u
/* The kernel's TASK_COMM_LEN: a process name is at most 15 bytes. */
#define FRAME_COMM_LEN 16u
/* Header plus body header: the fixed cost of one record on disk. */
#define FRAME_OVERHEAD (FRAME_HDR + FRAME_BODY_HDR)

enum frame_type {
	FRAME_RECORD = 1,
	FRAME_BATCH = 2,
};

/* A record's flags, set by the broker: the publisher (root or logbusd's
 * own user, who may publish as any service) is not the service's owner
 * (broker/owners.h). */
#define FRAME_REC_NOT_OWNER 1u

struct frame_record {
	uint8_t flags; /* FRAME_REC_* */
	uint32_t pid, uid, gid;
	uint64_t seq;
	int64_t recv_ns;
	char comm[FRAME_COMM_LEN]; /* NUL-padded; comm[15] is always NUL */
	const char *data;          /* the msgpack record, inside the frame */
	uint32_t len;
};

#define FRAME_BATCH_UID 1u /* flags: the marker carries the uid */

struct frame_batch {
	uint32_t count;
	uint64_t session, batch, first_seq;
	uint32_t uid;
	bool has_uid; /* a marker written before uids were: false */
};

static inline void le_put32(void *p, uint32_t v)
{
	unsigned char *b = p;
	b[0] = (unsigned char)v;
	b[1] = (unsigned char)(v >> 8);
	b[2] = (unsigned char)(v >> 16);
	b[3] = (unsigned char)(v >> 24);
}

static inline void le_put64(void *p, uint64_t v)
{
	le_put32(p, (uint32_t)v);
	le_put32((unsigned char *)p + 4, (uint32_t)(v >> 32));
}

static inline uint32_t le_get32(const void *p)
{
	const unsigned char *b = p;
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	       (uint32_t)b[3] << 24;
}

static inline uint64_t le_get64(const void *p)
{
	return (uint64_t)le_get32(p) |
	       (uint64_t)le_get32((const unsigned char *)p + 4) << 32;
}

/*
 * Write the headers of a record frame whose msgpack bytes (len of them) will
 * follow at hdr + FRAME_OVERHEAD.  The crc covers the body, so it is computed
 * over the body header and the data, which may live elsewhere (writev).
 */
void frame_record_header(unsigned char hdr[FRAME_OVERHEAD],
                         const struct frame_record *r);

/* Write a whole batch marker frame (FRAME_OVERHEAD bytes). */
void frame_batch_encode(unsigned char out[FRAME_OVERHEAD],
                        const struct frame_batch *b);

enum frame_status {
	FRAME_OK = 0,
	FRAME_SHORT = -1,   /* fewer bytes than the header says: a torn tail */
	FRAME_CORRUPT = -2, /* bad length, bad type layout or bad checksum */
};

/*
 * Check the frame at buf (avail bytes) and say its type and total length.
 * max_body bounds the length field so that garbage is CORRUPT, not SHORT.
 */
enum frame_status frame_check(const unsigned char *buf, size_t avail,
                              uint32_t max_body, int *type, uint32_t *total);

/* Read a checked frame's fields (no checksum work). */
void frame_record_decode(const unsigned char *frame, struct frame_record *r);
void frame_batch_decode(const unsigned char *frame, struct frame_batch *b);

#endif
