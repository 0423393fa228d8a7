/*
 * test_category.c: the error category table (shared/category.c) on real
 * output: what Python, uvicorn, pip and the kernel leave behind when a
 * process dies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "category.h"

/* The category of a death with this stderr (stdout empty). */
static const char *of(int64_t code, bool core, const char *err)
{
	struct category_in in = {.code = code,
	                         .core = core,
	                         .err = err,
	                         .err_len = err ? strlen(err) : 0};
	return category_of(&in);
}

static const char module_not_found[] =
    "Traceback (most recent call last):\n"
    "  File \"/srv/app/main.py\", line 3, in <module>\n"
    "    import fastapi\n"
    "ModuleNotFoundError: No module named 'fastapi'\n";

static void test_missing_module_is_dependency(void **state)
{
	(void)state;
	assert_string_equal(of(1, false, module_not_found), "dependency");
}

static void test_pip_without_a_distribution_is_dependency(void **state)
{
	(void)state;
	assert_string_equal(
	    of(1, false,
	       "ERROR: Could not find a version that satisfies the "
	       "requirement fastapi==99.0 (from versions: none)\n"
	       "ERROR: No matching distribution found for fastapi==99.0\n"),
	    "dependency");
}

static void test_uvicorn_address_in_use_is_port(void **state)
{
	(void)state;
	assert_string_equal(of(1, false,
	                       "INFO:     Started server process [4242]\n"
	                       "INFO:     Waiting for application startup.\n"
	                       "INFO:     Application startup complete.\n"
	                       "ERROR:    [Errno 98] Address already in use\n"
	                       "INFO:     Waiting for application shutdown.\n"
	                       "INFO:     Application shutdown complete.\n"),
	                    "port");
}

static void test_bind_traceback_is_port(void **state)
{
	(void)state;
	assert_string_equal(of(1, false,
	                       "Traceback (most recent call last):\n"
	                       "  File \"srv.py\", line 4, in <module>\n"
	                       "    s.bind((\"127.0.0.1\", 8001))\n"
	                       "OSError: [Errno 98] Address already in use\n"),
	                    "port");
}

static void test_permission_error_is_permission(void **state)
{
	(void)state;
	assert_string_equal(of(1, false,
	                       "Traceback (most recent call last):\n"
	                       "  File \"main.py\", line 1, in <module>\n"
	                       "    open('/etc/shadow')\n"
	                       "PermissionError: [Errno 13] Permission denied: "
	                       "'/etc/shadow'\n"),
	                    "permission");
	assert_string_equal(
	    of(2, false, "sh: 1: ./run.sh: Permission denied\n"), "permission");
}

static void test_memory_error_is_memory(void **state)
{
	(void)state;
	assert_string_equal(of(1, false,
	                       "Traceback (most recent call last):\n"
	                       "  File \"<string>\", line 1, in <module>\n"
	                       "MemoryError\n"),
	                    "memory");
}

static void test_sigkill_is_memory_only_when_the_oom_killer_did_it(void **state)
{
	(void)state;
	struct category_in in = {.code = -9, .oom_killed = true};
	assert_string_equal(category_of(&in), "memory");
	assert_string_equal(of(-9, false, ""), "signal");
	/* without the counter, SIGKILL and MemoryError text */
	assert_string_equal(of(-9, false, "MemoryError\n"), "memory");
	/* the OOM killer sends SIGKILL only */
	in.code = -15;
	assert_string_equal(category_of(&in), "signal");
}

static void test_sigsegv_with_core_is_crash(void **state)
{
	(void)state;
	assert_string_equal(of(-11, true, ""), "crash");
	assert_string_equal(of(-11, false, ""), "crash");
	assert_string_equal(of(-6, false, "double free or corruption\n"),
	                    "crash");
	assert_string_equal(of(-7, false, ""), "crash");
	/* a core is a crash whatever the signal was */
	assert_string_equal(of(-3, true, ""), "crash");
}

static void test_sigterm_is_signal(void **state)
{
	(void)state;
	assert_string_equal(of(-15, false, "err\n"), "signal");
	/* text does not name a death by signal */
	assert_string_equal(of(-15, false, module_not_found), "signal");
}

static void test_killed_at_its_time_limit_is_timeout(void **state)
{
	(void)state;
	struct category_in in = {.code = -15, .timed_out = true};
	assert_string_equal(category_of(&in), "timeout");
	in.code = -9; /* it would not stop: killed */
	in.oom_killed = true;
	assert_string_equal(category_of(&in), "timeout");
	in.code = 0; /* it ended on SIGTERM, cleanly, but late */
	assert_string_equal(category_of(&in), "timeout");
}

static void test_timeout_error_at_the_end_is_timeout(void **state)
{
	(void)state;
	assert_string_equal(of(1, false,
	                       "Traceback (most recent call last):\n"
	                       "  File \"main.py\", line 9, in <module>\n"
	                       "    asyncio.run(main())\n"
	                       "TimeoutError\n"),
	                    "timeout");
	/* only at the end: a TimeoutError handled earlier is not it */
	assert_string_equal(of(1, false, "retrying after TimeoutError\n"),
	                    "exit");
}

