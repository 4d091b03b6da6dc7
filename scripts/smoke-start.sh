#!/usr/bin/env bash
# Black-box check of the README's start command from outside the JVM: start the packaged service on the embedded
# demo model, wait for readiness, generate one PNG synchronously and follow one async job, then stop it with
# SIGTERM (graceful shutdown). Exits non-zero on any failure. Assumes `./mvnw -B package -DskipTests` has run.
set -euo pipefail
cd "$(dirname "$0")/.."
port="${SMOKE_PORT:-18080}"
log="$(mktemp -t sd-smoke-XXXX.log)"
java -Dquarkus.http.port="$port" -jar target/quarkus-app/quarkus-run.jar >"$log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
trap cleanup EXIT
base="http://127.0.0.1:$port"
for i in $(seq 1 180); do
  if curl -fsS "$base/q/health/ready" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then echo "smoke: service exited during start-up"; tail -50 "$log"; exit 1; fi
  sleep 1
done
curl -fsS "$base/q/health/ready" >/dev/null || { echo "smoke: not ready after 180 s"; tail -50 "$log"; exit 1; }
echo "smoke: ready"
tmp="$(mktemp -d)"
code=$(curl -sS -o "$tmp/img.png" -w '%{http_code}' -H 'Content-Type: application/json' -H 'Accept: image/png' \
  -d '{"prompt":"a photograph of an astronaut riding a horse","seed":7,"steps":3,"guidance":{"preset":"FullNormGuidance_Sched_TCos"}}' \
  "$base/v1/images/generations")
[ "$code" = 200 ] || { echo "smoke: sync generation answered $code"; cat "$tmp/img.png"; exit 1; }
head -c 8 "$tmp/img.png" | od -An -tx1 | tr -d ' \n' | grep -q '^89504e470d0a1a0a$' || { echo "smoke: not a PNG"; exit 1; }
echo "smoke: sync PNG $(stat -c %s "$tmp/img.png") bytes"
loc=$(curl -sS -D - -o /dev/null -H 'Content-Type: application/json' \
  -d '{"prompt":"a red cube","seed":1,"steps":3}' "$base/v1/jobs" | tr -d '\r' | awk 'tolower($1)=="location:"{print $2}')
[ -n "$loc" ] || { echo "smoke: POST /v1/jobs gave no Location"; exit 1; }
case "$loc" in http*) url="$loc" ;; *) url="$base$loc" ;; esac
for i in $(seq 1 120); do
  status=$(curl -fsS "$url" | sed -n 's/.*"status" *: *"\([a-z]*\)".*/\1/p')
  [ "$status" = succeeded ] && break
  case "$status" in failed|canceled) echo "smoke: job $status"; curl -sS "$url"; exit 1 ;; esac
  sleep 1
done
[ "$status" = succeeded ] || { echo "smoke: job still $status"; exit 1; }
curl -fsS -o "$tmp/job.png" "$url/images/0"
echo "smoke: async job succeeded ($url)"
curl -fsS -o "$tmp/metrics.txt" "$base/q/metrics"
grep -q '^sd_denoise_step_seconds_count' "$tmp/metrics.txt" || { echo "smoke: step metric missing"; exit 1; }
echo "smoke: metrics present"
kill -TERM "$pid"
wait "$pid" 2>/dev/null || true
trap - EXIT
echo "smoke: passed"
