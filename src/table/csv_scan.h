// The byte-level pieces of the CSV reader (csv.cc): numbers, the ends of
// fields and lines, quoted fields. Internal to the table module: the
// syntax they implement is specified in csv.h.
#pragma once

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <system_error>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace keel::table::csv_internal {

// ---------------------------------------------------------------- numbers

inline bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// Everything but plain integers: pandas' syntax (surrounding white space, a
// leading '+', "inf"/"nan" in any case; a value beyond double's range is
// text, an underflow is 0).
inline bool ParseNumberSlow(std::string_view s, float* out) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  if (!s.empty() && s.front() == '+') {
    s.remove_prefix(1);
    if (!s.empty() && s.front() == '-') return false;
  }
  if (s.empty()) return false;
  double value = 0;
  const char* end = s.data() + s.size();
  auto [stop, ec] = std::from_chars(s.data(), end, value);
  if (stop != end) return false;
  if (ec == std::errc::result_out_of_range) {
    // from_chars leaves the value unset: strtod tells overflow from underflow.
    value = std::strtod(std::string(s).c_str(), nullptr);
    if (std::isinf(value)) return false;
  } else if (ec != std::errc()) {
    return false;
  }
  if (std::isnan(value) && s.back() == ')') return false;  // "nan(...)" is text to pandas
  *out = static_cast<float>(value);
  return true;
}

// Parses `s` as a double rounded to float. Integers of up to 19 digits are
// exact in uint64_t, and their conversion to double rounds correctly, as
// strtod does.
inline bool ParseNumber(std::string_view s, float* out) {
  const char* p = s.data();
  const char* end = p + s.size();
  bool negative = p != end && *p == '-';
  p += negative;
  if (static_cast<size_t>(end - p) - 1 >= 19) return ParseNumberSlow(s, out);
  uint64_t v = 0;
  for (; p != end; ++p) {
    unsigned digit = static_cast<unsigned char>(*p) - unsigned{'0'};
    if (digit > 9) return ParseNumberSlow(s, out);
    v = v * 10 + digit;
  }
  double d = static_cast<double>(v);
  *out = static_cast<float>(negative ? -d : d);
  return true;
}

// ---------------------------------------------------------------- fields

inline bool AtLineEnd(const char* p, const char* end) {
  return p == end || *p == '\n' || (*p == '\r' && p + 1 != end && p[1] == '\n');
}

// Finds where unquoted fields end, 16 bytes at a time.
class FieldScanner {
 public:
  FieldScanner(const char* end, char delimiter) : end_(end), delimiter_(delimiter) {
#if defined(__SSE2__)
    delimiters_ = _mm_set1_epi8(delimiter);
    lfs_ = _mm_set1_epi8('\n');
    crs_ = _mm_set1_epi8('\r');
#endif
  }

  // The end of the unquoted field at p: its delimiter, line end or the end
  // of the text. A lone '\r' is text.
  [[gnu::always_inline]] const char* FieldEnd(const char* p) const {
    for (;;) {
      p = FindSpecial(p);
      if (p == end_ || *p != '\r' || AtLineEnd(p, end_)) return p;
      ++p;
    }
  }

 private:
  // The first delimiter, '\n' or '\r' at or after p, or end_.
  [[gnu::always_inline]] const char* FindSpecial(const char* p) const {
#if defined(__SSE2__)
    for (; end_ - p >= 16; p += 16) {
      __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      __m128i hit =
          _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, delimiters_), _mm_cmpeq_epi8(x, lfs_)),
                       _mm_cmpeq_epi8(x, crs_));
      unsigned bits = static_cast<unsigned>(_mm_movemask_epi8(hit));
      if (bits != 0) return p + __builtin_ctz(bits);
    }
#endif
    while (p != end_ && *p != delimiter_ && *p != '\n' && *p != '\r') ++p;
    return p;
  }

  const char* end_;
  char delimiter_;
#if defined(__SSE2__)
  __m128i delimiters_, lfs_, crs_;
#endif
};

// Finds the separators (delimiters and '\n's) of a text without quotes, 64
// bytes at a time: a bit per byte, each field then costs a count of
// trailing zeros.
class SeparatorScanner {
 public:
  SeparatorScanner(const char* begin, const char* end, char delimiter)
      : block_(begin), end_(end), delimiter_(delimiter), bits_(Mask(begin)) {}

  // The next separator, or end once there is none.
  [[gnu::always_inline]] const char* Next() {
    while (bits_ == 0) {
      if (end_ - block_ <= 64) return end_;
      block_ += 64;
      bits_ = Mask(block_);
    }
    const char* separator = block_ + __builtin_ctzll(bits_);
    bits_ &= bits_ - 1;
    return separator;
  }

