// The produce path's validating record walk (RecordCursor.skipSequential in
// src/protocol/records/record-cursor.ts), for batches without a per-record visitor.
#pragma once

#include <stddef.h>
#include <stdint.h>

struct RecordScan {
  // Records walked past (the index of the first one not vouched for) and where it starts.
  int64_t index;
  int64_t pos;
  bool headersSeen;
};

// Walks records index..count-1 of buf[pos, end) for as long as each is plainly well formed:
// every varint at most 3 bytes, every field inside its record, offsetDelta equal to its index,
// lengths not under minRecordBody (a record's body) and minHeaderSize (per header). Stops before
// the first record it cannot vouch for; the caller's full decoder then accepts or refuses it.
RecordScan SkipPlainRecords(const uint8_t* buf, int64_t pos, int64_t end, int64_t index, int64_t count,
                            int64_t minRecordBody, int64_t minHeaderSize);
