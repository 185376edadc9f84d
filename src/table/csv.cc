#include "table/csv.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <system_error>
#include <thread>
#include <utility>

#include "core/parallel.h"
#include "table/category_dict.h"
#include "table/csv_scan.h"

namespace keel::table {
namespace {

using csv_internal::AdviseHugePages;
using csv_internal::AtLineEnd;
using csv_internal::CategoryDict;
using csv_internal::CountLines;
using csv_internal::FieldError;
using csv_internal::FieldScanner;
using csv_internal::LineCount;
using csv_internal::ParseNumber;
using csv_internal::ReadField;
using csv_internal::ReadQuotedField;
using csv_internal::SeparatorScanner;
using csv_internal::SkipLineEnd;

constexpr std::string_view kBom = "\xEF\xBB\xBF";
constexpr float kMissingNumber = std::numeric_limits<float>::quiet_NaN();
// Inputs smaller than this per thread are parsed on one thread.
constexpr size_t kMinChunkBytes = size_t{1} << 20;
constexpr unsigned kMaxThreads = 8;

// ---------------------------------------------------------------- errors

// "file:line:field: message", the line counted from the byte offset.
Status ErrorAt(std::string_view file, std::string_view text, size_t offset, size_t field,
               std::string_view message) {
  size_t line = 1 + std::count(text.begin(), text.begin() + offset, '\n');
  std::string out = std::string(file) + ":" + std::to_string(line);
  if (field > 0) out += ":" + std::to_string(field);
  return InvalidArgumentError(out + ": " + std::string(message));
}

// A field's text for a message: at most 40 bytes, control bytes escaped.
std::string Quoted(std::string_view text) {
  constexpr size_t kMax = 40;
  std::string out = "'";
  for (size_t i = 0; i < text.size() && i < kMax; ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != 0x7f) {
      out += static_cast<char>(c);
    } else {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    }
  }
  return out + (text.size() > kMax ? "'..." : "'");
}

std::string FieldErrorMessage(FieldError error, const char* at, const char* end) {
  if (error == FieldError::kUnterminatedQuote) return "unterminated quoted field";
  return "a closing quote is followed by " + Quoted(std::string_view(at, at == end ? 0 : 1)) +
         ", not by a delimiter or a line end";
}

// ---------------------------------------------------------------- parsing

enum class Plan : uint8_t { kNumber, kInferredNumber, kCategory };

// What every chunk of a parse shares, read-only.
struct Schema {
  std::string_view file;
  std::string_view text;  // the whole input, for offsets and line numbers
  const char* data_end;   // text without its trailing line breaks
  char delimiter;
  std::vector<std::string> names;
  std::vector<Plan> plans;
  std::vector<std::string> missing;  // distinct
  bool missing_parses = false;       // a missing value reads as a non-NaN number

  bool IsMissing(std::string_view s) const {
    for (const std::string& m : missing) {
      if (m == s) return true;
    }
    return false;
  }

  // A numeric field: its number, NaN when missing; false when neither.
  bool NumberOrMissing(std::string_view s, float* out) const {
    if (missing_parses && IsMissing(s)) {
      *out = kMissingNumber;
      return true;
    }
    if (ParseNumber(s, out)) return true;
    *out = kMissingNumber;
    return IsMissing(s);
  }
};

struct ColumnBuilder {
  explicit ColumnBuilder(const Schema& schema, size_t column)
      : plan(schema.plans[column]), dict(schema.missing) {}

