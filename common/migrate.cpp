#include "migrate.hpp"

#include "parse.hpp"

#include <dirent.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace wh {

namespace {

struct Migration {
    unsigned version;
    std::string file;
};

std::vector<Migration> list_migrations(const std::string& dir) {
    struct DirCloser {
        void operator()(DIR* d) const { closedir(d); }
    };
    std::unique_ptr<DIR, DirCloser> d(opendir(dir.c_str()));
    if (!d) throw std::runtime_error("cannot open migrations directory '" + dir + "'");
    std::vector<Migration> out;
    while (dirent* e = readdir(d.get())) {
        std::string name = e->d_name;
        if (name.size() < 8 || name.compare(name.size() - 4, 4, ".sql") != 0) continue;
        size_t digits = name.find('_');
        unsigned long long version = 0;
        if (digits == std::string::npos || !parse_decimal(name.substr(0, digits), ~0U, version)) continue;
        out.push_back({unsigned(version), name});
    }
    std::sort(out.begin(), out.end(),
              [](const Migration& a, const Migration& b) { return a.version < b.version; });
    for (size_t i = 1; i < out.size(); ++i)
        if (out[i].version == out[i - 1].version)
            throw std::runtime_error("two migrations share version " + std::to_string(out[i].version));
    return out;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read '" + path + "'");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

MigrationResult migrate(Db& db, const std::string& sql_dir) {
    MigrationResult result;
    auto migrations = list_migrations(sql_dir);
    // A named lock serialises concurrent runs (two hosts deploying at once).
    Rows lock = db.query("SELECT GET_LOCK('webhook_migrate', 60)");
    if (lock.empty() || lock[0][0].value_or("0") != "1")
        throw std::runtime_error("could not take the migration lock within 60 s");
    try {
        db.exec("CREATE TABLE IF NOT EXISTS webhook_schema_version ("
                " version INT UNSIGNED NOT NULL PRIMARY KEY, name VARCHAR(200) NOT NULL,"
                " applied_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3))"
                " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin");
        for (const auto& m : migrations) {
            Rows done = db.query("SELECT 1 FROM webhook_schema_version WHERE version = ?", {m.version});
            if (!done.empty()) continue;
            db.exec_script(read_file(sql_dir + "/" + m.file));
            db.exec("INSERT INTO webhook_schema_version (version, name) VALUES (?, ?)",
                    {m.version, m.file});
            result.applied.push_back(m.file);
        }
        Rows v = db.query("SELECT COALESCE(MAX(version), 0) FROM webhook_schema_version");
        result.version = unsigned(std::stoul(v[0][0].value_or("0")));
    } catch (...) {
        try { db.query("SELECT RELEASE_LOCK('webhook_migrate')"); } catch (...) {}
        throw;
    }
    db.query("SELECT RELEASE_LOCK('webhook_migrate')");
    return result;
}

}  // namespace wh
