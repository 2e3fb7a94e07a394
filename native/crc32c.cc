#include "crc32c.h"

#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>

namespace {

// One crc32 instruction takes 3 cycles but a new one can start every cycle: three independent
// streams keep it busy. Each stream covers a lane of LONG (then SHORT) bytes; the lanes' CRCs
// are joined by shifting the earlier ones over the bytes that follow them.
constexpr size_t LONG = 8192;
constexpr size_t SHORT = 256;

// Shifting a raw CRC register over n zero bytes is linear in its 32 bits: four tables, one per
// register byte, give the shift of each byte value, and XOR joins them.
struct Shift {
  uint32_t table[4][256];
};

__attribute__((target("sse4.2"))) uint32_t OverZeros(uint32_t reg, size_t n) {
  uint64_t r = reg;
  for (size_t i = 0; i < n / 8; i++) r = _mm_crc32_u64(r, 0);
  return static_cast<uint32_t>(r);
}

__attribute__((target("sse4.2"))) void BuildShift(Shift* s, size_t n) {
  for (int k = 0; k < 4; k++)
    for (uint32_t v = 0; v < 256; v++) s->table[k][v] = OverZeros(v << (8 * k), n);
}

inline uint32_t Apply(const Shift& s, uint32_t reg) {
  return s.table[0][reg & 0xff] ^ s.table[1][(reg >> 8) & 0xff] ^ s.table[2][(reg >> 16) & 0xff] ^ s.table[3][reg >> 24];
}

struct Shifts {
  Shift overLong;
  Shift overShort;
  Shifts() {
    if (!__builtin_cpu_supports("sse4.2")) return;
    BuildShift(&overLong, LONG);
    BuildShift(&overShort, SHORT);
  }
};

const Shifts& TheShifts() {
  static const Shifts shifts;
  return shifts;
}

inline uint64_t Load64(const uint8_t* p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

// Three lanes of `lane` bytes each from *p onwards, for as long as *len holds them.
__attribute__((target("sse4.2"))) inline uint64_t Lanes(uint64_t reg, const uint8_t** p, size_t* len, size_t lane, const Shift& shift) {
  while (*len >= 3 * lane) {
    const uint8_t* a = *p;
    uint64_t r0 = reg, r1 = 0, r2 = 0;
    for (size_t i = 0; i < lane; i += 8) {
      r0 = _mm_crc32_u64(r0, Load64(a + i));
      r1 = _mm_crc32_u64(r1, Load64(a + lane + i));
      r2 = _mm_crc32_u64(r2, Load64(a + 2 * lane + i));
    }
    reg = Apply(shift, static_cast<uint32_t>(r0)) ^ r1;
    reg = Apply(shift, static_cast<uint32_t>(reg)) ^ r2;
    *p += 3 * lane;
    *len -= 3 * lane;
  }
  return reg;
}

}  // namespace

bool Crc32cSupported() { return __builtin_cpu_supports("sse4.2"); }

__attribute__((target("sse4.2"))) uint32_t Crc32c(uint32_t crc, const uint8_t* p, size_t len) {
  const Shifts& shifts = TheShifts();
  uint64_t reg = ~crc;
  for (; len > 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0; len--) reg = _mm_crc32_u8(static_cast<uint32_t>(reg), *p++);
  reg = Lanes(reg, &p, &len, LONG, shifts.overLong);
  reg = Lanes(reg, &p, &len, SHORT, shifts.overShort);
  for (; len >= 8; len -= 8, p += 8) reg = _mm_crc32_u64(reg, Load64(p));
  for (; len > 0; len--) reg = _mm_crc32_u8(static_cast<uint32_t>(reg), *p++);
  return ~static_cast<uint32_t>(reg);
}

#else

bool Crc32cSupported() { return false; }

uint32_t Crc32c(uint32_t crc, const uint8_t*, size_t) { return crc; }

#endif
