#!/usr/bin/env bash
# Runs the OWN mocha suites of two Riak HTTP client libraries, nodiak@0.4.4 and
# riak-js@1.1.0, and of Basho's official Node.js client basho-riak-client@2.4.0
# (Protocol Buffers), against a riakgo node that this script builds and
# starts, and stops again whatever happens. Nothing of the packages is edited
# or copied: npm installs them (`npm ci` in clients/nodiak, clients/riak-js and
# clients/riak-nodejs) and their test files run in place; basho-riak-client's
# tests (which npm does not ship) run from an unchanged copy of
# ../shared/clients/riak-nodejs-client/test placed beside the package's lib/.
# Tests of features riakgo does not have are skipped through
# clients/exclude-*.txt (mocha --grep RE --invert); clients/node20-broken-riakjs.txt
# lists the riak-js tests that fail on Node 20 with any server, reported apart.
# docs/compatibility.md, "Client suites", explains all of it.
#
# usage: clients/run.sh [nodiak] [riak-js] [riak-nodejs]     (default: all three)
#
# Prints one line per suite, "nodiak: N passed, M failed, X excluded", and
# exits non-zero if any test that is not skipped failed or did not run.
# Environment:
#   CLIENTS_PORT           HTTP port of the node (default 8098: riak-js's
#                          Makefile warm-up and several of its tests use 8098)
#   CLIENTS_PB_PORT        Protocol Buffers port of the node (default 8087,
#                          testparams.js's default; passed as RIAK_PORT)
#   RIAK_NODEJS_TESTS      the basho-riak-client test folder's parent
#                          (default ../shared/clients/riak-nodejs-client)
#   CLIENTS_RIAKGO_BIN     test this riakgo binary instead of building
#                          bin/riakgo from the working tree
#   CLIENTS_KEEP=1         keep the work directory (logs, summaries) even when
#                          everything passed
#   NODIAK_2I=false        skip nodiak's 2i tests (they run by default)
#   RIAKJS_NODE010_SHIM=0  run riak-js without clients/node010-http-options.js
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
port=${CLIENTS_PORT:-8098}
pbport=${CLIENTS_PB_PORT:-8087}
host=127.0.0.1
base="http://$host:$port"
suites=("$@")
[ ${#suites[@]} -eq 0 ] && suites=(nodiak riak-js riak-nodejs)
nodejs_tests=${RIAK_NODEJS_TESTS:-$root/../shared/clients/riak-nodejs-client}

for s in "${suites[@]}"; do
  case $s in
    nodiak | riak-js | riak-nodejs) ;;
    *) echo "run.sh: unknown suite '$s' (nodiak, riak-js, riak-nodejs)" >&2; exit 2 ;;
  esac
  if [ ! -f "$here/$s/node_modules/.package-lock.json" ]; then
    echo "run.sh: $s is not installed: run (cd clients/$s && npm ci)" >&2
    exit 2
  fi
done
command -v curl >/dev/null || { echo "run.sh: curl is needed" >&2; exit 2; }
for s in "${suites[@]}"; do
  if [ "$s" = riak-nodejs ]; then
    [ -f "$nodejs_tests/test/integration/testparams.js" ] ||
      { echo "run.sh: basho-riak-client's tests are not in $nodejs_tests/test (set RIAK_NODEJS_TESTS)" >&2; exit 2; }
    command -v openssl >/dev/null || { echo "run.sh: openssl is needed (riak-nodejs test certificates)" >&2; exit 2; }
  fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/riakgo-clients.XXXXXX")
node_pid=
mocha_pid=
tail_pid=
status=0

stop_node() {
  if [ -n "$node_pid" ] && kill -0 "$node_pid" 2>/dev/null; then
    kill -TERM "$node_pid" 2>/dev/null
    for _ in $(seq 1 100); do
      kill -0 "$node_pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$node_pid" 2>/dev/null; then
      echo "run.sh: riakgo (pid $node_pid) ignored SIGTERM for 10s; sending SIGKILL" >&2
      kill -KILL "$node_pid" 2>/dev/null
    fi
    wait "$node_pid" 2>/dev/null
  fi
  node_pid=
}

