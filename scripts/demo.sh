#!/usr/bin/env bash
# The main job end to end, in a throwaway home: init (keychain if one answers,
# else the encrypted file backend), add an agent, mint a token, verify it; then
# store an API key, run a child that sees only its placeholder while the
# gateway hands the real key to the (local, stand-in) API; replay and verify the
# audit log. Run by `npm run demo` and by the README's first command.
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

# The gateway: a stand-in API on 127.0.0.1 that accepts only the real key.
key="${AGENTAUTH_DEMO_KEY:-sk-demo-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')}"
coproc UPSTREAM { exec node "$here/scripts/demo-upstream.mjs" "$key"; }
trap 'kill "$UPSTREAM_PID" 2>/dev/null || true' EXIT
read -r port <&"${UPSTREAM[0]}"
step "printf %s \"\$KEY\" | agentauth secret add demo-api --host http://127.0.0.1:$port --header 'authorization:Bearer {}' --env DEMO_API_KEY"
printf %s "$key" | agentauth secret add demo-api --host "http://127.0.0.1:$port" --header 'authorization:Bearer {}' --env DEMO_API_KEY
step agentauth agent add coder --scope demo:read --secret demo-api
agentauth agent add coder --scope demo:read --secret demo-api
child='console.log("child: DEMO_API_KEY=" + process.env.DEMO_API_KEY);
fetch(process.argv[1], { headers: { authorization: "Bearer " + process.env.DEMO_API_KEY } }).then((r) => r.text()).then((t) => process.stdout.write(t));'
step "agentauth run --agent coder -- node -e '<fetch http://127.0.0.1:$port/v1 with \$DEMO_API_KEY>'"
agentauth run --agent coder -- node -e "$child" "http://127.0.0.1:$port/v1"
step agentauth audit replay --agent coder
agentauth audit replay --agent coder
step agentauth audit verify
agentauth audit verify
printf '\nDemo home: %s (delete it when done)\n' "$AGENTAUTH_HOME" >&2
