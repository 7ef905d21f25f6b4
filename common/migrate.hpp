// Applies the numbered migrations in sql/ (NNN_name.sql) in order, each at most once,
// recording them in webhook_schema_version. Safe to run again and from several hosts at
// once, also on the nodes of a Galera cluster: they take turns through a row lock
// (webhook_migration_lock, docs/operations.md "Migrations and their lock").
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "db.hpp"

namespace wh {

struct MigrationResult {
    std::vector<std::string> applied;   // file names applied by this run
    unsigned version = 0;               // schema version afterwards
};

// The migration lock (webhook_migration_lock) could not be taken in time, or expired while
// migrating and another run took it over.
class MigrationLockError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Throws DbError, MigrationLockError or std::runtime_error (unreadable directory or file).
MigrationResult migrate(Db& db, const std::string& sql_dir);

}  // namespace wh
