/*
 * crc32c.h: CRC-32C (Castagnoli), the checksum of every journal frame.
 * Uses the SSE 4.2 instruction when the CPU has it, a table otherwise; both
 * give the same result (the unit test checks the standard vectors).
 */
#ifndef LOGBUS_CRC32C_H
#define LOGBUS_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC: start with crc = 0; crc32c(crc32c(0, a), b) == crc of a|b. */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

/* The portable implementation, exposed so that tests compare both paths. */
uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len);

#endif
