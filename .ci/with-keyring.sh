#!/usr/bin/env bash
# Runs "$@" with a real, unlocked Secret Service (gnome-keyring) on the D-Bus
# session bus. Meant to be started under dbus-run-session.
#
# The daemon runs in the foreground as our own background job, so the script
# knows its pid and stops exactly that process at the end: never a keyring
# found by name, which on a developer's machine could be their real one.
set -euo pipefail
keyring_home="$(mktemp -d)"
out="$keyring_home/daemon.out"
mkdir -p "$keyring_home/data"
# --unlock reads the login keyring's password from stdin and creates the
# keyring when it does not exist yet; the daemon then serves org.freedesktop.secrets.
printf 'ci-keyring-password' | XDG_DATA_HOME="$keyring_home/data" gnome-keyring-daemon --foreground --unlock --components=secrets >"$out" 2>/dev/null &
daemon_pid=$!
stop_daemon() {
  kill "$daemon_pid" 2>/dev/null || true
  wait "$daemon_pid" 2>/dev/null || true
  rm -rf "$keyring_home"
}
trap stop_daemon EXIT
# It prints GNOME_KEYRING_CONTROL=… once it is up.
for _ in $(seq 1 50); do
  [ -s "$out" ] && break
  sleep 0.1
done
if control=$(grep -m1 '^GNOME_KEYRING_CONTROL=' "$out"); then export "${control?}"; fi
# Wait until the Secret Service answers on the bus.
for _ in $(seq 1 50); do
  if secret-tool search --all agentauth-ci probe >/dev/null 2>&1 || [ $? -eq 1 ]; then break; fi
  sleep 0.1
done
export AGENTAUTH_TEST_SECRET_SERVICE=1
status=0
"$@" || status=$?
exit "$status"