  Plan plan;
  std::vector<float> numbers;
  std::vector<int32_t> codes;
  CategoryDict dict;
};

// Why a chunk stopped before its limit.
struct Stop {
  enum class Kind { kNone, kCancelled, kNotNumeric, kError } kind = Kind::kNone;
  Status error;                     // kError
  std::vector<size_t> not_numeric;  // kNotNumeric: inferred columns that met a non-number
};

// Parses rows of a chunk of the input into columns.
class ChunkParser {
 public:
  // Parses into columns of its own, which reserve `reserve_rows` rows once
  // the first kFirstBatch are read (a column found categorical restarts the
  // parse early). The parser is chunk `index` of a parse: it stops
  // (kCancelled) once *first_stop, the first chunk that stopped, is before
  // it.
  ChunkParser(const Schema& schema, size_t reserve_rows, size_t index,
              const std::atomic<size_t>* first_stop)
      : schema_(schema),
        scanner_(schema.data_end, schema.delimiter),
        index_(index),
        first_stop_(first_stop),
        reserve_rows_(reserve_rows) {
    columns_.reserve(schema.names.size());
    for (size_t c = 0; c < schema.names.size(); ++c) {
      ColumnBuilder& column = columns_.emplace_back(schema, c);
      outs_.push_back(Out{nullptr, nullptr, column.plan, &column.dict});
    }
  }

  // Parses at most `rows` rows into `table`'s columns, sized already and
  // typed as the plans say, from row `first_row` on.
  ChunkParser(const Schema& schema, Table* table, size_t first_row, size_t rows, size_t index,
              const std::atomic<size_t>* first_stop)
      : ChunkParser(schema, 0, index, first_stop) {
    for (size_t c = 0; c < outs_.size(); ++c) {
      if (outs_[c].plan == Plan::kCategory) {
        outs_[c].codes = table->columns[c].codes.data() + first_row;
      } else {
        outs_[c].numbers = table->columns[c].numbers.data() + first_row;
      }
    }
    sized_rows_ = rows;
  }

  // Parses the rows starting at `begin` (a row start) until the first row
  // start at or after `limit`, and returns that offset; stops earlier when
  // stop().kind is set.
  size_t ParseRows(size_t begin, size_t limit) {
    const char* p = schema_.text.data() + begin;
    const char* stop_at = schema_.text.data() + limit;
    while (p < stop_at && NextRowFits()) {
      if (!ParseRow(&p)) break;
    }
    return static_cast<size_t>(p - schema_.text.data());
  }

  // ParseRows for a text known to hold no '"'.
  size_t ParseRowsWithoutQuotes(size_t begin, size_t limit) {
    const char* p = schema_.text.data() + begin;
    const char* stop_at = schema_.text.data() + limit;
    SeparatorScanner separators(p, schema_.data_end, schema_.delimiter);
    while (p < stop_at && NextRowFits()) {
      if (!ParseRowWithoutQuotes(&separators, &p)) break;
    }
    return static_cast<size_t>(p - schema_.text.data());
  }

  // Appends the rows of `next`, the chunk that follows this one.
  void Append(ChunkParser&& next) {
    Finish();
    next.Finish();
    for (size_t c = 0; c < columns_.size(); ++c) {
      ColumnBuilder& to = columns_[c];
      ColumnBuilder& from = next.columns_[c];
      if (to.plan != Plan::kCategory) {
        to.numbers.insert(to.numbers.end(), from.numbers.begin(), from.numbers.end());
        continue;
      }
      std::vector<int32_t> remap = to.dict.Merge(from.dict);
      size_t base = to.codes.size();
      to.codes.resize(base + from.codes.size());
      int32_t* out = to.codes.data() + base;
      for (int32_t code : from.codes) *out++ = code < 0 ? code : remap[code];
    }
    rows_ += next.rows_;
    batch_end_ = rows_;
  }

  const Stop& stop() const { return stop_; }
  Stop& stop() { return stop_; }
  CategoryDict& dict(size_t column) { return columns_[column].dict; }

  Table TakeTable() && {
    Finish();
    Table table;
    table.rows = rows_;
    for (size_t c = 0; c < columns_.size(); ++c) {
      Column& column = table.columns.emplace_back();
      column.name = schema_.names[c];
      if (columns_[c].plan == Plan::kCategory) {
        column.type = ColumnType::kCategorical;
        column.codes = std::move(columns_[c].codes);
        column.categories = columns_[c].dict.Categories();
      } else {
        column.numbers = std::move(columns_[c].numbers);
      }
    }
    return table;
  }

