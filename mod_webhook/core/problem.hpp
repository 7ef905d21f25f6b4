// Errors as application/problem+json (RFC 9457).
#pragma once

#include <string>
#include <vector>

#include "http.hpp"

namespace wh::api {

struct FieldError {
    std::string field;    // "url", "eventTypes[2]", "[3].eventCode", "" for the whole body
    std::string message;
};
using FieldErrors = std::vector<FieldError>;

// The standard reason phrase ("Unprocessable Content" for 422, …).
const char* status_title(int status);

// {"type","title","status","detail","errors":[{"field","message"}]} with the right type.
HttpResponse problem(int status, const std::string& detail, const FieldErrors& errors = {});

// A JSON response with the given body text.
HttpResponse json_response(int status, const std::string& json_text);

}  // namespace wh::api
