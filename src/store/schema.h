// The metadata database's schema, shared by every store over one SQLite
// file: versioned migrations, applied in order on open.
#pragma once

#include <string_view>

#include "core/status.h"
#include "store/sqlite.h"

namespace keel {

// Applies the migrations `db` has not seen yet, in one transaction; fails
// (changing nothing) if the database is newer than this keel.
Status MigrateSchema(SqliteDb* db);

// The SQLite database path of a "sqlite://PATH" URI; an invalid argument
// naming the URI for any other scheme.
Result<std::string> SqlitePathOf(std::string_view uri);

// The newest migration this keel knows.
int64_t NewestSchemaVersion();

// The newest applied migration.
Result<int64_t> SchemaVersionOf(SqliteDb* db);

}  // namespace keel
