#include "record_scan.h"

namespace {

// An unsigned varint of at most 3 bytes ending before limit; false for anything else (longer
// varints and truncation are the full decoder's to judge).
inline bool ShortUvarint(const uint8_t* b, int64_t at, int64_t limit, uint32_t* value, int64_t* size) {
  if (at >= limit) return false;
  uint32_t b0 = b[at];
  if (b0 < 0x80) {
    *value = b0;
    *size = 1;
    return true;
  }
  if (at + 1 >= limit) return false;
  uint32_t b1 = b[at + 1];
  if (b1 < 0x80) {
    *value = (b0 & 0x7f) | (b1 << 7);
    *size = 2;
    return true;
  }
  if (at + 2 >= limit) return false;
  uint32_t b2 = b[at + 2];
  if (b2 >= 0x80) return false;
  *value = (b0 & 0x7f) | ((b1 & 0x7f) << 7) | (b2 << 14);
  *size = 3;
  return true;
}

inline int64_t Zigzag(uint32_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

// Reads a zig-zag varint into *out and moves *at past it.
inline bool Field(const uint8_t* b, int64_t* at, int64_t limit, int64_t* out) {
  uint32_t v;
  int64_t n;
  if (!ShortUvarint(b, *at, limit, &v, &n)) return false;
  *at += n;
  *out = Zigzag(v);
  return true;
}

}  // namespace

RecordScan SkipPlainRecords(const uint8_t* b, int64_t p, int64_t end, int64_t i, int64_t count,
                            int64_t minRecordBody, int64_t minHeaderSize) {
  bool headersSeen = false;
  for (; i < count; i++) {
    int64_t q = p;
    int64_t length, timestampDelta, offsetDelta, keyLength, valueLength, headerCount;
    if (!Field(b, &q, end, &length) || length < minRecordBody || length > end - q) break;
    const int64_t recordEnd = q + length;
    q++;  // attributes: every value is accepted
    if (!Field(b, &q, recordEnd, &timestampDelta)) break;
    if (!Field(b, &q, recordEnd, &offsetDelta) || offsetDelta != i) break;
    if (!Field(b, &q, recordEnd, &keyLength) || keyLength < -1 || keyLength > recordEnd - q) break;
    if (keyLength > 0) q += keyLength;
    if (!Field(b, &q, recordEnd, &valueLength) || valueLength < -1 || valueLength > recordEnd - q) break;
    if (valueLength > 0) q += valueLength;
    if (!Field(b, &q, recordEnd, &headerCount) || headerCount < 0 || headerCount * minHeaderSize > recordEnd - q) break;
    int64_t h = 0;
    for (; h < headerCount; h++) {
      int64_t keyLen, valueLen;
      if (!Field(b, &q, recordEnd, &keyLen) || keyLen < 0 || keyLen > recordEnd - q) break;
      q += keyLen;
      if (!Field(b, &q, recordEnd, &valueLen) || valueLen < -1 || valueLen > recordEnd - q) break;
      if (valueLen > 0) q += valueLen;
    }
    if (h != headerCount || q != recordEnd) break;
    if (headerCount > 0) headersSeen = true;
    p = recordEnd;
  }
  return RecordScan{i, p, headersSeen};
}