 private:
  // Rows are written through raw pointers into vectors grown a batch at a
  // time: no capacity check per value, and the zeroing of a batch brings
  // its lines into the cache in bulk.
  static constexpr size_t kFirstBatch = 1024;
  static constexpr size_t kBatch = 4096;

  // Where column c's next value goes, and what it needs on the hot path.
  struct Out {
    float* numbers;
    int32_t* codes;
    Plan plan;
    CategoryDict* dict;
  };

  void NextBatch() {
    if (sized_rows_ != kNotSized) {
      // Only the cancellation check: the rows were counted.
      if (rows_ == sized_rows_) Fail(nullptr, 0, "more rows than lines");
      batch_end_ = std::min(rows_ + kBatch, sized_rows_);
      return;
    }
    size_t rows = rows_ + (rows_ == 0 ? kFirstBatch : kBatch);
    for (size_t c = 0; c < columns_.size(); ++c) {
      if (outs_[c].plan == Plan::kCategory) {
        outs_[c].codes = Extend(&columns_[c].codes, rows);
      } else {
        outs_[c].numbers = Extend(&columns_[c].numbers, rows);
      }
    }
    batch_end_ = rows;
  }

  // Grows *v to `rows` values; returns where row rows_ goes.
  template <typename T>
  T* Extend(std::vector<T>* v, size_t rows) {
    if (v->capacity() < rows) {
      v->reserve(rows_ == 0 ? rows : std::max({rows, reserve_rows_, 2 * v->capacity()}));
      AdviseHugePages(*v);
    }
    v->resize(rows);
    return v->data() + rows_;
  }

  // Trims the columns to the rows read (a stopped row leaves values past them).
  void Finish() {
    for (ColumnBuilder& column : columns_) {
      column.numbers.resize(std::min(column.numbers.size(), rows_));
      column.codes.resize(std::min(column.codes.size(), rows_));
    }
    batch_end_ = rows_;
  }

  // Makes room for one more row; false when the chunk stops first.
  [[gnu::always_inline]] bool NextRowFits() {
    if (rows_ != batch_end_) [[likely]] {
      return true;
    }
    if (first_stop_ != nullptr && first_stop_->load(std::memory_order_relaxed) < index_) {
      stop_.kind = Stop::Kind::kCancelled;
      return false;
    }
    NextBatch();
    return stop_.kind == Stop::Kind::kNone;
  }

  // ParseRow for a text without quotes, its separators found by *separators.
  [[gnu::always_inline]] bool ParseRowWithoutQuotes(SeparatorScanner* separators,
                                                    const char** row) {
    const char* p = *row;
    const char* const end = schema_.data_end;
    Out* const outs = outs_.data();
    const size_t n = outs_.size();
    for (size_t c = 0;; ++c) {
      const char* const field = p;
      p = separators->Next();
      bool line_end = p == end || *p == '\n';
      const char* text_end = line_end && p != field && p[-1] == '\r' ? p - 1 : p;
      if (!Store(outs[c], c, std::string_view(field, text_end - field), field)) return false;
      if (!line_end) {
        if (c + 1 == n) [[unlikely]] {
          return TooManyFields(*row);
        }
        ++p;
        continue;
      }
      if (c + 1 != n) [[unlikely]] {
        return TooFewFields(*row, c + 1);
      }
      *row = p == end ? p : p + 1;
      ++rows_;
      return stop_.kind == Stop::Kind::kNone;
    }
  }

