#!/bin/sh
# `make demo`: seed once, serve on embedded SQLite under var/, open the desktop signed in.
#
# The desk keeps its key in the system keyring and refuses to start without one. A fresh
# machine often has a screen but no unlocked keyring (no desktop session, or a locked
# one): then the demo starts a private GNOME Keyring of its own, in its own D-Bus session,
# unlocked with a demo password, and says so. Whatever stops the desk, the terminal says
# why and the server is stopped cleanly.
set -eu
BIN="${CLINICDESK_BIN:-.venv/bin}"
PORT="${CLINICDESK_BIND_PORT:-8765}"
URL="http://127.0.0.1:$PORT"
export CLINICDESK_DATABASE_URL="${CLINICDESK_DATABASE_URL:-sqlite:///var/clinicdesk.sqlite3}"
export CLINICDESK_DESK_DIR="${CLINICDESK_DESK_DIR:-var/desk}"
DEMO_KEYRING_DIR="$PWD/var/demo-keyring"
DEMO_KEYRING_PASSWORD="clinicdesk-demo"
KEYRING_PACKAGES="gnome-keyring dbus dbus-x11 libsecret-tools"

"$BIN/clinicdesk" seed-demo
"$BIN/clinicdesk" serve --port "$PORT" &
SERVER=$!
stop_server() {
    if kill -0 "$SERVER" 2>/dev/null; then
        kill "$SERVER" 2>/dev/null || true
        wait "$SERVER" 2>/dev/null || true
        echo "Server stopped."
    fi
}
trap stop_server EXIT
trap 'exit 130' INT TERM

"$BIN/python" - "$URL" <<'PY'
import sys, time, urllib.request
for _ in range(100):
    try:
        urllib.request.urlopen(sys.argv[1] + "/healthz", timeout=1)
        break
    except OSError:
        time.sleep(0.2)
else:
    sys.exit("The server did not start; see the messages above.")
PY
echo "Server running at $URL"

if [ "$(uname)" != "Darwin" ] && [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
    echo "No display found, so the desktop cannot open here. The server keeps running at"
    echo "$URL; open the desktop from a machine with a screen ('make demo' there, or"
    echo "'clinicdesk desktop --server $URL'). Press Ctrl+C to stop."
    wait "$SERVER"
    exit 0
fi

# Does an unlocked keyring answer? (A locked one would show a prompt and then refuse.)
keyring_answers() {
    timeout 15 "$BIN/python" - <<'PY' >/dev/null 2>&1
import sys
from contextlib import closing

from sync import keys

try:
    keys.require_secure_keyring()
except Exception:
    sys.exit(1)
try:
    import secretstorage  # Linux's Secret Service; other systems' keyrings need no check
except ImportError:
    sys.exit(0)
try:
    with closing(secretstorage.dbus_init()) as connection:
        locked = secretstorage.get_default_collection(connection).is_locked()
except Exception:
    sys.exit(1)
sys.exit(1 if locked else 0)
PY
}

if keyring_answers; then
    status=0
    "$BIN/clinicdesk" desktop --server "$URL" --demo-credentials var/demo-credentials.json \
        || status=$?
else
    echo "No unlocked keyring (Secret Service) answers here, and the desk keeps its key in"
    echo "one. Starting a private GNOME Keyring for this demo, in its own D-Bus session,"
    echo "unlocked with the password '$DEMO_KEYRING_PASSWORD' (its files: $DEMO_KEYRING_DIR)."
    if ! command -v gnome-keyring-daemon >/dev/null 2>&1 || ! command -v dbus-run-session >/dev/null 2>&1; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
            echo "Installing from Debian: $KEYRING_PACKAGES"
            export DEBIAN_FRONTEND=noninteractive
            apt-get update -qq
            # shellcheck disable=SC2086 # word splitting is the point
            apt-get install -y -qq --no-install-recommends $KEYRING_PACKAGES >/dev/null
        else
            echo "Clinicdesk cannot start: GNOME Keyring and D-Bus are not installed. Install" >&2
            echo "them (sudo apt install $KEYRING_PACKAGES), or unlock your desktop's" >&2
            echo "keyring, and run 'make demo' again." >&2
            exit 1
        fi
    fi
    mkdir -p "$DEMO_KEYRING_DIR/data" "$DEMO_KEYRING_DIR/run"
    chmod 700 "$DEMO_KEYRING_DIR" "$DEMO_KEYRING_DIR/run"
    # The private keyring's sockets go in a runtime folder of its own, away from any
    # keyring of the user's; a Wayland display named relative to the old one is kept.
    case "${WAYLAND_DISPLAY:-}" in
        "" | /*) ;;
        *) export WAYLAND_DISPLAY="${XDG_RUNTIME_DIR:-/run/user/$(id -u)}/$WAYLAND_DISPLAY" ;;
    esac
    status=0
    XDG_DATA_HOME="$DEMO_KEYRING_DIR/data" XDG_RUNTIME_DIR="$DEMO_KEYRING_DIR/run" \
        dbus-run-session -- sh -c '
            printf %s "$1" | gnome-keyring-daemon --daemonize --unlock --components=secrets >/dev/null
            shift
            exec "$@"' demo-keyring "$DEMO_KEYRING_PASSWORD" \
        "$BIN/clinicdesk" desktop --server "$URL" --demo-credentials var/demo-credentials.json \
        || status=$?
fi

case "$status" in
    0) ;;
    130 | 143)  # Ctrl+C or a kill: someone stopped it, nothing went wrong
        echo "The desktop was stopped." ;;
    *)
        echo "The desktop stopped with an error (exit status $status; the reason is above)." >&2
        exit "$status" ;;
esac