cleanup() {
  [ -n "$mocha_pid" ] && kill -TERM "$mocha_pid" 2>/dev/null && wait "$mocha_pid" 2>/dev/null
  [ -n "$tail_pid" ] && kill -TERM "$tail_pid" 2>/dev/null
  stop_node
  rm -rf "$work/data"
  if [ "$status" -eq 0 ] && [ "${CLIENTS_KEEP:-0}" != 1 ]; then
    rm -rf "$work"
  else
    echo "run.sh: logs and summaries kept in $work"
  fi
}
trap cleanup EXIT
trap 'status=130; exit 130' INT
trap 'status=143; exit 143' TERM

# 1. Build riakgo (unless told which binary to test).
riakgo=${CLIENTS_RIAKGO_BIN:-$root/bin/riakgo}
if [ -z "${CLIENTS_RIAKGO_BIN:-}" ]; then
  echo "== building riakgo"
  (cd "$root" && go build -o bin/riakgo ./cmd/riakgo) || { status=1; exit 1; }
fi
echo "== riakgo: $("$riakgo" version 2>&1 | head -n 1)"

# 2. Refuse to test whatever else may be listening on the ports.
for p in "$port" "$pbport"; do
  if (exec 3<>"/dev/tcp/$host/$p") 2>/dev/null; then
    echo "run.sh: something already listens on $host:$p; stop it first" >&2
    status=1
    exit 1
  fi
done

# 3. Start a fresh node and wait for /ping. For basho-riak-client, the node
# serves a certificate of the test CA (used once its security tests turn
# security on, at the end).
tlsargs=()
for s in "${suites[@]}"; do
  if [ "$s" = riak-nodejs ]; then
    ca="$work/riak-nodejs/tools/test-ca"
    mkdir -p "$ca"
    "$here/riak-nodejs-certs.sh" "$ca" >"$work/certs.out" 2>&1 ||
      { echo "run.sh: making test certificates failed:"; cat "$work/certs.out"; status=1; exit 1; }
    tlsargs=(--tls-cert "$ca/certs/node-cert.pem" --tls-key "$ca/private/node-key.pem" --tls-ca "$ca/certs/cacert.pem")
  fi
done
echo "== starting riakgo on $base, Protocol Buffers on $host:$pbport (data in $work/data)"
"$riakgo" start --data-dir "$work/data" --http "$host:$port" --pb "$host:$pbport" --log-level warn "${tlsargs[@]}" \
  >"$work/riakgo.log" 2>&1 &
node_pid=$!
deadline=$((SECONDS + 30))
until [ "$(curl -s -m 2 "$base/ping" 2>/dev/null)" = OK ]; do
  if ! kill -0 "$node_pid" 2>/dev/null; then
    echo "run.sh: riakgo exited before answering /ping; its log:" >&2
    tail -n 50 "$work/riakgo.log" >&2
    node_pid=
    status=1
    exit 1
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "run.sh: riakgo did not answer /ping within 30s; its log:" >&2
    tail -n 50 "$work/riakgo.log" >&2
    status=1
    exit 1
  fi
  sleep 0.2
done

