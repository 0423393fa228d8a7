/*
 * fuzz_util.h: what the libFuzzer targets of tests/fuzz share: a scratch
 * directory per process and whole-file writes.  A target aborts (and so
 * reports a crash) on anything that is the harness's fault, never on the
 * code under test refusing an input.
 */
#ifndef LOGBUS_FUZZ_UTIL_H
#define LOGBUS_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* libFuzzer's entry points (no header of its own). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A directory of this process's own under $TMPDIR (or /tmp), made at the
 * first call and removed at exit. */
const char *fuzz_dir(void);

/* Replace path with exactly these bytes; aborts when it cannot. */
void fuzz_write_file(const char *path, const void *data, size_t len);

/* Say what broke a property of the code under test, and abort. */
void fuzz_fail(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

#endif
