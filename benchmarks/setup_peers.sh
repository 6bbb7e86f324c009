#!/usr/bin/env bash
# Installs the benchmark's load tool (wrk) and the peer gateways into benchmarks/.peers/.
# Each part is independent: a peer that cannot install is reported and the bench skips it.
#   benchmarks/setup_peers.sh [wrk|litellm|portkey]...     (default: all three)
# Idempotent: a part already installed returns at once. Needs the package registries (apt, PyPI, npm).
set -uo pipefail
cd "$(dirname "$0")"
PEERS="$PWD/.peers"
mkdir -p "$PEERS"
PARTS=("$@")
[ ${#PARTS[@]} -eq 0 ] && PARTS=(wrk litellm portkey)
LITELLM_SPEC="${LITELLM_SPEC:-litellm[proxy]}"
PORTKEY_VERSION="${PORTKEY_VERSION:-1.15.2}"
status=0

install_wrk() {
  command -v wrk >/dev/null && return 0
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq wrk; else sudo apt-get install -y -qq wrk; fi
}

install_litellm() {
  local v="$PEERS/litellm"
  [ -x "$v/bin/litellm" ] && return 0
  rm -rf "$v"
  python3 -m venv "$v" || return 1
  # (grep drops pip's notes about unreachable local index mirrors; pip's own errors pass through)
  "$v/bin/pip" install -q "$LITELLM_SPEC" 2>&1 | grep -v "^WARNING: Location"
  [ -x "$v/bin/litellm" ]
}

install_portkey() {
  local d="$PEERS/portkey" b
  b="$d/node_modules/@portkey-ai/gateway/build"
  [ -f "$b/start-server-local.js" ] && return 0
  command -v npm >/dev/null || { echo "npm not found" >&2; return 1; }
  mkdir -p "$d"
  # @hono/node-server pinned to 1.14.1 through npm "overrides": with what npm picks by default
  # (>= 1.14.2) every streaming request answers HTTP 500 "TypeError: immutable" (Portkey-AI/gateway#1389).
  cat > "$d/package.json" <<JSON
{
  "name": "interlink-bench-portkey",
  "private": true,
  "dependencies": { "@portkey-ai/gateway": "$PORTKEY_VERSION" },
  "overrides": { "@hono/node-server": "1.14.1" }
}
JSON
  (cd "$d" && npm install --no-audit --no-fund --loglevel=error) || return 1
  # The published start-server.js calls serve({fetch, port}) without a hostname (all interfaces).
  # The copy binds 127.0.0.1; the pattern is the minified 1.15.2 build, so check that it applied.
  sed 's/Gu(e({fetch:Lu.fetch,port:Ku}))/Gu(e({fetch:Lu.fetch,port:Ku,hostname:"127.0.0.1"}))/' \
    "$b/start-server.js" > "$b/start-server-local.js.tmp"
  if grep -q 'hostname:"127.0.0.1"' "$b/start-server-local.js.tmp"; then
    mv "$b/start-server-local.js.tmp" "$b/start-server-local.js"
  else
    rm -f "$b/start-server-local.js.tmp"
    echo "portkey: the 127.0.0.1 bind patch did not apply to $b/start-server.js" >&2
    return 1
  fi
}

for part in "${PARTS[@]}"; do
  echo "== $part"
  if "install_$part"; then echo "ok: $part"; else echo "FAILED: $part (the bench will skip it)" >&2; status=1; fi
done
exit $status
