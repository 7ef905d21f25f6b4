#include "crypto.hpp"
#include "parse.hpp"

#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

namespace wh {

namespace {
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;
constexpr size_t kNonce = 12, kTag = 16;
const std::string kSealV1 = "v1:", kSealV2 = "v2:";
const std::string kSecretPrefix = "whsec_";

}  // namespace

std::string base64_encode(const std::string& raw) {
    std::string out(4 * ((raw.size() + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(&out[0]),
                            reinterpret_cast<const unsigned char*>(raw.data()), int(raw.size()));
    out.resize(size_t(n));
    return out;
}

bool base64_decode(const std::string& b64, std::string& raw) {
    if (b64.size() % 4 != 0) return false;
    for (char c : b64)
        if (!(isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '='))
            return false;
    std::string out(b64.size() / 4 * 3 + 1, '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(&out[0]),
                            reinterpret_cast<const unsigned char*>(b64.data()), int(b64.size()));
    if (n < 0) return false;
    // EVP_DecodeBlock counts padding as zero bytes; drop them.
    size_t pad = 0;
    if (!b64.empty() && b64.back() == '=') pad = (b64.size() > 1 && b64[b64.size() - 2] == '=') ? 2 : 1;
    out.resize(size_t(n) - pad);
    raw = std::move(out);
    return true;
}

std::string random_bytes(size_t n) {
    std::string out(n, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&out[0]), int(n)) != 1)
        throw std::runtime_error("RAND_bytes failed");
    return out;
}

std::string to_hex(const std::string& bytes) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(2 * bytes.size());
    for (unsigned char c : bytes) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

std::string random_hex(size_t n) {
    return to_hex(random_bytes(n));
}

std::string hmac_sha256(const std::string& key, const std::string& data) {
    return hmac_sha256(key, std::vector<std::string_view>{data});
}

std::string hmac_sha256(const std::string& key, const std::vector<std::string_view>& parts) {
    // Fetched once per process (the fetch looks the algorithm up by name); EVP_MAC is
    // reference-counted and safe to share between threads.
    static EVP_MAC* const hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    std::unique_ptr<EVP_MAC_CTX, decltype(&EVP_MAC_CTX_free)> ctx(hmac ? EVP_MAC_CTX_new(hmac) : nullptr,
                                                                 &EVP_MAC_CTX_free);
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    if (!ctx || !EVP_MAC_init(ctx.get(), reinterpret_cast<const unsigned char*>(key.data()), key.size(), params))
        throw std::runtime_error("HMAC failed");
    for (std::string_view p : parts)
        if (!EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(p.data()), p.size()))
            throw std::runtime_error("HMAC failed");
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t len = 0;
    if (!EVP_MAC_final(ctx.get(), mac, &len, sizeof mac)) throw std::runtime_error("HMAC failed");
    return std::string(reinterpret_cast<char*>(mac), len);
}

std::string generate_signing_secret() { return kSecretPrefix + base64_encode(random_bytes(32)); }

std::string sign_webhook(const std::string& secret, const std::string& msg_id,
                         long long timestamp, const std::string& body) {
    return sign_webhook(secret, msg_id, timestamp, std::vector<std::string_view>{body});
}

std::string sign_webhook(const std::string& secret, const std::string& msg_id,
                         long long timestamp, const std::vector<std::string_view>& body_parts) {
    std::string b64 = secret.compare(0, kSecretPrefix.size(), kSecretPrefix) == 0
                          ? secret.substr(kSecretPrefix.size())
                          : secret;
    std::string key;
    if (!base64_decode(b64, key)) throw std::runtime_error("malformed signing secret");
    // "<id>.<timestamp>.<body>", the body signed in its parts (never copied whole)
    std::string head = msg_id + "." + std::to_string(timestamp) + ".";
    std::vector<std::string_view> parts{head};
    parts.insert(parts.end(), body_parts.begin(), body_parts.end());
    return "v1," + base64_encode(hmac_sha256(key, parts));
}

std::string signature_header(const std::vector<std::string>& secrets, const std::string& msg_id,
                             long long timestamp, const std::string& body) {
    return signature_header(secrets, msg_id, timestamp, std::vector<std::string_view>{body});
}

