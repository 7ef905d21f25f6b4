// The re-seal step of `webhook-worker migrate`: credentials sealed in the former "v1:" format
// (no associated data) become "v2:" values bound to their row and column (credential_aad).
#pragma once

#include <cstddef>

#include "crypto.hpp"
#include "db.hpp"

namespace wh::worker {

struct ResealResult {
    size_t resealed = 0;    // values rewritten as v2
    size_t unreadable = 0;  // v1 values this key does not open: left as they are (WH00155)
};

// Re-seals every v1 value of webhook_endpoints (secret_enc, prev_secret_enc, password_enc,
// deleted endpoints too) as v2, `batch` rows per short transaction in id order. Idempotent:
// a second run finds no v1 value. Module and worker open both formats meanwhile. Throws DbError.
ResealResult reseal_v1_credentials(Db& db, const SecretBox& box, unsigned batch = 100);

// How many endpoints still hold a v1 value.
size_t count_v1_credentials(Db& db);

}  // namespace wh::worker
