/*
 * uidcount.h: a count per uid, for the limits the broker keeps per user
 * (error report files, error_report.c; services claimed, owners.c).
 *
 * Open addressing in a power-of-two array that doubles when half full;
 * entries are never removed (a uid's count may go back to 0), so the table
 * grows with the users of the host, not with their activity.  Touched from
 * the broker's loop only.
 */
#ifndef LOGBUS_UIDCOUNT_H
#define LOGBUS_UIDCOUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct uid_count {
	uint32_t uid;
	uint32_t n;
	bool used;
	bool told; /* the user's: a limit was reported and still holds */
};

struct uid_counts {
	struct uid_count *v;
	size_t n, cap;
};

/* uid's entry, made (at 0) when missing; NULL when out of memory. */
struct uid_count *uid_counts_get(struct uid_counts *t, uint32_t uid);
void uid_counts_fini(struct uid_counts *t);

#endif
