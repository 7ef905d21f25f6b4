// Errors as application/problem+json (RFC 9457).
#pragma once

#include <cstddef>
#include <initializer_list>
#include <string>
#include <vector>

#include "http.hpp"

namespace wh::api {

struct FieldError {
    std::string field;    // "url", "eventTypes[2]", "[3].eventCode", "" for the whole body
    std::string message;
};

// Every bad field of a request, up to kMaxFieldErrors; past that only their number is kept,
// so a body of 200,000 bad members costs no more memory, nor a longer answer, than one of 51
// (problem() ends the list with {"field": "", "message": "…and N more"}). Every validator
// and handler collects through push_back, so the cap holds for all of them.
class FieldErrors {
public:
    static constexpr size_t kMaxFieldErrors = 50;

    FieldErrors() = default;
    FieldErrors(std::initializer_list<FieldError> errors) {
        for (const auto& e : errors) push_back(e);
    }
    void push_back(FieldError e) {
        if (kept_.size() < kMaxFieldErrors) kept_.push_back(std::move(e));
        else ++more_;
    }
    bool empty() const { return kept_.empty(); }
    size_t size() const { return kept_.size(); }  // the kept ones
    size_t more() const { return more_; }         // left out past the cap
    const FieldError& operator[](size_t i) const { return kept_[i]; }
    std::vector<FieldError>::const_iterator begin() const { return kept_.begin(); }
    std::vector<FieldError>::const_iterator end() const { return kept_.end(); }

private:
    std::vector<FieldError> kept_;
    size_t more_ = 0;
};

// The standard reason phrase ("Unprocessable Content" for 422, …).
const char* status_title(int status);

// {"type","title","status","detail","errors":[{"field","message"}]} with the right type; when
// errors were left out, a last item {"field": "", "message": "…and N more"}.
HttpResponse problem(int status, const std::string& detail, const FieldErrors& errors = {});

// A JSON response with the given body text.
HttpResponse json_response(int status, const std::string& json_text);

}  // namespace wh::api
