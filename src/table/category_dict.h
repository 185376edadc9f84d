// Interning of categorical values for the CSV reader (csv.cc): a hash map
// from text to code, codes in order of first appearance. Internal to the
// table module.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "table/table.h"

namespace keel::table::csv_internal {

// Asks for transparent huge pages under a reserved vector's aligned 2 MiB
// blocks, and maps the 4 KiB pages before them (all of them, for a vector
// without such a block) in one call: a page fault costs microseconds on
// virtual machines, and the columns of a big file span hundreds of
// thousands of 4 KiB pages. Advice only: failures are ignored.
template <typename T>
void AdviseHugePages(const std::vector<T>& v) {
#if defined(MADV_HUGEPAGE) && defined(MADV_POPULATE_WRITE)
  constexpr uintptr_t kHuge = uintptr_t{2} << 20, kPage = 4096;
  auto data = reinterpret_cast<uintptr_t>(v.data());
  uintptr_t end = data + v.capacity() * sizeof(T);
  uintptr_t huge_begin = (data + kHuge - 1) & ~(kHuge - 1);
  uintptr_t huge_end = end & ~(kHuge - 1);
  uintptr_t head = data & ~(kPage - 1);
  if (huge_end <= huge_begin) {
    uintptr_t tail = (end + kPage - 1) & ~(kPage - 1);
    ::madvise(reinterpret_cast<void*>(head), tail - head, MADV_POPULATE_WRITE);
    return;
  }
  ::madvise(reinterpret_cast<void*>(huge_begin), huge_end - huge_begin, MADV_HUGEPAGE);
  ::madvise(reinterpret_cast<void*>(head), huge_begin - head, MADV_POPULATE_WRITE);
#else
  (void)v;
#endif
}

inline uint64_t Load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline uint64_t Load32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline uint64_t Mix(uint64_t a, uint64_t b) {
  __uint128_t r = static_cast<__uint128_t>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}

// wyhash's reads and mixing: for texts of up to 16 bytes, two loads and
// one 64x64->128-bit multiply.
inline uint64_t HashText(std::string_view s) {
  constexpr uint64_t k0 = 0xa0761d6478bd642full, k1 = 0xe7037ed1a0b428dbull;
  const char* p = s.data();
  size_t n = s.size();
  uint64_t seed = k0 ^ n, a = 0, b = 0;
  if (n > 16) {
    for (; n > 16; p += 16, n -= 16) seed = Mix(Load64(p) ^ k1, Load64(p + 8) ^ seed);
    a = Load64(p + n - 16);
    b = Load64(p + n - 8);
  } else if (n >= 8) {
    a = Load64(p);
    b = Load64(p + n - 8);
  } else if (n >= 4) {
    a = Load32(p);
    b = Load32(p + n - 4);
  } else if (n > 0) {
    a = (uint64_t{static_cast<unsigned char>(p[0])} << 16) |
        (uint64_t{static_cast<unsigned char>(p[n >> 1])} << 8) |
        static_cast<unsigned char>(p[n - 1]);
  }
  return Mix(a ^ k1, b ^ seed);
}

// Whether the n bytes at a and b are equal; inline loads for short texts.
inline bool SameBytes(const char* a, const char* b, size_t n) {
  if (n >= 8 && n <= 16) {
    return ((Load64(a) ^ Load64(b)) | (Load64(a + n - 8) ^ Load64(b + n - 8))) == 0;
  }
  if (n >= 4 && n < 8) {
    return ((Load32(a) ^ Load32(b)) | (Load32(a + n - 4) ^ Load32(b + n - 4))) == 0;
  }
  return std::memcmp(a, b, n) == 0;
}

// Interns a categorical column's texts: codes in order of first
// appearance. Seeded with the missing values, which intern to kMissingCode,
// so that a field needs one lookup. One per column and thread: not
// thread-safe.
class CategoryDict {
 public:
  explicit CategoryDict(const std::vector<std::string>& missing_values) {
    slots_.assign(16, Slot{});
    for (const std::string& m : missing_values) {
      uint64_t hash = HashText(m);
      size_t i = Find(m, hash);
      if (slots_[i].code == kEmptySlot) Add(m, hash, i, Column::kMissingCode);
    }
  }

  [[gnu::always_inline]] int32_t Intern(std::string_view text) {
    uint64_t hash = HashText(text);
    size_t i = Find(text, hash);
    if (slots_[i].code != kEmptySlot) [[likely]] {
      return slots_[i].code;
    }
    return Add(text, hash, i, static_cast<int32_t>(keys_.size()));
  }

  size_t size() const { return keys_.size(); }

  // Interns `other`'s categories; returns their codes here, by their codes there.
  std::vector<int32_t> Merge(const CategoryDict& other) {
    std::vector<int32_t> codes;
    codes.reserve(other.size());
    for (size_t k = 0; k < other.keys_.size(); ++k) codes.push_back(Intern(other.Key(k)));
    return codes;
  }

  std::vector<std::string> Categories() const {
    std::vector<std::string> out;
    out.reserve(size());
    for (size_t k = 0; k < keys_.size(); ++k) out.emplace_back(Key(k));
    return out;
  }

 private:
  static constexpr int32_t kEmptySlot = std::numeric_limits<int32_t>::min();
  struct Slot {
    uint64_t offset = 0;                                   // of the text in arena_
    uint64_t size = std::numeric_limits<uint64_t>::max();  // no text's, when empty
    uint32_t tag = 0;                                      // the hash's high half
    int32_t code = kEmptySlot;                             // or kMissingCode
  };
  struct KeyRef {
    uint64_t offset;
    uint64_t size;
  };

  std::string_view Key(size_t code) const {
    return {arena_.data() + keys_[code].offset, keys_[code].size};
  }

  // The slot holding `text`, or the empty slot where it goes.
  [[gnu::always_inline]] size_t Find(std::string_view text, uint64_t hash) const {
    auto tag = static_cast<uint32_t>(hash >> 32);
    size_t mask = slots_.size() - 1;
    const char* arena = arena_.data();
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
      const Slot& slot = slots_[i];
      if (slot.tag == tag && slot.size == text.size() &&
          SameBytes(arena + slot.offset, text.data(), text.size())) {
        return i;
      }
      if (slot.code == kEmptySlot) return i;
    }
  }

  [[gnu::noinline]] int32_t Add(std::string_view text, uint64_t hash, size_t i, int32_t code) {
    slots_[i] = Slot{arena_.size(), text.size(), static_cast<uint32_t>(hash >> 32), code};
    if (code != Column::kMissingCode) keys_.push_back(KeyRef{arena_.size(), text.size()});
    arena_.append(text);
    if (++used_ * 2 > slots_.size()) Grow();
    return code;
  }

  void Grow() {
    std::vector<Slot> old;
    old.reserve(slots_.size() * 2);
    AdviseHugePages(old);
    old.resize(slots_.size() * 2);
    old.swap(slots_);  // slots_ twice as many empty slots, old the full ones
    size_t mask = slots_.size() - 1;
    for (const Slot& slot : old) {
      if (slot.code == kEmptySlot) continue;
      uint64_t hash = HashText(std::string_view(arena_.data() + slot.offset, slot.size));
      size_t i = hash & mask;
      while (slots_[i].code != kEmptySlot) i = (i + 1) & mask;
      slots_[i] = slot;
    }
  }

  std::vector<Slot> slots_;
  size_t used_ = 0;           // slots taken
  std::string arena_;         // the texts of the slots, one after the other
  std::vector<KeyRef> keys_;  // the categories' texts in arena_, by code
};

}  // namespace keel::table::csv_internal
