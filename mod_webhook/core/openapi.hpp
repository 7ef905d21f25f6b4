// The OpenAPI document of both handlers (docs/openapi.yaml), as JSON text. Generated at build
// time (openapi_embed.py); nothing is read at run time.
#pragma once

#include <string_view>

namespace wh::api {

std::string_view openapi_json();

}  // namespace wh::api
