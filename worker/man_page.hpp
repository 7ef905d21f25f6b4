// webhook-worker(8), rendered from the same option table as --help (options.hpp), so the
// two cannot drift. `webhook-worker --man` prints it; the build installs it.
#pragma once

#include <string>

namespace wh::worker {

// The page in roff (man macros). `sql_dir`: the compiled-in migrations directory.
std::string man_page(const std::string& version, const std::string& sql_dir);

// `text` safe in roff: '\' as \e, '-' as \- (so flags copy and paste), and a line that would
// start with '.' or '\'' guarded with \&.
std::string roff_escape(const std::string& text);

}  // namespace wh::worker