  // Parses the row at *row and moves *row past it; false when it stops the
  // chunk.
  [[gnu::always_inline]] bool ParseRow(const char** row) {
    const char* p = *row;
    const char* const end = schema_.data_end;
    const char delimiter = schema_.delimiter;
    Out* const outs = outs_.data();
    const size_t n = outs_.size();
    for (size_t c = 0;; ++c) {
      const char* const field = p;
      std::string_view text;
      if (p != end && *p == '"') [[unlikely]] {
        FieldError error = ReadQuotedField(&p, end, delimiter, &scratch_, &text);
        if (error != FieldError::kNone) return Fail(p, c + 1, FieldErrorMessage(error, p, end));
      } else {
        p = scanner_.FieldEnd(p);
        text = std::string_view(field, p - field);
      }
      if (!Store(outs[c], c, text, field)) return false;
      if (p != end && *p == delimiter) {
        if (c + 1 == n) [[unlikely]] {
          return TooManyFields(*row);
        }
        ++p;
        continue;
      }
      if (c + 1 != n) [[unlikely]] {
        return TooFewFields(*row, c + 1);
      }
      *row = SkipLineEnd(p, end);
      ++rows_;
      return stop_.kind == Stop::Kind::kNone;
    }
  }

  [[gnu::always_inline]] bool Store(Out& out, size_t c, std::string_view text, const char* field) {
    if (out.plan == Plan::kCategory) {
      *out.codes++ = out.dict->Intern(text);
      return true;
    }
    float value;
    bool ok = schema_.NumberOrMissing(text, &value);
    *out.numbers++ = value;
    if (ok) [[likely]] {
      return true;
    }
    return NotANumber(out, c, text, field);
  }

  [[gnu::noinline]] bool NotANumber(const Out& out, size_t c, std::string_view text,
                                    const char* field) {
    if (out.plan == Plan::kInferredNumber) {
      stop_.kind = Stop::Kind::kNotNumeric;
      stop_.not_numeric.push_back(c);
      return true;
    }
    return Fail(field, c + 1,
                "column '" + schema_.names[c] + "': " + Quoted(text) + " is not a number");
  }

  bool TooFewFields(const char* row, size_t found) {
    return Fail(row, found + 1, FieldCountMessage(found));
  }

  bool TooManyFields(const char* row) {
    size_t found = 0;
    const char* p = row;
    const char* end = schema_.data_end;
    for (;; ++p) {
      std::string_view text;
      FieldError error = ReadField(&p, end, schema_.delimiter, &scratch_, &text);
      ++found;
      if (error != FieldError::kNone || p == end || *p != schema_.delimiter) break;
    }
    return Fail(row, columns_.size() + 1, FieldCountMessage(found));
  }

  std::string FieldCountMessage(size_t found) const {
    return "expected " + std::to_string(columns_.size()) + " fields, found " +
           std::to_string(found);
  }

  // An error at `at`, or an internal one when null.
  [[gnu::noinline]] bool Fail(const char* at, size_t field, std::string_view message) {
    stop_.kind = Stop::Kind::kError;
    if (at == nullptr) {
      stop_.error = InternalError(std::string(schema_.file) + ": " + std::string(message));
      return false;
    }
    stop_.error = ErrorAt(schema_.file, schema_.text, static_cast<size_t>(at - schema_.text.data()),
                          field, message);
    return false;
  }

