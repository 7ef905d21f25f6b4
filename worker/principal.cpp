#include "principal.hpp"

#include "target.hpp"  // valid_scope_id: the module's rule for reseller and portfolio IDs

namespace wh::worker {

bool valid_principal_user(const std::string& user) {
    if (user.empty() || user.size() > 255) return false;
    for (unsigned char c : user)
        if (c < 0x20 || c == 0x7f || c == ':') return false;
    return true;
}

std::string check_principal_request(const PrincipalRequest& req) {
    if (req.action != "add" && req.action != "list" && req.action != "remove")
        return "principal needs add, list or remove" + (req.action.empty() ? "" : ", got '" + req.action + "'");
    if (req.user.empty() && req.action != "list") return "principal " + req.action + " needs a USER";
    if (!req.user.empty() && !valid_principal_user(req.user))
        return "USER must be 1-255 bytes without control characters or ':'";
    if (req.action == "list" && !req.kind.empty()) return "principal list takes no --reseller, --portfolio or --admin";
    if (req.action == "add" && req.kind.empty())
        return "principal add needs --reseller ID, --portfolio ID or --admin";
    if ((req.kind == "reseller" || req.kind == "portfolio") && !valid_scope_id(req.scope_id))
        return "--" + req.kind + " ID must be 1-64 characters of [A-Za-z0-9._-]";
    return "";
}

bool add_principal(Db& db, const PrincipalRequest& req) {
    return db.exec("INSERT IGNORE INTO webhook_principals (username, kind, scope_id) VALUES (?, ?, ?)",
                   {req.user, req.kind, req.kind == "admin" ? std::string() : req.scope_id}) > 0;
}

std::vector<PrincipalRow> list_principals(Db& db, const std::string& user) {
    const std::string select =
        "SELECT username, kind, scope_id, DATE_FORMAT(created_at, '%Y-%m-%dT%H:%i:%S') FROM webhook_principals";
    const std::string order = " ORDER BY username, kind, scope_id";
    Rows rows = user.empty() ? db.query(select + order) : db.query(select + " WHERE username = ?" + order, {user});
    std::vector<PrincipalRow> out;
    for (const auto& r : rows.rows) out.push_back({r[0].value_or(""), r[1].value_or(""), r[2].value_or(""), r[3].value_or("")});
    return out;
}

uint64_t remove_principals(Db& db, const PrincipalRequest& req) {
    if (req.kind.empty()) return db.exec("DELETE FROM webhook_principals WHERE username = ?", {req.user});
    return db.exec("DELETE FROM webhook_principals WHERE username = ? AND kind = ? AND scope_id = ?",
                   {req.user, req.kind, req.kind == "admin" ? std::string() : req.scope_id});
}

std::string format_principals(const std::vector<PrincipalRow>& rows) {
    std::string out;
    for (const auto& r : rows)
        out += r.user + "\t" + r.kind + "\t" + (r.scope_id.empty() ? "-" : r.scope_id) + "\t" + r.created_at + "\n";
    return out;
}

}  // namespace wh::worker
