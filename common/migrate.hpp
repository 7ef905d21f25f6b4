// Applies the numbered migrations in sql/ (NNN_name.sql) in order, each at most once,
// recording them in webhook_schema_version. Safe to run again and from several hosts.
#pragma once

#include <string>
#include <vector>

#include "db.hpp"

namespace wh {

struct MigrationResult {
    std::vector<std::string> applied;   // file names applied by this run
    unsigned version = 0;               // schema version afterwards
};

// Throws DbError or std::runtime_error (unreadable directory or file).
MigrationResult migrate(Db& db, const std::string& sql_dir);

}  // namespace wh
