// CRC32C (Castagnoli) by the SSE4.2 crc32 instruction, three streams at a time, for the record
// batch checksum on the produce path (src/protocol/records/crc32c.ts).
#pragma once

#include <stddef.h>
#include <stdint.h>

// Whether this CPU has the instruction; Crc32c must not be called where it has not.
bool Crc32cSupported();

// The CRC32C of buf[0, len) continuing from `crc` (0 to start), pre- and post-inverted as usual.
uint32_t Crc32c(uint32_t crc, const uint8_t* buf, size_t len);