std::string signature_header(const std::vector<std::string>& secrets, const std::string& msg_id,
                             long long timestamp, const std::vector<std::string_view>& body_parts) {
    std::string out;
    for (const auto& s : secrets) {
        if (!out.empty()) out += ' ';
        out += sign_webhook(s, msg_id, timestamp, body_parts);
    }
    return out;
}

std::string SecretBox::load_key_file(const std::string& path, Key& out) {
    errno = 0;
    std::ifstream in(path);
    if (!in) return "cannot read key file '" + path + "'" + (errno ? std::string(": ") + std::strerror(errno) : "");
    std::stringstream ss;
    ss << in.rdbuf();
    std::string hex;
    for (char c : ss.str())
        if (!isspace(static_cast<unsigned char>(c))) hex += c;
    if (hex.size() != 64) return "key file '" + path + "' must hold 64 hex characters (32 bytes)";
    for (size_t i = 0; i < 32; ++i) {
        int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return "key file '" + path + "' holds a non-hex character";
        out[i] = static_cast<unsigned char>(hi * 16 + lo);
    }
    return "";
}

std::string credential_aad(const std::string& column, unsigned long long endpoint_id) {
    return "webhook_endpoints." + column + ":" + std::to_string(endpoint_id);
}

std::string SecretBox::seal(const std::string& plaintext, const std::string& aad) const {
    if (aad.empty()) throw std::invalid_argument("a v2 seal needs associated data");
    return seal_with(kSealV2, plaintext, aad);
}

std::string SecretBox::seal_v1(const std::string& plaintext) const { return seal_with(kSealV1, plaintext, ""); }

bool SecretBox::is_v1(const std::string& sealed) { return sealed.compare(0, kSealV1.size(), kSealV1) == 0; }

bool SecretBox::open(const std::string& sealed, const std::string& aad, std::string& plaintext) const {
    if (is_v1(sealed)) return open_with(sealed.substr(kSealV1.size()), "", plaintext);
    if (sealed.compare(0, kSealV2.size(), kSealV2) == 0 && !aad.empty())
        return open_with(sealed.substr(kSealV2.size()), aad, plaintext);
    return false;
}

// An empty aad adds no associated data: exactly the v1 computation.
std::string SecretBox::seal_with(const std::string& prefix, const std::string& plaintext,
                                 const std::string& aad) const {
    std::string nonce = random_bytes(kNonce);
    std::string ct(plaintext.size(), '\0');
    unsigned char tag[kTag];
    CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
    int len = 0;
    if (!ctx ||
        EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.data(),
                           reinterpret_cast<const unsigned char*>(nonce.data())) != 1 ||
        (!aad.empty() &&
         EVP_EncryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                           int(aad.size())) != 1) ||
        EVP_EncryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(&ct[0]), &len,
                          reinterpret_cast<const unsigned char*>(plaintext.data()),
                          int(plaintext.size())) != 1 ||
        EVP_EncryptFinal_ex(ctx.get(), nullptr, &len) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTag, tag) != 1)
        throw std::runtime_error("AES-GCM encryption failed");
    return prefix + base64_encode(nonce + ct + std::string(reinterpret_cast<char*>(tag), kTag));
}

bool SecretBox::open_with(const std::string& body, const std::string& aad, std::string& plaintext) const {
    std::string raw;
    if (!base64_decode(body, raw) || raw.size() < kNonce + kTag) return false;
    size_t ct_len = raw.size() - kNonce - kTag;
    std::string out(ct_len, '\0');
    CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
    int len = 0;
    std::string tag = raw.substr(kNonce + ct_len);
    if (!ctx ||
        EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.data(),
                           reinterpret_cast<const unsigned char*>(raw.data())) != 1 ||
        (!aad.empty() &&
         EVP_DecryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                           int(aad.size())) != 1) ||
        EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(&out[0]), &len,
                          reinterpret_cast<const unsigned char*>(raw.data() + kNonce),
                          int(ct_len)) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTag, &tag[0]) != 1 ||
        EVP_DecryptFinal_ex(ctx.get(), nullptr, &len) != 1)
        return false;
    plaintext = std::move(out);
    return true;
}

}  // namespace wh
