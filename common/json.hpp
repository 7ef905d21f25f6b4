// Jansson helpers: owning pointers and the few conversions both sides need.
#pragma once

#include <jansson.h>

#include <memory>
#include <string>

namespace wh {

struct JsonDeleter {
    void operator()(json_t* j) const { json_decref(j); }
};
// Owns one reference.
using JsonPtr = std::unique_ptr<json_t, JsonDeleter>;

// Compact, key order preserved, non-ASCII kept as UTF-8.
inline std::string json_dump(const json_t* j) {
    if (!j) return "null";
    char* s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    if (!s) return "null";
    std::string out(s);
    free(s);
    return out;
}

// Parses text; on failure returns null and fills err (line, column, message).
inline JsonPtr json_parse(const std::string& text, std::string* err = nullptr,
                          size_t flags = JSON_REJECT_DUPLICATES) {
    json_error_t e;
    JsonPtr j(json_loadb(text.data(), text.size(), flags, &e));
    if (!j && err)
        *err = std::string(e.text) + " at line " + std::to_string(e.line) + ", column " +
               std::to_string(e.column);
    return j;
}

// A string member or "" when missing or not a string.
inline std::string json_str(const json_t* obj, const char* key) {
    const char* s = json_string_value(json_object_get(obj, key));
    return s ? std::string(s) : std::string();
}

}  // namespace wh
