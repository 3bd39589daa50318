/* CRC32C (Castagnoli), the integrity check on every stored record.
 *
 * The SSE4.2 crc32 instruction is used when the CPU has it, chosen once;
 * otherwise a table-driven portable path gives the same results. The CRC
 * covers non-secret ciphertext and headers, so the table's data-dependent
 * memory access is acceptable here. */
#ifndef TV_STORE_CRC32C_H
#define TV_STORE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* tv_crc32c_extend returns the CRC32C of the bytes already summarised in
 * |crc| followed by |len| bytes at |data|. Start with |crc| = 0.
 * |data| may be NULL when |len| is zero. */
uint32_t tv_crc32c_extend(uint32_t crc, const void *data, size_t len);

/* tv_crc32c_portable is the table path, exposed so tests can compare both
 * implementations on the same inputs. */
uint32_t tv_crc32c_portable(uint32_t crc, const void *data, size_t len);

/* tv_crc32c_hw_available returns 1 if the SSE4.2 path is in use. */
int tv_crc32c_hw_available(void);

#endif