static void test_config_rules_are_narrow(void **state)
{
	(void)state;
	assert_string_equal(
	    of(1, false,
	       "Traceback (most recent call last):\n"
	       "  File \"app.py\", line 5, in load\n"
	       "    return json.load(f)\n"
	       "json.decoder.JSONDecodeError: Expecting value: line 1 column "
	       "1 (char 0)\n"),
	    "config");
	assert_string_equal(
	    of(1, false,
	       "Traceback (most recent call last):\n"
	       "  File \"app.py\", line 5, in load\n"
	       "yaml.scanner.ScannerError: mapping values are not allowed "
	       "here\n"),
	    "config");
	assert_string_equal(
	    of(1, false,
	       "Traceback (most recent call last):\n"
	       "  File \"app.py\", line 8, in <module>\n"
	       "    port = settings['port']\n"
	       "KeyError: \"missing key 'port' in config.toml\"\n"),
	    "config");
	/* a KeyError that says nothing of configuration is just an exit */
	assert_string_equal(of(1, false,
	                       "Traceback (most recent call last):\n"
	                       "  File \"app.py\", line 8, in <module>\n"
	                       "KeyError: 'user_id'\n"),
	                    "exit");
	/* "config" earlier in the output is not enough */
	assert_string_equal(of(1, false, "loading config.yaml\nboom\n"),
	                    "exit");
}

static void test_the_last_traceback_beats_earlier_text(void **state)
{
	(void)state;
	/* an optional import failed and was handled; the bind killed it */
	assert_string_equal(
	    of(1, false,
	       "Traceback (most recent call last):\n"
	       "  File \"app.py\", line 2, in <module>\n"
	       "ModuleNotFoundError: No module named 'ujson'\n"
	       "falling back to json\n"
	       "Traceback (most recent call last):\n"
	       "  File \"app.py\", line 30, in <module>\n"
	       "    s.bind(addr)\n"
	       "PermissionError: [Errno 13] Permission denied\n"),
	    "permission");
	/* the bind's OSError names the port on its last line */
	assert_string_equal(of(1, false,
	                       "warning: ImportError in plugin foo, skipped\n"
	                       "Traceback (most recent call last):\n"
	                       "  File \"app.py\", line 30, in <module>\n"
	                       "OSError: [Errno 98] Address already in use\n"),
	                    "port");
}

static void test_exit_1_with_nothing_recognisable_is_exit(void **state)
{
	(void)state;
	assert_string_equal(of(1, false, "something went wrong\n"), "exit");
	assert_string_equal(of(3, false, NULL), "exit");
	/* 128 + N from a shell is an exit status, not a signal */
	assert_string_equal(of(139, false, ""), "exit");
}

static void test_exit_0_has_no_category(void **state)
{
	(void)state;
	assert_null(of(0, false, module_not_found));
}

static void test_stdout_is_read_too(void **state)
{
	(void)state;
	struct category_in in = {.code = 1,
	                         .out = module_not_found,
	                         .out_len = strlen(module_not_found)};
	assert_string_equal(category_of(&in), "dependency");
}

static void test_every_name_is_known_and_listed(void **state)
{
	(void)state;
	static const char *const all[] = {"dependency", "port",    "permission",
	                                  "memory",     "timeout", "config",
	                                  "crash",      "signal",  "exit"};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		assert_string_equal(category_name(all[i], strlen(all[i])),
		                    all[i]);
		assert_true(strlen(all[i]) < CATEGORY_NAME_MAX);
		assert_non_null(strstr(category_names(), all[i]));
	}
	assert_null(category_name("none", 4));
	assert_null(category_name("por", 3));
	assert_null(category_name("porta", 5));
	assert_null(category_name("", 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_missing_module_is_dependency),
	    cmocka_unit_test(test_pip_without_a_distribution_is_dependency),
	    cmocka_unit_test(test_uvicorn_address_in_use_is_port),
	    cmocka_unit_test(test_bind_traceback_is_port),
	    cmocka_unit_test(test_permission_error_is_permission),
	    cmocka_unit_test(test_memory_error_is_memory),
	    cmocka_unit_test(
	        test_sigkill_is_memory_only_when_the_oom_killer_did_it),
	    cmocka_unit_test(test_sigsegv_with_core_is_crash),
	    cmocka_unit_test(test_sigterm_is_signal),
	    cmocka_unit_test(test_killed_at_its_time_limit_is_timeout),
	    cmocka_unit_test(test_timeout_error_at_the_end_is_timeout),
	    cmocka_unit_test(test_config_rules_are_narrow),
	    cmocka_unit_test(test_the_last_traceback_beats_earlier_text),
	    cmocka_unit_test(test_exit_1_with_nothing_recognisable_is_exit),
	    cmocka_unit_test(test_exit_0_has_no_category),
	    cmocka_unit_test(test_stdout_is_read_too),
	    cmocka_unit_test(test_every_name_is_known_and_listed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
