#!/usr/bin/env bash
# No function in common/, mod_webhook/ or worker/ is longer than 80 lines: clang-tidy's
# readability-function-size over every source file of the build (compile_commands.json).
# usage: function_size.sh REPO_DIR BUILD_DIR
set -euo pipefail
REPO=$1 BUILD=$2
[[ -f $BUILD/compile_commands.json ]] || { echo "no $BUILD/compile_commands.json"; exit 1; }
mapfile -t files < <(cd "$REPO" && git ls-files 'common/*.cpp' 'mod_webhook/*.cpp' 'mod_webhook/*.c' 'worker/*.cpp' |
                     sed "s|^|$REPO/|")
config='{CheckOptions: [{key: readability-function-size.LineThreshold, value: 80}]}'
out=$(printf '%s\n' "${files[@]}" | xargs -P 2 -n 4 clang-tidy -p "$BUILD" --quiet \
        --checks='-*,readability-function-size' --config="$config" 2>/dev/null | grep -A1 'warning:' || true)
echo "${#files[@]} files checked"
if [[ -n $out ]]; then
  echo "functions over 80 lines (split them into named steps):"
  echo "$out"
  exit 1
fi
