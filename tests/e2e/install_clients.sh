#!/usr/bin/env bash
# Installs the pinned real AI coding clients the e2e suite drives, into a cache dir.
#
# Usage: tests/e2e/install_clients.sh [CLIENT...]   (clients: opencode claude codex aider; default all)
# Cache dir: $INTERLINK_E2E_CACHE, default ~/.cache/interlink-e2e.
#
# Idempotent: each client records a stamp naming its pinned version, so a second run that finds
# every stamp current returns in well under a second. Each client installs on its own (one npm
# prefix or venv each) so one failure never blocks the others; the exit code is the number of
# clients that failed, and each failure's installer output is left in $CACHE/logs/<client>.log
# for the test session to quote as its skip (or CI failure) reason.
set -uo pipefail

CACHE="${INTERLINK_E2E_CACHE:-$HOME/.cache/interlink-e2e}"
OPENCODE_VERSION="1.18.33"
CLAUDE_VERSION="2.1.197"
CODEX_VERSION="0.169.0"
AIDER_VERSION="0.86.2"
PYTHON="${INTERLINK_E2E_PYTHON:-python3.11}"

mkdir -p "$CACHE/logs"

# npm_client NAME PACKAGE VERSION BIN: one npm prefix per client keeps their dependency trees apart.
npm_client() {
    local name="$1" pkg="$2" version="$3" bin="$4"
    local prefix="$CACHE/$name" stamp="$CACHE/$name/.installed-$version"
    if [[ -f "$stamp" && -x "$prefix/node_modules/.bin/$bin" ]]; then
        return 0
    fi
    rm -rf "$prefix" && mkdir -p "$prefix"
    # --ignore-scripts is not used: some clients pick their platform binary in postinstall.
    if npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error "$pkg@$version" \
        >"$CACHE/logs/$name.log" 2>&1 \
        && "$prefix/node_modules/.bin/$bin" --version >>"$CACHE/logs/$name.log" 2>&1; then
        touch "$stamp"
    else
        return 1
    fi
}

aider_client() {
    local venv="$CACHE/aider" stamp="$CACHE/aider/.installed-$AIDER_VERSION"
    if [[ -f "$stamp" && -x "$venv/bin/aider" ]]; then
        return 0
    fi
    rm -rf "$venv"
    # Aider pins numpy/scipy builds that exist for 3.11 wheels, hence its own 3.11 venv.
    if { "$PYTHON" -m venv "$venv" \
            && "$venv/bin/pip" install -q --upgrade pip \
            && "$venv/bin/pip" install -q "aider-chat==$AIDER_VERSION" \
            && "$venv/bin/aider" --version; } >"$CACHE/logs/aider.log" 2>&1; then
        touch "$stamp"
    else
        return 1
    fi
}

install_one() {
    case "$1" in
        opencode) npm_client opencode opencode-ai "$OPENCODE_VERSION" opencode ;;
        claude) npm_client claude @anthropic-ai/claude-code "$CLAUDE_VERSION" claude ;;
        codex) npm_client codex @openai/codex "$CODEX_VERSION" codex ;;
        aider) aider_client ;;
        *) echo "unknown client: $1" >&2; return 1 ;;
    esac
}

clients=("$@")
[[ ${#clients[@]} -eq 0 ]] && clients=(opencode claude codex aider)
failed=0
pids=()
# In parallel: npm and pip downloads dominate, and they do not contend much on 2 cores.
for c in "${clients[@]}"; do
    install_one "$c" &
    pids+=("$!")
done
for i in "${!clients[@]}"; do
    if wait "${pids[$i]}"; then
        echo "ok      ${clients[$i]}"
    else
        echo "FAILED  ${clients[$i]} (see $CACHE/logs/${clients[$i]}.log)"
        failed=$((failed + 1))
    fi
done
exit "$failed"
