#!/usr/bin/env bash
# make demo: the whole system on one machine. A back-office on SQLite, the simulator
# playing sim/scenarios/demo.toml (one minute at a school-zone intersection: three
# red-light runners, three speeders, and drivers who do nothing wrong), and stoplined
# attached to the simulator's wires with firmware/examples/sim.toml. At the end: what the
# ground truth says happened, what the daemon captured, what arrived and verifies, and
# the reviewer URL with the demo login. With a terminal the back-office keeps serving
# until Ctrl-C; without one (CI) the script exits after the summary, non-zero if any
# violation was missed or anything failed to verify.
#
# Environment: STOPLINE_BUILD (build folder, default build), STOPLINE_DEMO_PORT (default
# 8765, another free one is taken when busy), STOPLINE_DEMO_KEEP=1 (keep the work folder),
# STOPLINE_DEMO_THEN (a command run after the summary while the back-office still serves,
# with STOPLINE_DEMO_URL set; its failure fails the demo).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${STOPLINE_BUILD:-build}
case "$build" in /*) ;; *) build="$root/$build" ;; esac
for bin in firmware/stoplined sim/stopline-sim backoffice/stopline-backoffice \
           tools/stopline-keygen tools/stopline-verify; do
  [ -x "$build/$bin" ] || { echo "demo: $build/$bin is missing: run 'make build' first" >&2; exit 1; }
done

work=$(mktemp -d /tmp/stopline-demo-XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "${STOPLINE_DEMO_KEEP:-0}" = 1 ]; then echo "demo: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 - "$1" <<'PY'
import socket, sys
want = int(sys.argv[1])
for port in [want, 0]:
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        print(s.getsockname()[1])
        break
    except OSError:
        pass
    finally:
        s.close()
PY
}
port=$(free_port "${STOPLINE_DEMO_PORT:-8765}")
url="http://127.0.0.1:$port"
device=demo-unit-1

echo "== stopline demo (work folder $work)"
echo "-- back-office: SQLite store, demo accounts, device enrolment"
mkdir -p "$work/sim" "$work/keys" "$work/enrolled"
"$build/tools/stopline-keygen" --device "$device" --out "$work/keys" | sed 's/^/  /'
cp "$work/keys/$device.pub" "$work/enrolled/"
"$build/backoffice/stopline-backoffice" init --data "$work/backoffice" | sed 's/^/  /'
"$build/backoffice/stopline-backoffice" demo-users --data "$work/backoffice" | sed 's/^/  /'
"$build/backoffice/stopline-backoffice" enroll-device --data "$work/backoffice" \
  --pub "$work/keys/$device.pub" --site "Demo intersection" \
  --description "Main St & School Rd (simulated)" >"$work/enroll.txt"
sed -n 1p "$work/enroll.txt" | sed 's/^/  /'
(umask 077 && sed -n 's/^token //p' "$work/enroll.txt" >"$work/device.token")
"$build/backoffice/stopline-backoffice" serve --data "$work/backoffice" \
  --listen "127.0.0.1:$port" >"$work/backoffice.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do
  grep -q "serving http://" "$work/backoffice.log" 2>/dev/null && break
  kill -0 "${pids[0]}" 2>/dev/null || { cat "$work/backoffice.log"; exit 1; }
  sleep 0.1
done
echo "  serving $url/"

echo "-- simulator: sim/scenarios/demo.toml (about a minute, real time)"
"$build/sim/stopline-sim" sim/scenarios/demo.toml --truth "$work/truth.jsonl" \
  --wires-json "$work/wires.json" --gpio-socket "$work/sim/gpio.sock" \
  --camera-socket "$work/sim/camera.sock" --radar-link "$work/sim/radar" \
  --wait-for gpio,camera,radar --wait-timeout 60 --start-delay 1 >"$work/sim.log" 2>&1 &
sim=$!
pids+=($sim)
for _ in $(seq 1 300); do
  [ -s "$work/wires.json" ] && break
  kill -0 "$sim" 2>/dev/null || { cat "$work/sim.log"; exit 1; }
  sleep 0.1
done

echo "-- stoplined: firmware/examples/sim.toml on the simulator's wires"
sed "s#^url = .*#url = \"$url\"#" firmware/examples/sim.toml >"$work/stoplined.toml"
"$build/firmware/stoplined" --config "$work/stoplined.toml" >"$work/stoplined.log" 2>&1 &
daemon=$!
pids+=($daemon)
# The daemon's story as it happens.
tail -n +1 --pid="$daemon" -f "$work/stoplined.log" 2>/dev/null |
  grep --line-buffered -E "captured seq=|cited|enforcement|running as|error" |
  grep --line-buffered -v -E "simulator closed|End of file|stopping" |
  sed -u -E 's/^[0-9-]+ ([0-9:.]+) /  \1 /' &
pids+=($!)

wait "$sim" || { echo "demo: the simulator failed:" >&2; cat "$work/sim.log" >&2; exit 1; }
echo "-- the scenario is over (the simulator closed its wires); finishing uploads"
# Captures in hand finish (continuation, B-shot, clip), then the spool drains.
sleep 5
for _ in $(seq 1 600); do
  [ -z "$(ls -A "$work/state/spool/records" 2>/dev/null)" ] && break
  sleep 0.1
done
kill -TERM "$daemon"
wait "$daemon" || { echo "demo: stoplined did not stop cleanly" >&2; exit 1; }
sleep 0.3

# Export what the back-office holds and check it with the project's verifier, as a
# court would receive it; read the truth and the queue.
python3 - "$url" "$device" "$work" <<'PY' >"$work/summary.txt"
import http.cookiejar, json, os, sys, urllib.request
url, device, work = sys.argv[1:4]
jar = http.cookiejar.CookieJar()
op = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
def call(path, body=None):
    req = urllib.request.Request(url + path, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with op.open(req, timeout=30) as r:
        return r.read()
call("/api/v1/login", {"username": "supervisor", "password": "demo-password"})
dev = next(d for d in json.loads(call("/api/v1/devices"))["devices"] if d["device_id"] == device)
os.makedirs(work + "/export", exist_ok=True)
for seq in range(dev["highest_seq"] + 1):
    with open("%s/export/%012d.slr" % (work, seq), "wb") as f:
        f.write(call("/api/v1/records/%s/%d" % (device, seq)))
queue = json.loads(call("/api/v1/queue"))
# What the ground truth implies under the example configuration's rules.
red, speed = [], []
for line in open(work + "/truth.jsonl"):
    r = json.loads(line)
    if r["type"] == "crossing" and r["phase"] == "red" and not r["signal_fault"]:
        ok = r["time_into_red_s"] > 0.3 and r.get("yellow_s", 0) >= 3.0 - 1e-6
        if r["lane"] == 1 and r["stopped_before_line"]:
            ok = False
        if r["speed_mph"] < (5 if r["lane"] == 1 else 15):
            ok = False
        if ok:
            red.append(r["plate"])
    if r["type"] == "vehicle_exit" and "in_beam" in r:
        b = r["in_beam"]
        if b["beacon_active"] == "all" and b["min_speed_mph"] > 35 and \
           b["max_speed_mph"] - b["min_speed_mph"] <= 2:
            speed.append(r["plate"])
print("truth_red=%d" % len(red))
print("truth_speed=%d" % len(speed))
print('truth_plates="%s"' % " ".join(sorted(red + speed)))
print("records=%d" % dev["records"])
print("highest_seq=%d" % dev["highest_seq"])
print("queued=%d" % queue["queued"])
# The reviewer can log in and the page is served.
op = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
call("/api/v1/login", {"username": "demo", "password": "demo-password"})
page = call("/")
print("ui=%s" % ("ok" if b"<html" in page.lower() else "no"))
PY
. "$work/summary.txt"
captured=$(grep -c "captured seq=" "$work/stoplined.log" || true)
uploaded=$(grep -c "uploaded seq=" "$work/stoplined.log" || true)
verify_status=0
"$build/tools/stopline-verify" --keys "$work/enrolled" "$work/export" >"$work/verify.txt" 2>&1 ||
  verify_status=$?
store_status=0
"$build/backoffice/stopline-backoffice" verify-store --data "$work/backoffice" \
  >"$work/verify-store.txt" 2>&1 || store_status=$?

truth=$((truth_red + truth_speed))
echo
echo "== summary"
echo "  ground truth  $truth violations ($truth_red red light, $truth_speed school-zone speed): $truth_plates"
echo "  captured      $captured (sealed and durably spooled by stoplined)"
echo "  uploaded      $uploaded records with checked receipts ($records in the back-office, seq 0..$highest_seq)"
echo "  review queue  $queued cases"
echo "  verified      stopline-verify: $(tail -n 1 "$work/verify.txt")"
echo "                verify-store:    $(tail -n 1 "$work/verify-store.txt")"
echo
echo "  reviewer UI   $url/   login: demo / demo-password (supervisor / demo-password)"

status=0
[ "$captured" -eq "$truth" ] || { echo "demo: captured $captured of $truth violations" >&2; status=1; }
[ "$queued" -ge "$captured" ] || { echo "demo: only $queued cases queued" >&2; status=1; }
[ "$records" -eq $((highest_seq + 1)) ] || { echo "demo: the chain has gaps" >&2; status=1; }
[ "$verify_status" -eq 0 ] || { cat "$work/verify.txt" >&2; status=1; }
[ "$store_status" -eq 0 ] || { cat "$work/verify-store.txt" >&2; status=1; }
[ "$ui" = ok ] || { echo "demo: the reviewer page is not served" >&2; status=1; }

# A check to run against the live back-office (the demo's browser test), with the URL.
if [ -n "${STOPLINE_DEMO_THEN:-}" ] && [ "$status" -eq 0 ]; then
  STOPLINE_DEMO_URL=$url bash -c "$STOPLINE_DEMO_THEN" || status=$?
fi

if [ -t 1 ] && [ "$status" -eq 0 ]; then
  echo
  echo "The back-office keeps serving; open the URL above. Ctrl-C to stop."
  wait "${pids[0]}" || true
fi
exit "$status"