  const Schema& schema_;
  const FieldScanner scanner_;
  const size_t index_;
  const std::atomic<size_t>* first_stop_;
  size_t reserve_rows_;
  std::vector<ColumnBuilder> columns_;  // REQUIRES: never reallocated (outs_ points into it)
  std::vector<Out> outs_;
  std::string scratch_;
  size_t rows_ = 0;
  size_t batch_end_ = 0;  // rows the columns have room for
  static constexpr size_t kNotSized = std::numeric_limits<size_t>::max();
  size_t sized_rows_ = kNotSized;  // the rows a sized table has room for
  Stop stop_;
};

// ---------------------------------------------------------------- chunks

// Calls fn(i) for every i in [0, n), each i > 0 on a thread of its own
// (or on the caller's, after 0, when no thread can be had). An exception
// thrown by fn (std::bad_alloc) is thrown again here once all are done.
void RunEach(size_t n, const std::function<void(size_t)>& fn) {
  std::vector<std::exception_ptr> errors(n);
  auto run = [&](size_t i) {
    try {
      fn(i);
    } catch (...) {
      errors[i] = std::current_exception();
    }
  };
  std::vector<std::thread> threads;
  std::vector<size_t> here = {0};
  for (size_t i = 1; i < n; ++i) {
    try {
      threads.emplace_back(run, i);
    } catch (const std::system_error&) {
      here.push_back(i);
    }
  }
  for (size_t i : here) run(i);
  for (std::thread& t : threads) t.join();
  for (const std::exception_ptr& error : errors) {
    if (error) std::rethrow_exception(error);
  }
}

unsigned ThreadsFor(size_t bytes) {
  return static_cast<unsigned>(
      std::clamp<size_t>(bytes / kMinChunkBytes, 1, std::min(UsableCores(), kMaxThreads)));
}

// Where the parse of the rows of [begin, end) is cut for its threads:
// chunk i is [starts[i], starts[i + 1]), each start after a '\n' (which may
// be inside quotes), `end` last.
std::vector<size_t> ChunkStarts(const Schema& schema, size_t begin) {
  size_t end = static_cast<size_t>(schema.data_end - schema.text.data());
  unsigned threads = ThreadsFor(end - begin);
  std::vector<size_t> starts = {begin};
  size_t step = (end - begin) / threads;
  for (unsigned i = 1; i < threads; ++i) {
    size_t from = std::max(begin + i * step, starts.back());
    const void* lf = std::memchr(schema.text.data() + from, '\n', end - from);
    if (lf == nullptr) break;
    size_t start = static_cast<const char*>(lf) - schema.text.data() + 1;
    if (start > starts.back() && start < end) starts.push_back(start);
  }
  starts.push_back(end);
  return starts;
}

// What a parse with the current plans gave: a table, or why it stopped.
struct Outcome {
  Stop stop;
  Table table;
};

// A table of the plans' types with `rows` zeroed rows; columns are
// allocated on `threads` threads (their first writes cost most).
Table SizedTable(const Schema& schema, size_t rows, size_t threads) {
  Table table;
  table.rows = rows;
  for (size_t c = 0; c < schema.names.size(); ++c) {
    Column& column = table.columns.emplace_back();
    column.name = schema.names[c];
    if (schema.plans[c] == Plan::kCategory) column.type = ColumnType::kCategorical;
  }
  RunEach(threads, [&](size_t t) {
    for (size_t c = t; c < table.columns.size(); c += threads) {
      Column& column = table.columns[c];
      if (column.type == ColumnType::kCategorical) {
        column.codes.reserve(rows);
        AdviseHugePages(column.codes);
        column.codes.resize(rows);
      } else {
        column.numbers.reserve(rows);
        AdviseHugePages(column.numbers);
        column.numbers.resize(rows);
      }
    }
  });
  return table;
}

// The first stop among the chunks in file order, if any.
Stop FirstStop(std::vector<std::unique_ptr<ChunkParser>>& parsers) {
  for (auto& parser : parsers) {
    if (parser->stop().kind != Stop::Kind::kNone) return std::move(parser->stop());
  }
  return Stop{};
}

// Parses chunks of known row counts (a text without quotes: each '\n' ends
// a row) straight into one table, each chunk at its rows. The chunks'
// categories are then merged into the first chunk's order.
Outcome ParseCounted(const Schema& schema, const std::vector<size_t>& starts,
                     const std::vector<size_t>& rows) {
  size_t chunks = rows.size();
  std::vector<size_t> first_rows = {0};
  for (size_t i = 0; i < chunks; ++i) first_rows.push_back(first_rows.back() + rows[i]);
  Outcome out;
  out.table = SizedTable(schema, first_rows.back(), chunks);
  std::atomic<size_t> first_stop{chunks};
  std::vector<std::unique_ptr<ChunkParser>> parsers;
  for (size_t i = 0; i < chunks; ++i) {
    parsers.push_back(
        std::make_unique<ChunkParser>(schema, &out.table, first_rows[i], rows[i], i, &first_stop));
  }
  RunEach(chunks, [&](size_t i) {
    parsers[i]->ParseRowsWithoutQuotes(starts[i], starts[i + 1]);
    if (parsers[i]->stop().kind == Stop::Kind::kNone) return;
    size_t seen = first_stop.load();
    while (i < seen && !first_stop.compare_exchange_weak(seen, i)) {
    }
  });
  out.stop = FirstStop(parsers);
  if (out.stop.kind != Stop::Kind::kNone) return out;
  for (size_t c = 0; c < schema.names.size(); ++c) {
    Column& column = out.table.columns[c];
    if (column.type != ColumnType::kCategorical) continue;
    for (size_t i = 1; i < chunks; ++i) {
      std::vector<int32_t> remap = parsers[0]->dict(c).Merge(parsers[i]->dict(c));
      bool same = true;
      for (size_t k = 0; k < remap.size(); ++k) same &= remap[k] == static_cast<int32_t>(k);
      if (same) continue;
      int32_t* codes = column.codes.data();
      for (size_t r = first_rows[i]; r < first_rows[i + 1]; ++r) {
        if (codes[r] >= 0) codes[r] = remap[codes[r]];
      }
    }
    column.categories = parsers[0]->dict(c).Categories();
  }
  return out;
}

// Parses the chunks speculatively: chunk i > 0 starts after a '\n' that
// may be inside a quoted field. Chunk 0 starts at a true row start, and a
// chunk's rows are right when the rows before it end exactly where it
// starts; otherwise the parser of the rows before goes on through it alone.
// The chunks' rows are then appended to the first chunk's.
Outcome ParseSpeculative(const Schema& schema, const std::vector<size_t>& starts) {
  size_t chunks = starts.size() - 1;
  size_t begin = starts.front(), end = starts.back();
  size_t sample = std::min<size_t>(end - begin, 64 * 1024);
  double rows_per_byte =
      (1.0 + std::count(schema.text.data() + begin, schema.text.data() + begin + sample, '\n')) /
      static_cast<double>(std::max<size_t>(sample, 1));
  auto reserve = [&](size_t bytes) {
    return static_cast<size_t>(bytes * rows_per_byte * 1.1) + 16;
  };

  // Only chunk 0's stops are sure to stand: it alone cancels the others.
  std::atomic<size_t> first_stop{chunks};
  std::vector<std::unique_ptr<ChunkParser>> parsers;
  std::vector<size_t> ends(chunks);
  parsers.push_back(std::make_unique<ChunkParser>(schema, reserve(end - begin), 0, &first_stop));
  for (size_t i = 1; i < chunks; ++i) {
    parsers.push_back(
        std::make_unique<ChunkParser>(schema, reserve(starts[i + 1] - starts[i]), i, &first_stop));
  }
  RunEach(chunks, [&](size_t i) {
    ends[i] = parsers[i]->ParseRows(starts[i], starts[i + 1]);
    if (i == 0 && parsers[0]->stop().kind != Stop::Kind::kNone) first_stop = 0;
  });

  ChunkParser& rows = *parsers[0];
  size_t at = ends[0];
  for (size_t i = 1; i < chunks && rows.stop().kind == Stop::Kind::kNone; ++i) {
    if (at != starts[i]) {
      at = rows.ParseRows(at, starts[i + 1]);
    } else if (parsers[i]->stop().kind != Stop::Kind::kNone) {
      rows.stop() = std::move(parsers[i]->stop());
    } else {
      rows.Append(std::move(*parsers[i]));
      at = ends[i];
    }
  }
  Outcome out;
  out.stop = std::move(rows.stop());
  if (out.stop.kind == Stop::Kind::kNone) out.table = std::move(rows).TakeTable();
  return out;
}

// Parses the first rows alone, changing the plans of the columns found
// not numeric there, so that the full parse rarely starts over. Returns
// the first error among them; sets *table when they are all the rows.
Status Probe(size_t begin, Schema* schema, std::optional<Table>* table) {
  constexpr size_t kProbeBytes = 64 * 1024;
  size_t end = static_cast<size_t>(schema->data_end - schema->text.data());
  for (;;) {
    ChunkParser probe(*schema, 0, 0, nullptr);
    size_t at = probe.ParseRows(begin, std::min(end, begin + kProbeBytes));
    Stop& stop = probe.stop();
    if (stop.kind == Stop::Kind::kError) return stop.error;
    if (stop.kind == Stop::Kind::kNone) {
      if (at == end) *table = std::move(probe).TakeTable();
      return Status::Ok();
    }
    for (size_t c : stop.not_numeric) schema->plans[c] = Plan::kCategory;
  }
}

// The rows of each chunk when no chunk holds a '"' (then each '\n' ends a
// row), or nothing.
std::optional<std::vector<size_t>> CountRows(const Schema& schema,
                                             const std::vector<size_t>& starts) {
  size_t chunks = starts.size() - 1;
  std::vector<LineCount> counts(chunks);
  RunEach(chunks, [&](size_t i) {
    counts[i] = CountLines(schema.text.data() + starts[i], schema.text.data() + starts[i + 1]);
  });
  std::vector<size_t> rows;
  for (const LineCount& count : counts) {
    if (count.quotes) return std::nullopt;
    rows.push_back(count.lines);
  }
  rows.back() += 1;  // the last row ends at the end of the text: its line breaks are cut
  return rows;
}

// Parses the rows from `begin` on. A column inferred numeric that meets a
// non-number is parsed again as categorical, from the start: at most once
// per column.
Result<Table> ParseRowsFrom(size_t begin, Schema* schema) {
  std::optional<Table> small;
  KEEL_RETURN_IF_ERROR(Probe(begin, schema, &small));
  if (small.has_value()) return std::move(*small);
  std::vector<size_t> starts = ChunkStarts(*schema, begin);
  std::optional<std::vector<size_t>> rows;
  if (starts.size() > 2) rows = CountRows(*schema, starts);
  for (;;) {
    Outcome out =
        rows.has_value() ? ParseCounted(*schema, starts, *rows) : ParseSpeculative(*schema, starts);
    if (out.stop.kind == Stop::Kind::kNone) return std::move(out.table);
    if (out.stop.kind == Stop::Kind::kError) return out.stop.error;
    for (size_t c : out.stop.not_numeric) schema->plans[c] = Plan::kCategory;
  }
}

// ---------------------------------------------------------------- header

// Reads the header row at `begin`; sets *next to the first data row.
Result<std::vector<std::string>> ReadHeader(const Schema& schema, size_t begin, size_t* next) {
  const char* p = schema.text.data() + begin;
  const char* end = schema.data_end;
  if (*p == '\n' || (*p == '\r' && AtLineEnd(p, end))) {
    return ErrorAt(schema.file, schema.text, begin, 0, "blank header row");
  }
  std::vector<std::string> names;
  std::string scratch;
  for (;; ++p) {
    std::string_view text;
    FieldError error = ReadField(&p, end, schema.delimiter, &scratch, &text);
    if (error != FieldError::kNone) {
      return ErrorAt(schema.file, schema.text, p - schema.text.data(), names.size() + 1,
                     FieldErrorMessage(error, p, end));
    }
    names.emplace_back(text);
    if (p == end || *p != schema.delimiter) break;
  }
  *next = static_cast<size_t>(SkipLineEnd(p, end) - schema.text.data());
  return names;
}

Status CheckHeader(const Schema& schema, const CsvOptions& options) {
  std::map<std::string_view, int> seen;
  for (const std::string& name : schema.names) {
    if (++seen[name] == 2) {
      return InvalidArgumentError(std::string(schema.file) + ":1: duplicate column name '" + name +
                                  "'");
    }
  }
  for (const auto& [name, type] : options.declared) {
    if (seen.count(name) == 0) {
      return InvalidArgumentError(std::string(schema.file) + ":1: no column '" + name +
                                  "' (declared " + std::string(ColumnTypeName(type)) +
                                  ") in the header");
    }
  }
  return Status::Ok();
}

std::vector<Plan> InitialPlans(const std::vector<std::string>& names, const CsvOptions& options) {
  std::vector<Plan> plans;
  for (const std::string& name : names) {
    auto it = options.declared.find(name);
    if (it == options.declared.end()) {
      plans.push_back(Plan::kInferredNumber);
    } else {
      plans.push_back(it->second == ColumnType::kNumeric ? Plan::kNumber : Plan::kCategory);
    }
  }
  return plans;
}

void SetMissing(const CsvOptions& options, Schema* schema) {
  for (const std::string& m : options.missing_values) {
    if (std::find(schema->missing.begin(), schema->missing.end(), m) != schema->missing.end())
      continue;
    schema->missing.push_back(m);
    float value;
    if (ParseNumber(m, &value) && !std::isnan(value)) schema->missing_parses = true;
  }
}

}  // namespace

