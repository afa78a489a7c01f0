#!/usr/bin/env bash
# Runs "$@" with a real, unlocked Secret Service (gnome-keyring) on the D-Bus
# session bus. Meant to be started under dbus-run-session.
set -euo pipefail
keyring_home="$(mktemp -d)"
export XDG_DATA_HOME="$keyring_home/data"
mkdir -p "$XDG_DATA_HOME"
# --unlock reads the login keyring's password from stdin and creates the
# keyring when it does not exist yet; the daemon then serves org.freedesktop.secrets.
eval "$(printf 'ci-keyring-password' | gnome-keyring-daemon --unlock --components=secrets)"
export GNOME_KEYRING_CONTROL
unset XDG_DATA_HOME
# Wait until the Secret Service answers on the bus.
for _ in $(seq 1 50); do
  if secret-tool search --all agentauth-ci probe >/dev/null 2>&1 || [ $? -eq 1 ]; then break; fi
  sleep 0.1
done
export AGENTAUTH_TEST_SECRET_SERVICE=1
status=0
"$@" || status=$?
kill "$(pgrep -u "$(id -u)" -f 'gnome-keyring-daemon' | head -1)" 2>/dev/null || true
rm -rf "$keyring_home"
exit "$status"
