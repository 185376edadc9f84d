#include "store/run_query.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <string>

namespace keel {
namespace {

using Bound = std::variant<int64_t, double, std::string>;

// Collects SQL text and the values bound to its ?N parameters.
class SqlBuilder {
 public:
  std::string& sql() { return sql_; }
  // Appends a parameter for `value`.
  void Param(Bound value) {
    params_.push_back(std::move(value));
    sql_ += "?" + std::to_string(params_.size());
  }
  void BindAll(SqliteStatement* stmt) const {
    for (size_t i = 0; i < params_.size(); ++i) {
      int index = static_cast<int>(i + 1);
      if (const auto* n = std::get_if<int64_t>(&params_[i])) stmt->Bind(index, *n);
      if (const auto* d = std::get_if<double>(&params_[i])) stmt->BindDouble(index, *d);
      if (const auto* s = std::get_if<std::string>(&params_[i])) stmt->Bind(index, *s);
    }
  }

 private:
  std::string sql_;
  std::vector<Bound> params_;
};

// The SQL expression of an attribute; empty for an unknown one.
std::string AttributeColumn(const std::string& key) {
  if (key == "id") return "r.id";
  if (key == "experiment") return "e.name";
  if (key == "status") return "r.status";
  if (key == "git_commit") return "r.git_commit";
  if (key == "dirty") return "r.git_dirty";
  if (key == "host") return "r.host";
  if (key == "start_time") return "(r.start_ns / 1000000)";
  if (key == "end_time") return "(r.end_ns / 1000000)";
  return "";
}

const char* OpSql(CompareOp op) {
  switch (op) {
    case CompareOp::kEq: return " = ";
    case CompareOp::kNe: return " != ";
    case CompareOp::kLt: return " < ";
    case CompareOp::kLe: return " <= ";
    case CompareOp::kGt: return " > ";
    case CompareOp::kGe: return " >= ";
    case CompareOp::kLike: return " GLOB ";
    case CompareOp::kILike: return " LIKE ";
  }
  return " = ";
}

// LIKE's wildcards as GLOB's, which is case-sensitive.
std::string LikeToGlob(const std::string& pattern) {
  std::string out;
  for (char c : pattern) {
    if (c == '%') out += '*';
    else if (c == '_') out += '?';
    else if (c == '*' || c == '?' || c == '[') out += std::string("[") + c + "]";
    else out += c;
  }
  return out;
}

void AppendValue(const RunCondition& c, SqlBuilder* b) {
  if (const auto* d = std::get_if<double>(&c.value)) {
    b->Param(*d);
  } else {
    const std::string& s = std::get<std::string>(c.value);
    b->Param(c.op == CompareOp::kLike ? LikeToGlob(s) : s);
  }
}

Status AppendCondition(const RunCondition& c, SqlBuilder* b) {
  bool numeric = std::holds_alternative<double>(c.value);
  std::string& sql = b->sql();
  switch (c.field) {
    case RunField::kAttribute: {
      std::string column = AttributeColumn(c.key);
      if (column.empty()) return InvalidArgumentError("unknown run attribute '" + c.key + "'");
      sql += column + OpSql(c.op);
      break;
    }
    case RunField::kMetric:
      // IN rather than a correlated EXISTS: SQLite then walks the index on
      // (key, value) once and looks the runs up by id.
      sql += "r.id IN (SELECT m.run_id FROM run_latest_metrics m WHERE m.key_id ="
             " (SELECT id FROM metric_keys WHERE name = ";
      b->Param(c.key);
      sql += ") AND m.value" + std::string(OpSql(c.op));
      break;
    case RunField::kParam:
    case RunField::kTag:
      sql += c.field == RunField::kParam ? "r.id IN (SELECT p.run_id FROM run_params p WHERE p.key = "
                                         : "r.id IN (SELECT p.run_id FROM run_tags p WHERE p.key = ";
      b->Param(c.key);
      sql += std::string(" AND p.") + (numeric && c.field == RunField::kParam ? "num" : "value") + OpSql(c.op);
      break;
  }
  AppendValue(c, b);
  if (c.field != RunField::kAttribute) sql += ")";
  return Status::Ok();
}

// The two expressions a sort key orders by: a number (or an attribute's
// value), then a text; NULL where a run has no such value. Empty for an
// unknown attribute.
std::pair<std::string, std::string> SortExpressions(const RunSort& sort, SqlBuilder* b) {
  std::string& sql = b->sql();
  size_t start = sql.size();
  auto take = [&] {
    std::string expr = sql.substr(start);
    sql.resize(start);
    return expr;
  };
  switch (sort.field) {
    case RunField::kAttribute: return {AttributeColumn(sort.key), "NULL"};
    case RunField::kMetric:
      sql += "(SELECT value FROM run_latest_metrics WHERE run_id = r.id AND key_id ="
             " (SELECT id FROM metric_keys WHERE name = ";
      b->Param(sort.key);
      sql += "))";
      return {take(), "NULL"};
    case RunField::kParam: {
      // Numbers by value, then the other values as text.
      sql += "(SELECT num FROM run_params WHERE run_id = r.id AND key = ";
      b->Param(sort.key);
      sql += ")";
      std::string num = take();
      sql += "(SELECT value FROM run_params WHERE run_id = r.id AND key = ";
      b->Param(sort.key);
      sql += " AND num IS NULL)";
      return {num, take()};
    }
    case RunField::kTag:
      sql += "(SELECT value FROM run_tags WHERE run_id = r.id AND key = ";
      b->Param(sort.key);
      sql += ")";
      return {"NULL", take()};
  }
  return {"", ""};
}

}  // namespace

std::optional<double> ParseFilterNumber(std::string_view text) {
  if (text.empty() || text.size() > 64 || std::isspace(static_cast<unsigned char>(text[0]))) return std::nullopt;
  std::string s(text);
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || errno == ERANGE || std::isnan(v)) return std::nullopt;
  // strtod also reads hex and "inf": params are YAML scalars, where those are text.
  for (char c : s) {
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E')) {
      return std::nullopt;
    }
  }
  return v;
}

