// "key = value" files with # comments (the worker's config; test tools).
#pragma once

#include <map>
#include <string>

namespace wh {

// Returns "" or "line N: what is wrong". Later keys override earlier ones.
std::string parse_config_text(const std::string& text, std::map<std::string, std::string>& out);
std::string read_config_file(const std::string& path, std::map<std::string, std::string>& out);

}  // namespace wh
