#include "principal.hpp"

namespace wh::api {

bool Principal::may_manage(const std::string& scope_kind, const std::string& scope_id) const {
    if (admin) return true;
    if (scope_kind == "reseller") return resellers.count(scope_id) > 0;
    if (scope_kind == "portfolio") return portfolios.count(scope_id) > 0;
    return false;
}

Principal principal_from_rows(const std::vector<std::pair<std::string, std::string>>& rows) {
    Principal p;
    for (const auto& [kind, id] : rows) {
        if (kind == "admin") p.admin = true;
        else if (kind == "reseller" && !id.empty()) p.resellers.insert(id);
        else if (kind == "portfolio" && !id.empty()) p.portfolios.insert(id);
    }
    return p;
}

}  // namespace wh::api
