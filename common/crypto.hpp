// Signing secrets, Standard Webhooks signatures and credential encryption (OpenSSL libcrypto).
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace wh {

std::string base64_encode(const std::string& raw);
// Returns false on malformed input (standard alphabet, padding required).
bool base64_decode(const std::string& b64, std::string& raw);

// Bytes from the OpenSSL CSPRNG; throws std::runtime_error if it fails.
std::string random_bytes(size_t n);
// Bytes as lowercase hex digits, two per byte.
std::string to_hex(const std::string& bytes);
// n random bytes as 2n lowercase hex digits (public ids, lock owners).
std::string random_hex(size_t n);
std::string hmac_sha256(const std::string& key, const std::string& data);
// The same over the concatenation of parts, without building it.
std::string hmac_sha256(const std::string& key, const std::vector<std::string_view>& parts);

// "whsec_" + base64 of 32 random bytes (Standard Webhooks format).
std::string generate_signing_secret();

// Standard Webhooks: "v1," + base64(HMAC-SHA256(key, "<id>.<timestamp>.<body>")), where key
// is the base64-decoded part of the secret after "whsec_". Throws on a malformed secret.
std::string sign_webhook(const std::string& secret, const std::string& msg_id,
                         long long timestamp, const std::string& body);
// The same for a body given in parts (their concatenation is the body).
std::string sign_webhook(const std::string& secret, const std::string& msg_id,
                         long long timestamp, const std::vector<std::string_view>& body_parts);

// The webhook-signature header value for one or more secrets (space-separated).
std::string signature_header(const std::vector<std::string>& secrets, const std::string& msg_id,
                             long long timestamp, const std::string& body);
std::string signature_header(const std::vector<std::string>& secrets, const std::string& msg_id,
                             long long timestamp, const std::vector<std::string_view>& body_parts);

// The associated data that binds a sealed endpoint credential to its row and purpose:
// "webhook_endpoints.<column>:<endpoint id>" (the numeric primary key). prev_secret_enc holds
// a former secret_enc value and keeps its associated data: pass "secret_enc" for both.
std::string credential_aad(const std::string& column, unsigned long long endpoint_id);

// AES-256-GCM with a 32-byte key shared by module and worker (WebhookSecretKeyFile).
// Sealed formats: "v2:" + base64(nonce[12] | ciphertext | tag[16]) with associated data
// (credential_aad), written by every seal; "v1:" the same without associated data, written
// before v2 and still opened, until `webhook-worker migrate` re-seals it as v2.
class SecretBox {
public:
    using Key = std::array<unsigned char, 32>;
    explicit SecretBox(const Key& key) : key_(key) {}

    // Reads a key file holding 64 hex characters (whitespace around them ignored).
    // Returns "" or a message saying what is wrong with the file.
    static std::string load_key_file(const std::string& path, Key& out);

    // A "v2:" value that opens only with the same aad.
    std::string seal(const std::string& plaintext, const std::string& aad) const;
    // Opens "v2:" (with aad) and "v1:" (aad not checked: v1 has none). Returns false if the
    // value is malformed, was sealed with another key, or (v2) for another aad.
    bool open(const std::string& sealed, const std::string& aad, std::string& plaintext) const;

    // The former format, without associated data: only to produce rows as an older release
    // wrote them (upgrade tests, webhook-worker-seal --v1).
    std::string seal_v1(const std::string& plaintext) const;
    static bool is_v1(const std::string& sealed);

private:
    std::string seal_with(const std::string& prefix, const std::string& plaintext,
                          const std::string& aad) const;
    bool open_with(const std::string& body, const std::string& aad, std::string& plaintext) const;

    Key key_;
};

}  // namespace wh