# run_suite NAME DIR EXCLUDE-FILE BROKEN-FILE|"" MOCHA-ARGS... : runs mocha in DIR with the
# summary reporter; the human-readable log goes to the terminal and to a file.
summaries=()
run_suite() {
  local name=$1 dir=$2 exclude=$3 broken=$4
  shift 4
  local re lists=("$exclude")
  [ -n "$broken" ] && lists+=("$broken")
  re=$(node "$here/exclude.js" regex "${lists[@]}") || return 1
  local grep=()
  [ -n "$re" ] && grep=(--grep "$re" --invert)
  echo
  echo "== $name: mocha in ${dir#"$root"/} (skipping: ${lists[*]#"$root"/})"
  # mocha runs in the background so that a signal reaches the traps at once;
  # tail shows its log live and stops when mocha does. The log exists
  # before either starts, so tail never races the redirection.
  : >"$work/$name.out"
  (
    cd "$dir" &&
      RIAKGO_SUMMARY="$work/$name.json" RIAKGO_EXCLUDE_FILE="$exclude" RIAKGO_BROKEN_FILE="$broken" \
        exec timeout 900 node "$(node -p "require.resolve('mocha/bin/mocha.js', {paths: [process.cwd()]})")" \
        --reporter "$here/reporter.js" --exit --no-config --no-package "${grep[@]}" "$@"
  ) >"$work/$name.out" 2>&1 &
  mocha_pid=$!
  tail -n +1 -f --pid="$mocha_pid" "$work/$name.out" &
  tail_pid=$!
  wait "$mocha_pid"
  wait "$tail_pid"
  mocha_pid= tail_pid=
  summaries+=("$name")
}

