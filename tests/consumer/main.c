/* Uses the installed header and library: prints a level name. */
#include <stdio.h>

#include <logbus/logbus.h>

int main(void)
{
	char buf[16];
	printf("%s %s\n", LOGBUS_VERSION_STRING,
	       logbus_level_name(logbus_level_parse("warn"), buf, sizeof buf));
	return logbus_service_valid("../x") == LOGBUS_EINVAL ? 0 : 1;
}
