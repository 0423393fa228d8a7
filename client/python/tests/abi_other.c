/*
 * abi_other.c: a liblogbus that is not the binding's, for test_abi.py: its
 * ABI version is $LOGBUS_ABI_OTHER_VERSION (default LOGBUS_ABI_VERSION)
 * and every struct is 8 bytes larger than in logbus.h, as a library built
 * from another logbus.h would say.
 */
#include <stdlib.h>

#include <logbus/logbus.h>

LOGBUS_API const char *logbus_version(void)
{
	return "9.9.9";
}

LOGBUS_API int logbus_abi_version(void)
{
	const char *v = getenv("LOGBUS_ABI_OTHER_VERSION");

	return v ? atoi(v) : LOGBUS_ABI_VERSION;
}

LOGBUS_API size_t logbus_abi_size(const char *name)
{
	(void)name;
	return sizeof(logbus_entry) + 8;
}
