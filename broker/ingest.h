/*
 * ingest.h: publish batches in, acknowledgements out (ingest.c), and the
 * commit every batch of records goes through, the broker's own included.
 */
#ifndef LOGBUS_INGEST_H
#define LOGBUS_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "frame.h"
#include "request.h"

struct batch;
struct broker;

/* The ops of the ingest socket: "publish" and "sync". */
extern const struct request_op ingest_ops[];

/* The journal's on_batch hook that refills the dedup table at start. */
void ingest_on_journal_batch(void *arg, const struct frame_batch *fb);
/* The journal's each_batch hook: the dedup table's entries as batch
 * markers, for its sessions file. */
void ingest_each_journal_batch(
    void *arg, void (*emit)(void *ctx, const struct frame_batch *b), void *ctx);

/* Append bt as batch number bn of session to the journal (bt->first_seq
 * is set) and count it as committed.  0, or -1 with err. */
int ingest_append(struct broker *b, uint64_t session, uint64_t bn,
                  struct batch *bt, char *err, size_t errlen);

/* Everything that follows a commit, in order: live, the routed files,
 * error reports, the long polls waiting for records. */
void ingest_fanout(struct broker *b, const struct batch *bt);

#endif
