# A throwaway Portcullis server for the compatibility scripts. Sourced, not run.
# Needs BIN (the binary), DIR (a scratch directory), PASSWORD (the admin's); extra
# environment for the server goes in SERVER_ENV (an array of NAME=value). Sets PORT,
# BASE and SERVER_PID, and waits until /api/v2.0/ping answers (exit 2 if it never does).
# The caller's trap stops SERVER_PID.

start_throwaway_server() {
  PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
  BASE="http://127.0.0.1:$PORT"
  env PORTCULLIS_ADMIN_PASSWORD="$PASSWORD" PORTCULLIS_LOG=warn "${SERVER_ENV[@]}" \
    "$BIN" serve --data-dir "$DIR/data" --listen "127.0.0.1:$PORT" >"$DIR/server.log" 2>&1 &
  SERVER_PID=$!
  local _
  for _ in $(seq 1 300); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      echo "server exited during startup; its log:" >&2
      cat "$DIR/server.log" >&2
      exit 2
    fi
    if python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
      "$BASE/api/v2.0/ping" 2>/dev/null; then
      return 0
    fi
    sleep 0.2
  done
  echo "server did not answer $BASE/api/v2.0/ping within 60 s; its log:" >&2
  cat "$DIR/server.log" >&2
  exit 2
}
