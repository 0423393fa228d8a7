/*
 * fault.h: fault points, places where a test build of logbusd can be made
 * to die on purpose (the crash campaign, tests/crash_campaign.c).
 *
 * FAULT_POINT("segment_rotate") marks a moment where a crash is the worst
 * it can be (half-way through a rotation, a retention pass, an error
 * report's replacement).  With the CMake option LOGBUS_FAULT_POINTS (on in
 * the sanitizer build that the test command uses, off otherwise) and
 * LOGBUS_FAULT=NAME:N in logbusd's environment, the Nth time the point
 * NAME is reached logbusd says so on stderr and calls abort().  Without the
 * option FAULT_POINT is nothing at all: no code, no cost, no way to set it
 * off in a release build.
 *
 * The points (each has a test in tests/CMakeLists.txt):
 *   segment_rotate        a new segment made with O_EXCL, before its header
 *   retention             a segment unlinked by retention, before the next
 *   ingest_ack            a batch written to the journal, before its ack
 *   route_rotate          a routed file's backups shifted, before the file
 *                         itself becomes .1
 *   error_report_keep     the report's old .1 removed, before the report
 *                         is linked as the new .1
 *   error_report_replace  the new report written aside and the old one
 *                         linked as .1, before the rename over it
 *
 * The count is the one global of the broker, on purpose: a fault point is
 * reached from deep inside modules that have no business carrying test
 * state, and only the loop's thread reaches them.
 */
#ifndef LOGBUS_FAULT_H
#define LOGBUS_FAULT_H

#ifdef LOGBUS_FAULT_POINTS
/* abort() if LOGBUS_FAULT names this point and this is its Nth time. */
void fault_point(const char *name);
#define FAULT_POINT(name) fault_point(name)
#else
#define FAULT_POINT(name) ((void)0)
#endif

#endif
