/*
 * live.h: every committed record, published once on the live socket
 * (live.c says how a subscriber sees a gap).
 */
#ifndef LOGBUS_LIVE_H
#define LOGBUS_LIVE_H

#include <stddef.h>
#include <stdint.h>

#include "logbus/logbus.h" /* LOGBUS_SERVICE_MAX */

struct batch;
struct broker;

/* Messages pub0 queues per subscriber before it drops the oldest
 * (1..8192): deep enough that a subscriber stalled for a moment loses
 * nothing.  Every queue holds a subset of the last LIVE_SENDBUF messages
 * sent (pub0 shares them, drop-oldest), so those bound what the queues
 * hold; live.c keeps their records' bytes under LIVE_BYTES_MAX. */
#define LIVE_SENDBUF   1024
#define LIVE_BYTES_MAX (32u * 1024 * 1024)
/* A stub's size at most, a run announced without its records (live.c):
 * the topic, then 66 bytes of map (jid 22, three keys 16, three u64s 27). */
#define LIVE_STUB_MAX (LOGBUS_SERVICE_MAX + 1 + 96)

/* The sizes of the last LIVE_SENDBUF messages sent, and their sum. */
struct live_window {
	uint32_t size[LIVE_SENDBUF];
	size_t head;
	uint64_t bytes;
	uint64_t skipped; /* runs sent as stubs: over LIVE_BYTES_MAX */
};

/* Publish a committed batch, with the frame headers the journal just
 * wrote for it. */
void live_publish(struct broker *b, const struct batch *bt);

#endif
