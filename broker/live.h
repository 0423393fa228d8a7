/*
 * live.h: every committed record, published once on the live socket
 * (live.c says how a subscriber sees a gap).
 */
#ifndef LOGBUS_LIVE_H
#define LOGBUS_LIVE_H

struct batch;
struct broker;

/* Publish a committed batch, with the frame headers the journal just
 * wrote for it. */
void live_publish(struct broker *b, const struct batch *bt);

#endif
