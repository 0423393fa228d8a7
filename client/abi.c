/*
 * abi.c: what a binding without a compiler (Python's ctypes) checks before
 * it lays out a struct of ours: the library's version, its ABI version and
 * the size of each public struct.
 *
 * Invariant: every public struct of logbus.h is in the table, under its
 * typedef name, so a binding can ask about any struct it mirrors; a name
 * the table does not have is 0, which no struct's size is.
 */
#include <string.h>

#include "logbus/logbus.h"

#define ABI_STRUCT(t)                                                          \
	{                                                                      \
#t, sizeof(t)                                                  \
	}

static const struct {
	const char *name;
	size_t size;
} abi_structs[] = {
    ABI_STRUCT(logbus_field),         ABI_STRUCT(logbus_publisher_options),
    ABI_STRUCT(logbus_entry),         ABI_STRUCT(logbus_publisher_stats),
    ABI_STRUCT(logbus_exit),          ABI_STRUCT(logbus_record),
    ABI_STRUCT(logbus_filter),        ABI_STRUCT(logbus_reader_options),
    ABI_STRUCT(logbus_report_info),   ABI_STRUCT(logbus_stats),
    ABI_STRUCT(logbus_service_info),  ABI_STRUCT(logbus_vacuumed),
    ABI_STRUCT(logbus_vacuum_result),
};

LOGBUS_API const char *logbus_version(void)
{
	return LOGBUS_VERSION_STRING;
}

LOGBUS_API int logbus_abi_version(void)
{
	return LOGBUS_ABI_VERSION;
}

LOGBUS_API size_t logbus_abi_size(const char *name)
{
	if (name == NULL)
		return 0;
	for (size_t i = 0; i < sizeof abi_structs / sizeof abi_structs[0]; i++)
		if (strcmp(abi_structs[i].name, name) == 0)
			return abi_structs[i].size;
	return 0;
}
