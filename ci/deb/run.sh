#!/usr/bin/env bash
# The Debian package, used as a node runner would: built with cargo-deb,
# installed with `dpkg -i`, its systemd unit verified, then the unit's
# ExecStart started by hand as the unit's User with the unit's
# EnvironmentFile (no systemd runs in CI), a replay standing in for the
# node. Checks /health, the price and the JSON logs, then removes the
# package.
set -euo pipefail
cd "$(dirname "$0")/../.."

command -v cargo-deb >/dev/null || cargo install --locked cargo-deb
cargo deb -p fiatline-server --locked
deb=$(ls -t target/debian/fiatline_*.deb | head -n 1)
dpkg-deb --info "$deb"
dpkg-deb --contents "$deb"
echo "package size: $(stat -c %s "$deb") bytes; binary $(stat -c %s target/release/fiatline) bytes"

dpkg -i "$deb"
unit=$(dpkg -L fiatline | grep '/systemd/system/fiatline.service$')
if command -v systemd-analyze >/dev/null; then
  # Offline: checks every directive, the binary's path and the user.
  systemd-analyze verify "$unit"
fi
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
user=$(sed -n 's/^User=//p' "$unit")
env_file=$(sed -n 's/^EnvironmentFile=-\{0,1\}//p' "$unit")
getent passwd "$user" >/dev/null || { echo "the unit's user $user was not created"; exit 1; }
[ -f "$env_file" ] || { echo "no $env_file"; exit 1; }

work=$(mktemp -d)
chmod 755 "$work"
install -m 644 samples/replay-702861.jsonl.gz "$work/replay.jsonl.gz"
# The settings file as systemd reads it (KEY=VALUE lines), then what
# stands in for the node: a replay, played at once, on a spare port. As
# the unit would: its User (setpriv execs, so $! is fiatline itself), its
# LimitNOFILE, nothing else from this shell's environment.
mapfile -t settings < <(grep -E '^[A-Z_]+=' "$env_file")
nofile=$(sed -n 's/^LimitNOFILE=//p' "$unit")
(
  ulimit -n "${nofile:-1024}" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
  exec setpriv --reuid="$user" --regid="$user" --init-groups -- \
    env -i PATH=/usr/bin:/bin "${settings[@]}" \
    FIATLINE_SOURCE=replay FIATLINE_REPLAY="$work/replay.jsonl.gz" FIATLINE_SPEED=max \
    FIATLINE_LISTEN=127.0.0.1:18080 FIATLINE_LOG_FORMAT=json \
    $exec_start >"$work/out" 2>"$work/log"
) &
pid=$!
state=""
price=""
for _ in $(seq 1 100); do
  state=$(curl -sf http://127.0.0.1:18080/health 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])' 2>/dev/null || true)
  price=$(curl -sf http://127.0.0.1:18080/api/v1/price 2>/dev/null | python3 -c 'import json,sys; p=json.load(sys.stdin)["price"]; print(p if p else "")' 2>/dev/null || true)
  [ "$state" = "finished" ] && [ -n "$price" ] && break
  sleep 0.2
done
kill "$pid"
wait "$pid" || true
echo "installed service: /health state $state, price $price"
[ "$state" = "finished" ] && [ -n "$price" ] || { cat "$work/log"; echo "the installed service never finished its replay"; exit 1; }
# A service writes its logs, and nothing else: stdout stays empty.
[ ! -s "$work/out" ] || { cat "$work/out"; echo "the service wrote to stdout"; exit 1; }
# Every log line is one JSON object with a level and a message.
python3 - "$work/log" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert lines, "no log lines"
for line in lines:
    event = json.loads(line)
    assert event["level"] and event["fields"]["message"], line
assert any("serving http://127.0.0.1:18080/" in json.loads(l)["fields"]["message"] for l in lines)
print(f"{len(lines)} JSON log lines, e.g. {lines[0]}")
PY

dpkg -r fiatline
[ -f "$env_file" ] || { echo "removal deleted the settings file (a conffile)"; exit 1; }
dpkg -P fiatline
[ ! -e /usr/bin/fiatline ] || { echo "/usr/bin/fiatline left after purge"; exit 1; }
cat "$work/log"; rm -rf "$work"
echo "the package installs, runs as $user from its unit's settings, and removes cleanly"
