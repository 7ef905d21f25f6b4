#include "config_file.hpp"

#include <fstream>
#include <sstream>

namespace wh {

namespace {
std::string trim(const std::string& s) {
    size_t b = s.find_first_not_of(" \t\r"), e = s.find_last_not_of(" \t\r");
    return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}
}  // namespace

std::string parse_config_text(const std::string& text, std::map<std::string, std::string>& out) {
    std::istringstream in(text);
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
        line = trim(line);
        if (line.empty() || line[0] == '#') continue;
        auto eq = line.find('=');
        if (eq == std::string::npos) return "line " + std::to_string(n) + ": expected key = value";
        std::string key = trim(line.substr(0, eq));
        if (key.empty()) return "line " + std::to_string(n) + ": missing key";
        out[key] = trim(line.substr(eq + 1));
    }
    return "";
}

std::string read_config_file(const std::string& path, std::map<std::string, std::string>& out) {
    std::ifstream in(path);
    if (!in) return "cannot read config file '" + path + "'";
    std::stringstream ss;
    ss << in.rdbuf();
    std::string err = parse_config_text(ss.str(), out);
    return err.empty() ? "" : path + ": " + err;
}

}  // namespace wh