for s in "${suites[@]}"; do
  case $s in
    nodiak)
      # nodiak's suite: host/port from NODIAK_HOST/NODIAK_PORT, NUM_OBJECTS
      # objects written in its before() hook. NODIAK_SEARCH (Riak Search 1.x)
      # stays unset, so its search tests are not even defined.
      NODIAK_HOST=$host NODIAK_PORT=$port NUM_OBJECTS=50 NODIAK_2I=${NODIAK_2I:-true} \
        run_suite nodiak "$here/nodiak" "$here/exclude-nodiak.txt" "" \
        --timeout 10000 --require should node_modules/nodiak/test/test.js || status=1
      ;;
    riak-js)
      # riak-js's Makefile warm-up before its suite: PUT, GET, DELETE one key.
      echo
      echo "== riak-js: warm-up as in riak-js's Makefile"
      for req in "PUT -H Content-Type:text/plain --data-binary body" "GET" "DELETE"; do
        # shellcheck disable=SC2086
        code=$(curl -s -o /dev/null -w '%{http_code}' -X $req "$base/buckets/test-riakjs/keys/test")
        echo "   ${req%% *} /buckets/test-riakjs/keys/test -> $code"
      done
      # The HTTP suites and the three unit suites, from the package folder,
      # as its Makefile runs them (minus the 1.4-specific and 2.0-specific
      # folders: Riak Search 1.x and Yokozuna).
      pkg="$here/riak-js/node_modules/riak-js"
      files=()
      for f in "$pkg"/test/http-*-test.js "$pkg"/test/meta-test.js "$pkg"/test/utils-test.js "$pkg"/test/mapper-test.js; do
        files+=("test/${f##*/}")
      done
      # riak-js targets Node 0.10: without the shim every request it makes
      # on Node 20 goes to "/" with no headers (see node010-http-options.js).
      shim=()
      [ "${RIAKJS_NODE010_SHIM:-1}" != 0 ] && shim=(--require "$here/node010-http-options.js")
      NODE_ENV=test HTTP_PORT=$port \
        run_suite riak-js "$pkg" "$here/exclude-riakjs.txt" "$here/node20-broken-riakjs.txt" \
        -t 20000 "${shim[@]}" "${files[@]}" || status=1
      ;;
    riak-nodejs)
      # basho-riak-client's tests require ../../lib/..., so they run from a
      # folder where an unchanged copy of test/ sits beside the installed
      # package's lib/ and index.js (symlinks). testparams.js reads test
      # certificates from ./tools/test-ca at load time (Basho's repository
      # has them in a git submodule): a throwaway CA and client certificate
      # are made with openssl. The bucket types testparams.js names are
      # created as riak-admin would, with riakgo admin.
      echo
      echo "== riak-nodejs: bucket types for testparams.js (riakgo admin bucket-type)"
      for t in "plain {}" "counters {\"datatype\":\"counter\"}" "sets {\"datatype\":\"set\"}" \
        "maps {\"datatype\":\"map\"}" "hlls {\"datatype\":\"hll\"}"; do
        name=${t%% *} props=${t#* }
        if ! { "$riakgo" admin --url "$base" bucket-type create "$name" "{\"props\":$props}" &&
          "$riakgo" admin --url "$base" bucket-type activate "$name"; } >"$work/bucket-type-$name.out" 2>&1; then
          echo "run.sh: bucket type $name:"; cat "$work/bucket-type-$name.out"
          status=1
        fi
        echo "   $name $props: $(tail -n 1 "$work/bucket-type-$name.out")"
      done
      dir="$work/riak-nodejs"
      pkg="$here/riak-nodejs/node_modules/basho-riak-client"
      cp -R "$nodejs_tests/test" "$dir/test"
      chmod -R u+w "$dir/test"
      ln -s "$pkg/lib" "$dir/lib"
      ln -s "$pkg/index.js" "$dir/index.js"
      ln -s "$here/riak-nodejs/node_modules" "$dir/node_modules"
      # The unit tests, then the integration tests (testparams.js: RIAK_HOST,
      # RIAK_PORT).
      RIAK_HOST=$host RIAK_PORT=$pbport \
        run_suite riak-nodejs "$dir" "$here/exclude-riak-nodejs.txt" "$here/not-run-riak-nodejs.txt" \
        -t 20000 --require ./test/disable-log.js --recursive test/unit test/integration || status=1
      # Last, its security tests (test/security): the users testparams.js
      # names, made as riak-admin would (riakpass with password Test1234,
      # riakuser by its client certificate), then security on. STARTTLS
      # with the test CA's certificates, then RpbAuthReq, then a ping.
      echo
      echo "== riak-nodejs security: users, sources, enable (riakgo admin security)"
      for a in "add-user riakpass password=Test1234" "add-user riakuser" \
        "add-source riakuser $host/32 certificate" "add-source riakpass $host/32 password" "enable"; do
        # shellcheck disable=SC2086
        if ! "$riakgo" admin --url "$base" security $a >"$work/security.out" 2>&1; then
          echo "run.sh: security $a:"; cat "$work/security.out"; status=1
        fi
        echo "   security $a: $(tail -n 1 "$work/security.out")"
      done
      RIAK_HOST=$host RIAK_PORT=$pbport \
        run_suite riak-nodejs-security "$dir" /dev/null "" \
        -t 20000 --require ./test/disable-log.js test/security || status=1
      ;;
  esac
done

stop_node

# 4. One summary line per suite; details of what failed above it.
echo
echo "== client suites against riakgo"
for name in "${summaries[@]}"; do
  label="broken on Node $(node -p 'process.versions.node.split(".")[0]') (skipped)"
  [ "$name" = riak-nodejs ] && label="not run: no riakgo involved (clients/not-run-riak-nodejs.txt)"
  node - "$work/$name.json" "$name" "$label" <<'EOF' || status=1
const fs = require('fs');
const [file, name, label] = process.argv.slice(2);
let s;
try {
  s = JSON.parse(fs.readFileSync(file, 'utf8'));
} catch (e) {
  console.log(`${name}: mocha did not finish (no summary in ${file}); see the log above`);
  process.exit(1);
}
for (const f of s.failures) console.log(`   FAILED ${f.kind === 'hook' ? '(hook) ' : ''}${f.title}: ${(f.message || '').split('\n')[0]}`);
if (s.notRun) console.log(`   ${s.notRun} test(s) did not run because a hook of their suite failed`);
for (const p of s.unmatchedExclusions) console.log(`   STALE exclusion (matches no test): ${p}`);
const mismatch = s.skipped !== s.excluded + s.broken;
if (mismatch) console.log(`   skip count mismatch: mocha skipped ${s.skipped}, the lists match ${s.excluded + s.broken}`);
console.log(`${name}: ${s.passed} passed, ${s.failed} failed, ${s.excluded} excluded` +
  (s.broken ? `, ${s.broken} ${label}` : '') +
  (s.pending ? `, ${s.pending} pending` : ''));
const bad = s.failed > 0 || s.unmatchedExclusions.length > 0 || mismatch;
process.exit(bad ? 1 : 0);
EOF
done
exit "$status"
