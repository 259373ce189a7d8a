#!/bin/sh
# Mutation testing with StrykerJS (issue 11), outside npm test: it breaks the product on purpose,
# one small change (a mutant) at a time, and counts the mutants no test notices.
#
#   bench/mutation.sh                 every group below, one after another
#   bench/mutation.sh ssrf authority  only these groups
#
# StrykerJS is installed on first use under $STRYKER_PREFIX (default /work/tools/stryker), never into
# the project's node_modules. It runs niced with one test process (the command runner; ~1-4 s per
# mutant here, so the whole list is over an hour on a 2-core VM: pick groups). Reports land in
# test-artifacts/mutation/<group>.{json,html,txt}.
set -eu
cd "$(dirname "$0")/.."
PREFIX=${STRYKER_PREFIX:-/work/tools/stryker}
STRYKER="$PREFIX/node_modules/.bin/stryker"
if [ ! -x "$STRYKER" ]; then
  echo "installing @stryker-mutator/core under $PREFIX" >&2
  mkdir -p "$PREFIX"
  npm install --prefix "$PREFIX" --no-audit --no-fund @stryker-mutator/core >&2
fi
EGW_NODE_MODULES=$(cd node_modules && pwd -P)
export EGW_NODE_MODULES

# group | files to mutate (comma-separated) | the test files that guard them
GROUPS_TABLE='
normalize-path|src/policy/normalize-path.ts|test/policy/normalize-path.test.ts
decide|src/policy/decide.ts,src/policy/request.ts|test/policy/decide.test.ts test/policy/decide-unit.test.ts test/policy/match-why.test.ts test/policy/validation.test.ts
match|src/policy/match.ts|test/policy/decide.test.ts test/policy/decide-unit.test.ts test/policy/match-why.test.ts test/policy/validation.test.ts
jwt|src/policy/jwt.ts,src/policy/jwks-cache.ts|test/policy/authn-validation.test.ts test/e2e/authn.test.ts
ext-authz|src/policy/ext-authz.ts|test/policy/ext-authz.test.ts test/cli/check-ext-authz.test.ts
plan|src/dataplane/plan.ts|test/dataplane/plan.test.ts
ssrf|src/dataplane/ssrf.ts|test/dataplane/ssrf.test.ts
authority|src/dataplane/authority.ts|test/dataplane/authority.test.ts
'
WANT=" $* "
OUT=test-artifacts/mutation
mkdir -p "$OUT" .stryker-tmp
echo "$GROUPS_TABLE" | while IFS='|' read -r group files tests; do
  [ -n "$group" ] || continue
  if [ "$#" -gt 0 ] && [ "${WANT#* $group }" = "$WANT" ]; then continue; fi
  config=".stryker-tmp/stryker.$group.json"
  # The shared config, with this group's report files.
  node -e '
    const [base, out, group] = process.argv.slice(1);
    const c = JSON.parse(require("fs").readFileSync(base, "utf8"));
    c.jsonReporter = { fileName: `${out}/${group}.json` };
    c.htmlReporter = { fileName: `${out}/${group}.html` };
    require("fs").writeFileSync(process.argv[4], JSON.stringify(c, null, 2));
  ' stryker.config.json "$OUT" "$group" "$config"
  echo "== $group: mutating $files, tests: $tests" >&2
  EGW_MUTATION_TESTS="$tests" nice -n 10 "$STRYKER" run "$config" --mutate "$files" --reporters clear-text,json,html > "$OUT/$group.txt" 2>&1 || {
    echo "stryker failed for $group; see $OUT/$group.txt" >&2
    continue
  }
  grep '^All files' "$OUT/$group.txt" >&2 || true
done
