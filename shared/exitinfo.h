/*
 * exitinfo.h: the process-exit part of a record (key "x"), which a
 * supervisor publishes when a service's process ends and from which the
 * broker writes <service>_error.log.
 *
 *   "x": {"code": int,        exit status >= 0, or -N when killed by signal N
 *         "core": bool,       a core was dumped
 *         "pid": int,
 *         "argv": [str],      the command line
 *         "cwd": str, "venv": str,
 *         "err": str, "out": str,           the last bytes of stderr, stdout
 *         "err_cut": int, "out_cut": int,   bytes dropped before them
 *         "files": [str],     names in the working directory
 *         "cat": str}         the error category (category.h), absent
 *                             for exit status 0
 * Every key is optional but "code"; strings are UTF-8; "cat" is one of
 * category.h's names, or the record is refused.
 */
#ifndef LOGBUS_EXITINFO_H
#define LOGBUS_EXITINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "record.h"

#define EXIT_FILES_MAX 1000
/* Keys in an exit map: the known ones and room for newer clients'. */
#define EXIT_KEYS_MAX 32

/* What a supervisor knows, for exit_pack.  Strings NUL-terminated except
 * err/out (with lengths). */
struct exit_in {
	int64_t code;
	bool core;
	int64_t pid;
	const char *const *argv;
	size_t argc;
	const char *cwd, *venv;
	const char *err, *out;
	size_t err_len, out_len;
	uint64_t err_cut, out_cut;
	const char *const *files;
	size_t nfiles;
	const char *category; /* NULL: none */
};

void exit_pack(msgpack_packer *pk, const struct exit_in *x);

/* A decoded, validated "x" map: pointers into the record. */
struct exit_view {
	int64_t code;
	bool core;
	int64_t pid;
	const msgpack_object_array *argv, *files; /* of str; may be NULL */
	struct lb_str cwd, venv, err, out;
	uint64_t err_cut, out_cut;
	struct lb_str category; /* len 0: the map has none */
};

/* 0, or -1 with e filled (ERR_BAD_RECORD / ERR_BAD_UTF8; a category
 * that is not one of category.h's names is ERR_BAD_RECORD). */
int exit_decode(const msgpack_object *x, struct exit_view *v,
                struct record_error *e);

/* "SIGTERM", "SIGSEGV", ... for any signal; "SIG<n>" when unnamed. */
const char *exit_signal_name(int sig, char *buf, size_t len);

/* "Process exited with code 3", "Process killed by SIGTERM (exit code:
 * -15)", "... (exit code: -11, core dumped)". */
size_t exit_summary(char *buf, size_t len, int64_t code, bool core);

/* The exit's category (category.h's copy of the name): the map's own, or
 * derived from it when it has none, as for a report of an older client;
 * NULL for exit status 0. */
const char *exit_category(const struct exit_view *v);

#endif
