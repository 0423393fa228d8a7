/*
 * files.h: whole files and whole trees, for the programs in tools/ and the
 * tests (which compile tools/files.c too).
 */
#ifndef LOGBUS_TOOLS_FILES_H
#define LOGBUS_TOOLS_FILES_H

#include <stddef.h>

/* A whole file, malloc'd and NUL-terminated (its length in *len when len is
 * not NULL), or NULL with errno set. */
char *files_slurp(const char *path, size_t *len);

/* Remove dir and everything below it, links not followed; what cannot be
 * removed is left. */
void files_remove_tree(const char *dir);

#endif