 private:
  uint64_t Mask(const char* p) const {
    if (end_ - p >= 64) return Mask64(p);
    char tail[64] = {};
    auto size = static_cast<size_t>(end_ - p);
    std::memcpy(tail, p, size);
    return Mask64(tail) & ((uint64_t{1} << size) - 1);
  }

  uint64_t Mask64(const char* p) const {
    uint64_t mask = 0;
#if defined(__SSE2__)
    const __m128i d = _mm_set1_epi8(delimiter_), lf = _mm_set1_epi8('\n');
    for (int i = 0; i < 4; ++i) {
      __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * i));
      __m128i hit = _mm_or_si128(_mm_cmpeq_epi8(x, d), _mm_cmpeq_epi8(x, lf));
      mask |= uint64_t{static_cast<uint16_t>(_mm_movemask_epi8(hit))} << (16 * i);
    }
#else
    for (int i = 0; i < 64; ++i) mask |= uint64_t{p[i] == delimiter_ || p[i] == '\n'} << i;
#endif
    return mask;
  }

  const char* block_;  // bits_ are of [block_, block_ + 64)
  const char* end_;
  char delimiter_;
  uint64_t bits_;  // the separators in the block not returned yet
};

enum class FieldError { kNone, kUnterminatedQuote, kTextAfterQuote };

// ReadField's quoted case: *p is at the opening quote.
[[gnu::noinline]] inline FieldError ReadQuotedField(const char** p, const char* end, char delimiter,
                                                    std::string* scratch, std::string_view* text) {
  const char* open = *p;
  const char* from = open + 1;
  bool doubled = false;
  for (;;) {
    auto* quote = static_cast<const char*>(std::memchr(from, '"', end - from));
    if (quote == nullptr) return FieldError::kUnterminatedQuote;
    if (quote + 1 == end || quote[1] != '"') {
      *text = std::string_view(open + 1, quote - open - 1);
      *p = quote + 1;
      break;
    }
    doubled = true;
    from = quote + 2;
  }
  if (doubled) {
    scratch->clear();
    for (size_t i = 0; i < text->size(); ++i) {
      scratch->push_back((*text)[i]);
      if ((*text)[i] == '"') ++i;
    }
    *text = *scratch;
  }
  if (*p != end && **p != delimiter && !AtLineEnd(*p, end)) return FieldError::kTextAfterQuote;
  return FieldError::kNone;
}

// Reads the field at *p: sets *text (unescaped into *scratch when it holds
// doubled quotes) and moves *p to its delimiter or line end. On an error,
// *p is where it is: the opening quote, or the byte after the closing one.
[[gnu::always_inline]] inline FieldError ReadField(const char** p, const char* end, char delimiter,
                                                   std::string* scratch, std::string_view* text) {
  const char* open = *p;
  if (open != end && *open == '"') [[unlikely]] {
    return ReadQuotedField(p, end, delimiter, scratch, text);
  }
  *p = FieldScanner(end, delimiter).FieldEnd(open);
  *text = std::string_view(open, *p - open);
  return FieldError::kNone;
}

// Moves p past the line end it is at (REQUIRES: AtLineEnd(p, end)).
inline const char* SkipLineEnd(const char* p, const char* end) {
  if (p == end) return p;
  return p + (*p == '\r' ? 2 : 1);
}

// The '\n's in [p, end), and whether a '"' is among the bytes.
struct LineCount {
  size_t lines = 0;
  bool quotes = false;
};

inline LineCount CountLines(const char* p, const char* end) {
  LineCount count;
#if defined(__SSE2__)
  const __m128i lf = _mm_set1_epi8('\n'), quote = _mm_set1_epi8('"'), zero = _mm_setzero_si128();
  __m128i quotes = zero;
  while (end - p >= 16) {
    // Byte counters of '\n's, summed before they can overflow.
    __m128i lines = zero;
    for (int k = 0; k < 255 && end - p >= 16; ++k, p += 16) {
      __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      lines = _mm_sub_epi8(lines, _mm_cmpeq_epi8(x, lf));
      quotes = _mm_or_si128(quotes, _mm_cmpeq_epi8(x, quote));
    }
    __m128i sums = _mm_sad_epu8(lines, zero);
    count.lines += static_cast<size_t>(_mm_cvtsi128_si32(sums)) +
                   static_cast<size_t>(_mm_cvtsi128_si32(_mm_srli_si128(sums, 8)));
  }
  count.quotes = _mm_movemask_epi8(quotes) != 0;
#endif
  for (; p != end; ++p) {
    count.lines += *p == '\n';
    count.quotes |= *p == '"';
  }
  return count;
}

}  // namespace keel::table::csv_internal