Result<Table> ParseCsv(std::string_view text, std::string_view file_name,
                       const CsvOptions& options) {
  char d = options.delimiter;
  if (d == '"' || d == '\n' || d == '\r') {
    return InvalidArgumentError(std::string(file_name) +
                                ": the delimiter cannot be a quote or a line break");
  }
  Schema schema{
      .file = file_name, .text = text, .data_end = text.data() + text.size(), .delimiter = d};
  size_t begin = text.substr(0, kBom.size()) == kBom ? kBom.size() : 0;
  while (schema.data_end != text.data() + begin &&
         (schema.data_end[-1] == '\n' || schema.data_end[-1] == '\r')) {
    --schema.data_end;
  }
  if (schema.data_end == text.data() + begin) {
    return InvalidArgumentError(std::string(file_name) + ": empty file, no header row");
  }
  size_t first_row = 0;
  KEEL_ASSIGN_OR_RETURN(schema.names, ReadHeader(schema, begin, &first_row));
  KEEL_RETURN_IF_ERROR(CheckHeader(schema, options));
  schema.plans = InitialPlans(schema.names, options);
  SetMissing(options, &schema);
  return ParseRowsFrom(first_row, &schema);
}

namespace {

// A read-only memory map of a whole file, unmapped on destruction.
class MappedFile {
 public:
  MappedFile() = default;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile() {
    if (data_ != nullptr) ::munmap(data_, size_);
  }

  Status Open(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoError(path, errno);
    Status status = Map(path, fd);
    ::close(fd);
    return status;
  }

  std::string_view text() const { return {static_cast<const char*>(data_), size_}; }

 private:
  Status Map(const std::string& path, int fd) {
    struct stat st;
    if (::fstat(fd, &st) != 0) return ErrnoError(path, errno);
    if (S_ISDIR(st.st_mode)) return ErrnoError(path, EISDIR);
    if (!S_ISREG(st.st_mode)) return InvalidArgumentError(path + ": not a regular file");
    if (st.st_size == 0) return Status::Ok();
    void* data = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ,
                        MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (data == MAP_FAILED) return ErrnoError(path, errno);
    data_ = data;
    size_ = static_cast<size_t>(st.st_size);
    ::madvise(data_, size_, MADV_SEQUENTIAL);
    return Status::Ok();
  }

  void* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace

Result<Table> ReadCsv(const std::string& path, const CsvOptions& options) {
  MappedFile file;
  KEEL_RETURN_IF_ERROR(file.Open(path));
  return ParseCsv(file.text(), path, options);
}

}  // namespace keel::table
