/*
 * category.h: the error category of a process's death ("dependency",
 * "port", "crash", ...), derived from how it ended and what it wrote.
 *
 * The library computes it once, in logbus_report_exit, and sends it in the
 * exit map ("cat") and as the record's field error_category; logbusd
 * refuses an exit report whose category is not one of the table's names,
 * and derives it itself for an exit map that has none (an older client).
 * category.c holds the rules: one ordered table, the first row that
 * matches wins; the README shows it.
 */
#ifndef LOGBUS_CATEGORY_H
#define LOGBUS_CATEGORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest name, with its NUL. */
#define CATEGORY_NAME_MAX 16

/* What the category is derived from. */
struct category_in {
	int64_t code;          /* exit status >= 0, or -N killed by signal N */
	bool core;             /* a core was dumped */
	bool timed_out;        /* the supervisor killed it at its time limit */
	bool oom_killed;       /* the kernel's OOM killer killed it */
	const char *err, *out; /* the tails of stderr and stdout */
	size_t err_len, out_len;
};

/* The category of a death, or NULL for exit status 0 (not a failure). */
const char *category_of(const struct category_in *in);

/* The table's own copy of the name s (len bytes), which lives as long as
 * the program; NULL when s is none of the categories' names. */
const char *category_name(const char *s, size_t len);

/* Every name, in the table's order: "dependency, port, ...". */
const char *category_names(void);

#endif
