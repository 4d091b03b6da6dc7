#!/usr/bin/env bash
# Optional offline checks of the deployment files, beyond the JUnit tests in src/test/java/dev/sdcfg/deploy:
#  1. `kubectl kustomize` renders deploy/ (and deploy/ with the nvidia-runtime-class component): resources,
#     configMapGenerator and patches resolve. Needs kubectl (any recent one: it embeds kustomize); no cluster.
#  2. Every rendered manifest is validated against the Kubernetes, Prometheus Operator and KEDA schemas bundled
#     in the npm packages kubernetes-models, @kubernetes-models/prometheus-operator and @kubernetes-models/keda.
#  3. Dockerfile and Dockerfile.cuda are parsed by dockerfile-utils (instruction/flag syntax; not hadolint's
#     best-practice rules: hadolint ships only as a binary/Docker image, not from Debian, npm or Maven Central).
# Needs: kubectl, node + npm (the npm packages are installed with `npm ci` from deploy/tools/package-lock.json
# into target/deploy-tools/). Exits non-zero on the first failing step.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
out="$root/target/deploy-validate"
tools="$root/target/deploy-tools"
mkdir -p "$out" "$tools"

for tool in kubectl node npm; do
  command -v "$tool" >/dev/null 2>&1 || { echo "validate.sh: $tool not found" >&2; exit 2; }
done

echo "== kustomize build"
kubectl kustomize deploy/ > "$out/base.yaml"
# The optional component, through a throw-away overlay beside the output.
overlay="$out/overlay-nvidia-runtime-class"
rm -rf "$overlay" && mkdir -p "$overlay"
rel_deploy="$(realpath --relative-to="$overlay" "$root/deploy")"
cat > "$overlay/kustomization.yaml" <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $rel_deploy
components:
  - $rel_deploy/components/nvidia-runtime-class
EOF
kubectl kustomize "$overlay" > "$out/with-nvidia-runtime-class.yaml"
grep -q 'runtimeClassName: nvidia' "$out/with-nvidia-runtime-class.yaml" \
  || { echo "validate.sh: the nvidia-runtime-class component did not set runtimeClassName" >&2; exit 1; }

redis_overlay="$out/overlay-redis-queue"
rm -rf "$redis_overlay" && mkdir -p "$redis_overlay"
rel_deploy="$(realpath --relative-to="$redis_overlay" "$root/deploy")"
cat > "$redis_overlay/kustomization.yaml" <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $rel_deploy
components:
  - $rel_deploy/components/redis-queue
EOF
kubectl kustomize "$redis_overlay" > "$out/with-redis-queue.yaml"
for want in 'appendfsync everysec' 'maxmemory-policy noeviction' 'name: QUARKUS_REDIS_HOSTS' 'type: redis-streams'; do
  grep -q "$want" "$out/with-redis-queue.yaml" \
    || { echo "validate.sh: the redis-queue component renders without '$want'" >&2; exit 1; }
done

echo "== schema validation"
if [ ! -f "$tools/package-lock.json" ] || ! cmp -s deploy/tools/package-lock.json "$tools/package-lock.json" \
   || [ ! -d "$tools/node_modules" ]; then
  cp deploy/tools/package.json deploy/tools/package-lock.json "$tools/"
  (cd "$tools" && npm ci --no-audit --no-fund --loglevel=error)
fi
cp deploy/tools/validate.mjs "$tools/validate.mjs"
node "$tools/validate.mjs" "$out/base.yaml" "$out/with-nvidia-runtime-class.yaml" "$out/with-redis-queue.yaml"

echo "== Dockerfile syntax"
for f in Dockerfile Dockerfile.cuda; do
  "$tools/node_modules/.bin/dockerfile-utils" lint "$f"
  echo "ok   $f"
done
echo "validate.sh: all checks passed"
