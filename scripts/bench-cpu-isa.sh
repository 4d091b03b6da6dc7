#!/usr/bin/env bash
# Compares oneDNN's CPU ISA choices within one run (docs/PERFORMANCE.md, "CPU kernels"): the benchmark is run with
# the service's default (oneDNN capped at AVX2) and with the cap lifted (ONEDNN_MAX_CPU_ISA=AVX512_CORE), alternating
# A B A B so that a noisy machine hurts both alike. The ISA is fixed once per process, hence one JVM per run.
# Usage: scripts/bench-cpu-isa.sh [rounds=2] [benchmark args...]   (default args: --config mid --size 256)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}; shift || true
args=("$@"); [ ${#args[@]} -gt 0 ] || args=(--config mid --size 256 --iters 5 --warmup 2 --full false)
./mvnw -B -q compile
cp_file=target/bench-classpath.txt
./mvnw -B -q dependency:build-classpath -Dmdep.outputFile="$cp_file" -Dmdep.includeScope=runtime >/dev/null
out=target/bench-isa; mkdir -p "$out"
for r in $(seq 1 "$rounds"); do
  for isa in default AVX512_CORE; do
    if [ "$isa" = default ]; then extra=(); else extra=("ONEDNN_MAX_CPU_ISA=$isa"); fi
    env -u ONEDNN_MAX_CPU_ISA -u DNNL_MAX_CPU_ISA "${extra[@]}" DJL_OFFLINE=true java -cp "target/classes:$(cat "$cp_file")" dev.sdcfg.bench.Benchmark "${args[@]}" \
      --out "$out/$isa-$r.json" >/dev/null 2>&1
    echo "round $r $isa: $out/$isa-$r.json"
  done
done
python3 - "$out" "$rounds" <<'PY'
import json, sys, statistics as st
out, rounds = sys.argv[1], int(sys.argv[2])
def load(isa): return [json.load(open(f"{out}/{isa}-{r}.json")) for r in range(1, rounds + 1)]
a, b = load("default"), load("AVX512_CORE")
print("cpu:", a[0]["cpu_kernels"]["cpuVectorIsa"])
print("A:", a[0]["cpu_kernels"]["onednnMaxCpuIsa"], "| B:", b[0]["cpu_kernels"]["onednnMaxCpuIsa"])
def rows(rep):
    yield "text_encode", rep["text_encode_ms"]["median_ms"]
    for k, v in rep["unet_step"].items(): yield "unet_" + k, v["median_ms"]
    yield "vae_decode", rep["vae_decode_ms"]["median_ms"]
    if "full_image" in rep: yield "full_image", rep["full_image"]["median_ms"]
names = [n for n, _ in rows(a[0])]
print(f"{'what':14} {'A (ms)':>10} {'B (ms)':>10} {'B/A':>6}")
for n in names:
    va = st.median([dict(rows(x))[n] for x in a]); vb = st.median([dict(rows(x))[n] for x in b])
    print(f"{n:14} {va:10.1f} {vb:10.1f} {vb/va:6.2f}")
PY
