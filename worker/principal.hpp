// `webhook-worker principal add|list|remove`: the rows of webhook_principals, which map a user
// name that Apache has already authenticated (htpasswd, LDAP, …) to the scopes it may use in
// the registration API. The table holds no passwords. Checking is pure and unit-tested; the
// three actions are one statement each.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "db.hpp"

namespace wh::worker {

// What `principal ACTION USER [--reseller ID | --portfolio ID | --admin]` asks for.
struct PrincipalRequest {
    std::string action;    // add | list | remove
    std::string user;      // "" only for list: every user
    std::string kind;      // admin | reseller | portfolio; "" = any (list, remove)
    std::string scope_id;  // the reseller's or portfolio's ID; "" for admin
};

struct PrincipalRow {
    std::string user, kind, scope_id, created_at;
};

// A user name as Apache hands it on (r->user): 1-255 bytes, no control characters and no ':'
// (which htpasswd and Basic authentication cannot carry).
bool valid_principal_user(const std::string& user);

// Returns "" or what is wrong with the request as a whole (a usage error).
std::string check_principal_request(const PrincipalRequest& req);

// Returns false when the row was already there. Throws DbError.
bool add_principal(Db& db, const PrincipalRequest& req);
// Rows of `user` (every user when empty), ordered by user, kind (admin, reseller, portfolio)
// and ID. Throws DbError.
std::vector<PrincipalRow> list_principals(Db& db, const std::string& user);
// Removes the user's rows of req.kind/req.scope_id (all of them when req.kind is empty).
// Returns how many. Throws DbError.
uint64_t remove_principals(Db& db, const PrincipalRequest& req);

// "USER<TAB>KIND<TAB>ID<TAB>CREATED" lines, ID "-" for admin.
std::string format_principals(const std::vector<PrincipalRow>& rows);

}  // namespace wh::worker
