// Who may manage which endpoints (table webhook_principals).
#pragma once

#include <set>
#include <string>
#include <utility>
#include <vector>

namespace wh::api {

struct Principal {
    bool admin = false;
    std::set<std::string> resellers;
    std::set<std::string> portfolios;

    bool known() const { return admin || !resellers.empty() || !portfolios.empty(); }
    // scope_kind is "reseller" or "portfolio".
    bool may_manage(const std::string& scope_kind, const std::string& scope_id) const;
};

// Builds a principal from (kind, scope_id) rows; unknown kinds are ignored.
Principal principal_from_rows(const std::vector<std::pair<std::string, std::string>>& rows);

}  // namespace wh::api
