#!/bin/sh
# `make demo`: seed once, serve on embedded SQLite under var/, open the desktop signed in.
set -eu
BIN=.venv/bin
PORT="${CLINICDESK_BIND_PORT:-8765}"
URL="http://127.0.0.1:$PORT"
export CLINICDESK_DATABASE_URL="${CLINICDESK_DATABASE_URL:-sqlite:///var/clinicdesk.sqlite3}"
export CLINICDESK_DESK_DIR="${CLINICDESK_DESK_DIR:-var/desk}"

"$BIN/clinicdesk" seed-demo
"$BIN/clinicdesk" serve --port "$PORT" &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true' EXIT INT TERM

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
else
    "$BIN/clinicdesk" desktop --server "$URL" --demo-credentials var/demo-credentials.json
fi
