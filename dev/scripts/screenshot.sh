#!/usr/bin/env bash
# Screenshots of a flow run in the Temporal Web UI, for the README.
#
# Starts `flowstate dev` (embedded Temporal server, its Web UI and the examples' worker) on free
# ports, runs an example flow with `flowstate run`, and has headless Chromium load pages of the
# run in the Web UI and save each as a PNG. Run it from anywhere in the repository:
#
#   bash dev/scripts/screenshot.sh       # docs/webui-user-metadata.png and docs/webui-history.png
#   bash dev/scripts/screenshot.sh --flow crashing-flow --page call-stack --out-dir /tmp
#
# Options:
#   --flow FLOW      the example flow to run (default: ok-with-failure-flow)
#   --input JSON     its input (default for ok-with-failure-flow: {"x": "foo", "y": 42})
#   --page PAGE      a page of the run: user-metadata (its current details), history, timeline,
#                    call-stack, queries, metadata (search attributes and memo)…; repeat for
#                    several (default: user-metadata and history)
#   --out-dir DIR    where the pictures go, as webui-PAGE.png (default: docs)
#   --size W,H       the browser window (default: 1400,1000)
#   --wait MS        virtual time the page gets to load and render (default: 15000)
#   --install        install Chromium with apt-get when it is missing (Debian, Ubuntu)
#
# Needs Chromium (Debian's `chromium` package: `apt-get install -y chromium`), found as $CHROMIUM,
# chromium or chromium-browser. The script installs nothing unless given --install.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

flow=ok-with-failure-flow
input=
input_set=
pages=()
out_dir=docs
size=1400,1000
wait_ms=15000
install=
while [ $# -gt 0 ]; do
  case "$1" in
    --flow) flow=$2; shift 2 ;;
    --input) input=$2; input_set=1; shift 2 ;;
    --page) pages+=("$2"); shift 2 ;;
    --out-dir) out_dir=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --wait) wait_ms=$2; shift 2 ;;
    --install) install=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "screenshot: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ ${#pages[@]} -gt 0 ] || pages=(user-metadata history)
if [ -z "$input_set" ] && [ "$flow" = ok-with-failure-flow ]; then
  input='{"x": "foo", "y": 42}'
fi

step() { printf '… %s\n' "$*"; }
done_() { printf '✓ %s\n' "$*"; }
fail() { printf '✗ %s\n' "$*" >&2; exit 1; }

chromium=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [ -z "$chromium" ]; then
  if [ -z "$install" ]; then
    fail "Chromium is missing: install it with 'sudo apt-get install -y chromium', or run this script with --install, or set CHROMIUM"
  fi
  step "installing Chromium (apt-get install -y chromium)"
  sudo=; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get install -y chromium
  chromium=$(command -v chromium) || fail "apt-get installed no chromium command"
fi
done_ "$("$chromium" --version 2>/dev/null || echo "$chromium")"

tmp=$(mktemp -d)
dev_pid=
cleanup() {
  if [ -n "$dev_pid" ] && kill -0 "$dev_pid" 2>/dev/null; then
    kill -INT "$dev_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$dev_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$dev_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

step "building flowstate (the first build compiles the Temporal server: minutes)"
go build -o "$tmp/flowstate" ./dev/cmd/flowstate
done_ "built"

# listening says whether something accepts connections on 127.0.0.1:$1.
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
  local p
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 40000))
    if ! listening "$p"; then echo "$p"; return; fi
  done
  fail "found no free port"
}
port=$(free_port)
ui_port=$(free_port)
[ "$port" != "$ui_port" ] || ui_port=$(free_port)

step "starting flowstate dev: Temporal on 127.0.0.1:$port, Web UI on 127.0.0.1:$ui_port"
"$tmp/flowstate" dev --port "$port" --ui-port "$ui_port" >"$tmp/dev.log" 2>&1 &
dev_pid=$!
for _ in $(seq 600); do
  grep -q "worker on task queue" "$tmp/dev.log" && break
  kill -0 "$dev_pid" 2>/dev/null || { cat "$tmp/dev.log" >&2; fail "flowstate dev exited"; }
  sleep 0.1
done
grep -q "worker on task queue" "$tmp/dev.log" || { cat "$tmp/dev.log" >&2; fail "flowstate dev did not start within 60 s"; }
done_ "flowstate dev is up"

id="$flow-$(date +%Y%m%d-%H%M%S)"
step "running $flow as workflow $id"
args=(run "$flow" --id "$id")
[ -z "$input" ] || args+=(--input "$input")
# A flow that ends Failed makes `flowstate run` exit 1: its page is still worth a picture.
TEMPORAL_ADDRESS="127.0.0.1:$port" "$tmp/flowstate" "${args[@]}" | tee "$tmp/run.log" || true
run_id=$(sed -n 's/.*workflow ID .*, run ID \([0-9a-f-]*\).*/\1/p' "$tmp/run.log" | head -1)
[ -n "$run_id" ] || fail "flowstate run printed no run ID"
grep -q "flow run .* ended" "$tmp/run.log" || fail "the run did not finish"

mkdir -p "$out_dir"
for page in "${pages[@]}"; do
  url="http://127.0.0.1:$ui_port/namespaces/default/workflows/$id/$run_id/$page"
  out="$out_dir/webui-$page.png"
  step "screenshot of $url"
  rm -f "$out"
  "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --hide-scrollbars --user-data-dir="$tmp/chromium" --window-size="$size" \
    --virtual-time-budget="$wait_ms" --screenshot="$out" "$url" >"$tmp/chromium.log" 2>&1 ||
    { cat "$tmp/chromium.log" >&2; fail "Chromium failed"; }
  [ -s "$out" ] || { cat "$tmp/chromium.log" >&2; fail "Chromium wrote no screenshot"; }
  done_ "wrote $out ($(wc -c <"$out") bytes)"
done
