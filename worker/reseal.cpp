#include "reseal.hpp"

#include <algorithm>
#include <string>

#include "worker_log.hpp"

namespace wh::worker {

namespace {

const char* kHasV1 =
    "(secret_enc LIKE 'v1:%' OR prev_secret_enc LIKE 'v1:%' OR password_enc LIKE 'v1:%')";

// One row's columns: the v1 ones re-sealed into `set`/`params`; false if none was readable.
bool reseal_row(const SecretBox& box, const Rows& rows, const Rows::Row& r, unsigned long long id,
                std::string& set, Params& params, ResealResult& res) {
    // prev_secret_enc holds a former secret_enc value: it is sealed as one (credential_aad).
    static const std::pair<const char*, const char*> cols[] = {
        {"password_enc", "password_enc"}, {"secret_enc", "secret_enc"}, {"prev_secret_enc", "secret_enc"}};
    for (size_t c = 0; c < 3; ++c) {
        const auto& v = r[rows.col(cols[c].first)];
        if (!v || !SecretBox::is_v1(*v)) continue;
        std::string plain;
        if (!box.open(*v, "", plain)) {
            ++res.unreadable;
            if (log_throttle("WH00155", 60))
                log_warn(std::string("WH00155: cannot open the v1 ") + cols[c].first +
                             " of endpoint " + r[rows.col("public_id")].value_or("?") +
                             " with secret_key_file, so it stays v1: give migrate the module's "
                             "key file (WebhookSecretKeyFile); if that is the key, the value is "
                             "damaged: set the endpoint's credentials again (PATCH, rotate-secret)");
            continue;
        }
        (set += set.empty() ? "" : ", ") += std::string(cols[c].first) + " = ?";
        params.emplace_back(box.seal(plain, credential_aad(cols[c].second, id)));
        std::fill(plain.begin(), plain.end(), '\0');
        ++res.resealed;
    }
    return !set.empty();
}

}  // namespace

ResealResult reseal_v1_credentials(Db& db, const SecretBox& box, unsigned batch) {
    ResealResult total;
    unsigned long long after = 0;
    for (;;) {
        struct Batch {
            size_t rows = 0;
            unsigned long long last = 0;
            ResealResult res;
        };
        // Counted per attempt: a deadlock retry starts the batch afresh.
        Batch b = with_transaction(db, [&](Db& db) {
            Batch b;
            b.last = after;
            Rows rows = db.query(std::string("SELECT id, public_id, password_enc, secret_enc, prev_secret_enc "
                                             "FROM webhook_endpoints WHERE id > ? AND ") +
                                     kHasV1 + " ORDER BY id LIMIT ? FOR UPDATE",
                                 {after, batch});
            b.rows = rows.size();
            for (const auto& r : rows.rows) {
                unsigned long long id = std::stoull(r[rows.col("id")].value_or("0"));
                b.last = std::max(b.last, id);
                std::string set;
                Params params;
                if (!reseal_row(box, rows, r, id, set, params, b.res)) continue;
                params.emplace_back(id);
                // updated_at stays: the endpoint did not change, only how its credentials are sealed
                db.exec("UPDATE webhook_endpoints SET " + set + ", updated_at = updated_at WHERE id = ?", params);
            }
            return b;
        });
        after = b.last;
        total.resealed += b.res.resealed;
        total.unreadable += b.res.unreadable;
        if (b.rows < batch) return total;
    }
}

size_t count_v1_credentials(Db& db) {
    Rows r = db.query(std::string("SELECT COUNT(*) FROM webhook_endpoints WHERE ") + kHasV1);
    return r.empty() ? 0 : std::stoul(r[0][0].value_or("0"));
}

}  // namespace wh::worker
