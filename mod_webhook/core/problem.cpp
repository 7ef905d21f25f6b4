#include "problem.hpp"

#include "json.hpp"
#include "util.hpp"

namespace wh::api {

const char* status_title(int status) {
    switch (status) {
        case 400: return "Bad Request";
        case 401: return "Unauthorized";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 409: return "Conflict";
        case 413: return "Content Too Large";
        case 415: return "Unsupported Media Type";
        case 422: return "Unprocessable Content";
        case 429: return "Too Many Requests";
        case 500: return "Internal Server Error";
        case 503: return "Service Unavailable";
        default: return status >= 500 ? "Server Error" : "Client Error";
    }
}

HttpResponse problem(int status, const std::string& detail, const FieldErrors& errors) {
    JsonPtr root(json_object());
    json_object_set_new(root.get(), "type", json_string("about:blank"));
    json_object_set_new(root.get(), "title", json_string(status_title(status)));
    json_object_set_new(root.get(), "status", json_integer(status));
    // json_text: the detail may quote the parser's "near '…'" with invalid UTF-8 bytes
    json_object_set_new(root.get(), "detail", json_text(detail));
    json_t* arr = json_array();
    for (const auto& e : errors) {
        json_t* item = json_object();
        json_object_set_new(item, "field", json_text(e.field));
        json_object_set_new(item, "message", json_text(e.message));
        json_array_append_new(arr, item);
    }
    if (errors.more()) {
        json_t* item = json_object();
        json_object_set_new(item, "field", json_string(""));
        json_object_set_new(item, "message",
                            json_string(("\u2026and " + std::to_string(errors.more()) + " more").c_str()));
        json_array_append_new(arr, item);
    }
    json_object_set_new(root.get(), "errors", arr);
    HttpResponse r;
    r.status = status;
    r.content_type = "application/problem+json";
    r.body = json_dump(root.get());
    return r;
}

HttpResponse json_response(int status, const std::string& json_text) {
    HttpResponse r;
    r.status = status;
    r.content_type = "application/json";
    r.body = json_text;
    return r;
}

}  // namespace wh::api
