#!/usr/bin/env bash
# The main job end to end, in a throwaway home: init (keychain if one answers,
# else the encrypted file backend), add an agent, mint a token, verify it,
# verify the audit log. Run by `npm run demo` and by the README's first command.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
agentauth() { node "$here/bin/agentauth.js" "$@"; }
[ -f "$here/dist/main.cjs" ] || (cd "$here" && npm run --silent build)

export AGENTAUTH_HOME="${AGENTAUTH_HOME:-$(mktemp -d "${TMPDIR:-/tmp}/agentauth-demo.XXXXXX")}"
if [ -z "${AGENTAUTH_PASSPHRASE_FILE:-}${AGENTAUTH_PASSPHRASE:-}" ]; then
  # Headless machines have no keychain: a random passphrase in a 0600 file.
  export AGENTAUTH_PASSPHRASE_FILE="$AGENTAUTH_HOME/.demo-passphrase"
  (umask 077; mkdir -p "$AGENTAUTH_HOME"; head -c 32 /dev/urandom | base64 > "$AGENTAUTH_PASSPHRASE_FILE")
fi
if [ -t 2 ] && [ -z "${NO_COLOR:-}" ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
step() { printf '\n%s$ %s%s\n' "$bold" "$*" "$plain" >&2; }

step agentauth init --yes
agentauth init --yes
step agentauth agent add home-monitor --scope 'docker:restart:*' --max-ttl 1h --aud pack.lan
agentauth agent add home-monitor --scope 'docker:restart:*' --max-ttl 1h --aud pack.lan
step 'TOKEN=$(agentauth token mint home-monitor --aud pack.lan --scope docker:restart:nginx --ttl 10m)'
TOKEN=$(agentauth token mint home-monitor --aud pack.lan --scope docker:restart:nginx --ttl 10m)
echo "$TOKEN"
step 'agentauth token verify "$TOKEN" --aud pack.lan --scope docker:restart:nginx'
agentauth token verify "$TOKEN" --aud pack.lan --scope docker:restart:nginx
step agentauth audit verify
agentauth audit verify
printf '\nDemo home: %s (delete it when done)\n' "$AGENTAUTH_HOME" >&2
