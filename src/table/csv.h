// A fast CSV reader (RFC 4180: a header row, comma-separated fields, fields
// in double quotes may hold commas, quotes doubled as "" and line breaks;
// LF or CRLF line ends; an optional UTF-8 byte order mark).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "table/table.h"

namespace keel::table {

struct CsvOptions {
  // Not '"', '\n' or '\r' ("data/train.csv: the delimiter cannot be a
  // quote or a line break").
  char delimiter = ',';
  // Field texts that mean "missing" (compared after removing the quotes).
  std::vector<std::string> missing_values = {"", "NA"};
  // Column name -> type. Columns not named here are inferred: numeric when
  // every non-missing value parses as a number, categorical otherwise.
  // Naming a column the file lacks is an error.
  std::map<std::string, ColumnType, std::less<>> declared;
};

// Parses `text`, the whole content of the file `file_name` (used in errors
// only).
//
// On success: every column of the header in file order, `rows` = the number
// of data rows (a last line without a line break counts; blank lines at the
// end do not).
// On failure (kInvalidArgument), a message naming the place:
//   "data/train.csv:17:3: expected 15 fields, found 14"
//   "data/train.csv:9:1: column 'age': 'abc' is not a number"
//   "data/train.csv:4:7: unterminated quoted field"
//   "data/train.csv:1: duplicate column name 'age'"
//   "data/train.csv: empty file, no header row"
// Lines and columns (fields) count from 1.
//
// The syntax, as pandas.read_csv reads it, with these choices:
//   - A field is quoted when its first byte is '"'; a closing quote must be
//     followed by the delimiter or a line end ("data/train.csv:4:9: a
//     closing quote is followed by 'x', not by a delimiter or a line end").
//     A '"' inside an unquoted field is text.
//   - Line ends are "\n" and "\r\n"; a lone '\r' is text.
//   - A blank line before the end is a row of one empty field: a missing
//     value in a one-column file, "expected N fields, found 1" otherwise. A
//     blank first line is an error ("data/train.csv:1: blank header row").
//   - A row with too few fields is reported at its first missing field
//     (found + 1), one with too many at its first extra field (N + 1), both
//     on the line where the row starts.
//   - A number is what std::from_chars reads as a double (digits, an
//     optional point and exponent, "inf", "infinity", "nan" in any case, but
//     not "nan(...)") with an optional '+' and white space around it;
//     beyond double's range it is text, as for pandas; an underflow reads
//     as 0.
//   - A declared column the header lacks: "data/train.csv:1: no column
//     'age' (declared numeric) in the header".
// Inputs over 2 MiB are parsed on up to 8 threads (one per usable core); the
// result does not depend on how many. Thread-safe: calls share no state.
Result<Table> ParseCsv(std::string_view text, std::string_view file_name,
                       const CsvOptions& options);

// Reads and parses the file at `path` (memory-mapped); errors name `path`.
// A missing or unreadable file gives the errno's Status ("data/x.csv: No
// such file or directory", kNotFound); an empty one "data/x.csv: empty file,
// no header row". REQUIRES: nobody truncates the file while it is read (the
// map would fault).
Result<Table> ReadCsv(const std::string& path, const CsvOptions& options);

}  // namespace keel::table