Result<std::vector<RunInfo>> QueryRuns(SqliteDb* db, const RunQuery& query) {
  SqlBuilder b;
  auto [sort_num, sort_text] = SortExpressions(query.sort, &b);
  if (sort_num.empty()) return InvalidArgumentError("unknown run attribute '" + query.sort.key + "' to sort by");
  b.sql() =
      "SELECT r.id, e.name, r.status, r.start_ns, r.end_ns, r.git_commit, r.git_dirty, r.diff_hash, r.host,"
      " r.pid, r.command, r.note, r.deleted, " + sort_num + " AS sort_num, " + sort_text + " AS sort_text"
      " FROM runs r JOIN experiments e ON e.id = r.experiment_id WHERE 1";
  if (!query.include_deleted) b.sql() += " AND r.deleted = 0";
  if (!query.experiments.empty()) {
    b.sql() += " AND e.name IN (";
    for (size_t i = 0; i < query.experiments.size(); ++i) {
      if (i > 0) b.sql() += ", ";
      b.Param(query.experiments[i]);
    }
    b.sql() += ")";
  }
  for (const RunCondition& c : query.where) {
    b.sql() += " AND ";
    KEEL_RETURN_IF_ERROR(AppendCondition(c, &b));
  }
  // Runs without the key last, whichever the direction; numbers before text.
  const char* direction = query.sort.descending ? " DESC" : " ASC";
  b.sql() += std::string(" ORDER BY sort_num IS NULL AND sort_text IS NULL, sort_num IS NULL, sort_num") +
             direction + ", sort_text" + direction + ", r.id DESC";
  if (query.limit > 0) b.sql() += " LIMIT " + std::to_string(query.limit);
  KEEL_ASSIGN_OR_RETURN(std::unique_ptr<SqliteStatement> stmt, db->Prepare(b.sql()));
  b.BindAll(stmt.get());
  std::vector<RunInfo> out;
  for (;;) {
    KEEL_ASSIGN_OR_RETURN(bool row, stmt->Step());
    if (!row) break;
    RunInfo info;
    info.id = stmt->Int(0);
    info.experiment = stmt->Text(1);
    KEEL_ASSIGN_OR_RETURN(info.status, ParseRunStatus(stmt->Text(2)));
    info.start_ns = stmt->Int(3);
    info.end_ns = stmt->Int(4);
    info.git_commit = stmt->Text(5);
    info.git_dirty = stmt->Int(6) != 0;
    info.diff_hash = stmt->Text(7);
    info.host = stmt->Text(8);
    info.pid = stmt->Int(9);
    info.command = stmt->Text(10);
    info.note = stmt->Text(11);
    info.deleted = stmt->Int(12) != 0;
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace keel
