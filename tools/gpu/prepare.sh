#!/usr/bin/env bash
# Prepares the GPU measurement kit on the CPU machine (see tools/gpu/README.md, step 1).
#
#   bash tools/gpu/prepare.sh [--djl-src PATH] [--no-move] [--dry-run]
#   bash tools/gpu/prepare.sh --check      # travel size only
#   bash tools/gpu/prepare.sh --restore    # put src/test/resources back
#
# Builds tools/gpu/build/kit/ (git-ignored; the one path the device call carries):
#   jre.tar.xz   jlink'd Java runtime (only the modules the benchmark needs), xz-compressed; the device has no Java
#   lib/         benchmark classpath: the project's core classes (no Quarkus, no web layer) + DJL api,
#                pytorch-engine, tokenizers (linux-x86_64 natives only) + gson + jna + slf4j + snakeyaml + TwelveMonkeys + webp-imageio. No CPU libtorch, no
#                pytorch-jni jar: the JNI is built on the device against its own torch.
#   jni/         JNI headers: jni.h/jni_md.h of this JDK and ai_djl_pytorch_jni_PyTorchLibrary.h made with javac -h
#                from Maven Central's pytorch-engine 0.36.0 sources jar (the Java side that will call it)
#   djl/         the DJL v0.36.0 C++ sources the JNI needs (engines/pytorch/pytorch-native, api/src/main/native),
#                copied from a DJL checkout; fetched when needed, never committed
#   shim/        diffusers' own UNet sources as an importable package (tools/unet-goldens/make_shim.sh) for the
#                anchor, from $DIFFUSERS_SRC or the session mirror /work/.mirror/huggingface+diffusers/repo
#   MANIFEST.txt what went in, versions, sizes
# Then moves src/test/resources (~47 MiB of goldens, not needed on the device) to tools/gpu/build/aside/ so the
# working tree plus the kit fit the device transfer limit (64 MiB), and checks that they do. `--restore` moves the
# test resources back; run it after the device call (the tests need them).
#
# Where the DJL sources come from, first match wins: --djl-src PATH or $DJL_SRC (a DJL checkout at v0.36.0, or a
# git directory holding the tag v0.36.0, e.g. a bare mirror), a previous prepare's kit/djl, the session mirror
# /work/.mirror/deepjavalibrary+djl/repo, a shallow clone of github.com/deepjavalibrary/djl at v0.36.0.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
BUILD=$ROOT/tools/gpu/build
KIT=$BUILD/kit
ASIDE=$BUILD/aside
DJL_VERSION=0.36.0
DJL_TAG=v$DJL_VERSION
LIMIT_MIB=${GPU_KIT_LIMIT_MIB:-64}
MARGIN_MIB=${GPU_KIT_MARGIN_MIB:-2}
DJL_MIRROR=/work/.mirror/deepjavalibrary+djl/repo

DJL_SRC_ARG=${DJL_SRC:-}
MOVE=1
DRY_RUN=0
ACTION=prepare
while [[ $# -gt 0 ]]; do
    case $1 in
        --djl-src) DJL_SRC_ARG=$2; shift 2 ;;
        --no-move) MOVE=0; shift ;;
        --dry-run) DRY_RUN=1; shift ;;
        --check) ACTION=check; shift ;;
        --restore) ACTION=restore; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done

say() { printf '[prepare] %s\n' "$*"; }
die() { printf '[prepare] ERROR: %s\n' "$*" >&2; exit 1; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }

# --- travel size: what the device call sends = tracked files present in the working tree + untracked files git
# does not ignore + the carried path (tools/gpu/build/kit). Apparent sizes in bytes.
tree_bytes() {
    git ls-files -z -c -o --exclude-standard | xargs -0 -r stat -c %s -- 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'
}
kit_bytes() {
    [[ -d $KIT ]] || { echo 0; return; }
    find "$KIT" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'
}
check_travel() {
    local t k sum limit
    t=$(tree_bytes); k=$(kit_bytes); sum=$((t + k)); limit=$(( (LIMIT_MIB - MARGIN_MIB) * 1048576 ))
    say "travel size: working tree $(mib "$t") MiB + kit $(mib "$k") MiB = $(mib "$sum") MiB (limit ${LIMIT_MIB} MiB, kept ${MARGIN_MIB} MiB spare)"
    if [[ -d src/test/resources ]]; then
        say "  src/test/resources is in the tree ($(du -sh src/test/resources | cut -f1)); prepare.sh without --no-move moves it aside"
    fi
    if (( sum > limit )); then
        say "  TOO BIG for the device call; largest travelling files:"
        git ls-files -z -c -o --exclude-standard | xargs -0 -r du -k -- 2>/dev/null | sort -rn | head -8 | sed 's/^/    /'
        return 1
    fi
    return 0
}

move_aside() {
    if [[ -d src/test/resources ]]; then
        [[ -e $ASIDE/test-resources ]] && die "$ASIDE/test-resources exists already; run --restore first"
        mkdir -p "$ASIDE"
        mv src/test/resources "$ASIDE/test-resources"
        say "moved src/test/resources -> tools/gpu/build/aside/test-resources (run 'bash tools/gpu/prepare.sh --restore' after the device call)"
    elif [[ -d $ASIDE/test-resources ]]; then
        say "src/test/resources already aside"
    fi
}
restore() {
    if [[ -d $ASIDE/test-resources ]]; then
        [[ -e src/test/resources ]] && die "both src/test/resources and the aside copy exist; resolve by hand"
        mv "$ASIDE/test-resources" src/test/resources
        rmdir "$ASIDE" 2>/dev/null || true
        say "restored src/test/resources"
    else
        say "nothing to restore"
    fi
    git status --short -- src/test/resources | head -3
}

case $ACTION in
    check) check_travel; exit $? ;;
    restore) restore; exit 0 ;;
esac

command -v java >/dev/null && command -v javac >/dev/null && command -v jlink >/dev/null && command -v jdeps >/dev/null \
    || die "needs a JDK 17+ with javac, jlink and jdeps"
JAVA_HOME_GUESS=$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")
[[ -d $JAVA_HOME_GUESS/jmods ]] || die "no jmods in $JAVA_HOME_GUESS (jlink needs them)"

mkdir -p "$BUILD"
STAGE=$BUILD/stage
rm -rf "$STAGE" && mkdir -p "$STAGE"
NEW=$BUILD/kit.new
rm -rf "$NEW" && mkdir -p "$NEW/lib" "$NEW/jni/include"

# --- 1. project classes and the resolved versions of the libraries ------------------------------------------------
say "compiling the project (./mvnw -q compile) and resolving the runtime classpath"
./mvnw -q -B compile
./mvnw -q -B dependency:build-classpath -Dmdep.includeScope=runtime -Dmdep.outputFile="$STAGE/cp.txt" >/dev/null
pick() { # artifact file name prefix, e.g. "api-0.36.0" or "gson-"
    tr ':' '\n' < "$STAGE/cp.txt" | grep -E "/$1[^/]*\.jar$" | head -1
}
API_JAR=$(pick "api-$DJL_VERSION")
ENGINE_JAR=$(pick "pytorch-engine-$DJL_VERSION")
TOK_JAR=$(pick "tokenizers-$DJL_VERSION")
GSON_JAR=$(pick "gson-[0-9]")
JNA_JAR=$(pick "jna-[0-9]")
SLF4J_JAR=$(pick "slf4j-api-[0-9]")
for j in API_JAR ENGINE_JAR TOK_JAR GSON_JAR JNA_JAR SLF4J_JAR; do
    [[ -n ${!j} && -f ${!j} ]] || die "$j not found on the project's runtime classpath"
done
SLF4J_VERSION=$(basename "$SLF4J_JAR" .jar); SLF4J_VERSION=${SLF4J_VERSION#slf4j-api-}
./mvnw -q -B dependency:get -Dartifact="org.slf4j:slf4j-simple:$SLF4J_VERSION" -Dtransitive=false >/dev/null
SIMPLE_JAR=$HOME/.m2/repository/org/slf4j/slf4j-simple/$SLF4J_VERSION/slf4j-simple-$SLF4J_VERSION.jar
[[ -f $SIMPLE_JAR ]] || die "slf4j-simple $SLF4J_VERSION not found"

# Core packages only (CorePackagesTest keeps them free of Quarkus/Jakarta/Jackson); resources (the demo model) are
# not copied: the device reads them from src/main/resources, which travels with the tree.
CORE_PKGS="runtime model sampler guidance pipeline bench cli"
mkdir -p "$STAGE/core/dev/sdcfg"
for p in $CORE_PKGS; do
    [[ -d target/classes/dev/sdcfg/$p ]] && cp -r "target/classes/dev/sdcfg/$p" "$STAGE/core/dev/sdcfg/"
done
jar --create --file "$NEW/lib/00-sdcfg-core.jar" -C "$STAGE/core" .
cp "$API_JAR" "$ENGINE_JAR" "$GSON_JAR" "$JNA_JAR" "$SLF4J_JAR" "$SIMPLE_JAR" "$NEW/lib/"
# libraries the core reaches: snakeyaml (single-file sidecar configs), TwelveMonkeys and webp-imageio (+ its
# kotlin-stdlib) for WebP init images (3.3 + 1.8 MiB); the jdeps check below names any other that is missing
tr ':' '\n' < "$STAGE/cp.txt" | grep -E '/(snakeyaml-[0-9][^/]*|com/twelvemonkeys/.*|webp-imageio-[0-9][^/]*|kotlin-stdlib-[0-9][^/]*)\.jar$' \
    | while read -r j; do cp "$j" "$NEW/lib/"; done
# tokenizers: drop the natives of other platforms (the jar carries osx/windows/aarch64 builds, 4 x 11-14 MB)
mkdir -p "$STAGE/tok" && (cd "$STAGE/tok" && jar --extract --file "$TOK_JAR")
find "$STAGE/tok/native/lib" -mindepth 1 -maxdepth 1 -type d ! -name linux-x86_64 -exec rm -rf {} +
mv "$STAGE/tok/META-INF/MANIFEST.MF" "$STAGE/tok.MF"
jar --create --file "$NEW/lib/$(basename "$TOK_JAR" .jar)-linux-x86_64.jar" --manifest "$STAGE/tok.MF" -C "$STAGE/tok" .
# the core must not need anything else on this classpath
MISSING=$(jdeps --multi-release 17 -verbose:class -cp "$(ls "$NEW"/lib/*.jar | grep -v 00-sdcfg-core | paste -sd:)" \
    "$NEW/lib/00-sdcfg-core.jar" 2>/dev/null | grep "not found" || true)
[[ -z $MISSING ]] || { echo "$MISSING" | head -20; die "core classes reference classes missing from the kit classpath"; }

# --- 2. jlink'd runtime ------------------------------------------------------------------------------------------
MODULES=$(jdeps --multi-release 17 --ignore-missing-deps --print-module-deps "$NEW"/lib/*.jar 2>/dev/null | tail -1)
# plus two small modules jdeps cannot see being reached by reflection (sun.misc.Unsafe; java.util.logging)
MODULES="$MODULES,jdk.unsupported,java.logging"
say "jlink modules: $MODULES"
jlink --add-modules "$MODULES" --strip-debug --no-header-files --no-man-pages --compress=0 --output "$STAGE/jre"
"$STAGE/jre/bin/java" -version 2>&1 | head -1 | sed 's/^/[prepare]   jre: /'
# xz over an uncompressed image compresses far better than jlink's own zip
tar -C "$STAGE" -cf - jre | xz -9e -T1 > "$NEW/jre.tar.xz"

# --- 3. JNI headers ----------------------------------------------------------------------------------------------
cp "$JAVA_HOME_GUESS/include/jni.h" "$JAVA_HOME_GUESS/include/linux/jni_md.h" "$NEW/jni/include/"
./mvnw -q -B dependency:get -Dartifact="ai.djl.pytorch:pytorch-engine:$DJL_VERSION:jar:sources" -Dtransitive=false >/dev/null
ENGINE_SRC_JAR=$(dirname "$ENGINE_JAR")/pytorch-engine-$DJL_VERSION-sources.jar
[[ -f $ENGINE_SRC_JAR ]] || die "pytorch-engine sources jar not found ($ENGINE_SRC_JAR)"
mkdir -p "$STAGE/engine-src" "$STAGE/engine-classes"
(cd "$STAGE/engine-src" && jar --extract --file "$ENGINE_SRC_JAR")
javac -nowarn -h "$NEW/jni/include" -d "$STAGE/engine-classes" -sourcepath "$STAGE/engine-src" \
    -cp "$API_JAR:$SLF4J_JAR:$GSON_JAR:$JNA_JAR" "$STAGE/engine-src/ai/djl/pytorch/jni/PyTorchLibrary.java" 2>&1 | grep -v "^Note:" || true
[[ -f $NEW/jni/include/ai_djl_pytorch_jni_PyTorchLibrary.h ]] || die "javac -h made no PyTorchLibrary header"
# javac -h also writes headers for other classes with native methods; keep only the one the sources include
find "$NEW/jni/include" -name '*.h' ! -name jni.h ! -name jni_md.h ! -name ai_djl_pytorch_jni_PyTorchLibrary.h -delete

# --- 4. DJL C++ sources ------------------------------------------------------------------------------------------
NATIVE=engines/pytorch/pytorch-native
copy_djl_from_tree() { # a DJL work tree
    local src=$1
    [[ -f $src/$NATIVE/CMakeLists.txt && -f $src/api/src/main/native/djl/utils.h ]] || return 1
    mkdir -p "$NEW/djl/$NATIVE/src/main" "$NEW/djl/api/src/main/native/djl"
    cp "$src/$NATIVE/CMakeLists.txt" "$NEW/djl/$NATIVE/"
    cp -r "$src/$NATIVE/src/main/native" "$NEW/djl/$NATIVE/src/main/"
    cp "$src/api/src/main/native/djl/utils.h" "$NEW/djl/api/src/main/native/djl/"
    if [[ -f $src/engines/pytorch/pytorch-engine/src/main/java/ai/djl/pytorch/jni/PyTorchLibrary.java ]]; then
        cp "$src/engines/pytorch/pytorch-engine/src/main/java/ai/djl/pytorch/jni/PyTorchLibrary.java" "$STAGE/checkout-PyTorchLibrary.java"
    fi
}
copy_djl_from_git() { # a git directory (bare or not) holding tag v0.36.0
    local gd=$1
    git --git-dir="$gd" rev-parse -q --verify "$DJL_TAG^{commit}" >/dev/null 2>&1 || return 1
    mkdir -p "$STAGE/djl-export"
    git --git-dir="$gd" archive "$DJL_TAG" "$NATIVE/CMakeLists.txt" "$NATIVE/src/main/native" \
        api/src/main/native/djl/utils.h engines/pytorch/pytorch-engine/src/main/java/ai/djl/pytorch/jni/PyTorchLibrary.java \
        | tar -x -C "$STAGE/djl-export"
    copy_djl_from_tree "$STAGE/djl-export"
    echo "git $gd tag $DJL_TAG commit $(git --git-dir="$gd" rev-parse "$DJL_TAG^{commit}")" > "$NEW/djl/SOURCE"
}
djl_from() {
    local p=$1
    if [[ -d $p/.git || -f $p/.git ]]; then
        local v
        v=$(grep -E '^djl *= *"' "$p/gradle/libs.versions.toml" 2>/dev/null | sed -E 's/.*"(.*)"/\1/' || true)
        [[ $v == "$DJL_VERSION" ]] || die "$p is DJL '$v', not $DJL_VERSION (check out $DJL_TAG)"
        copy_djl_from_tree "$p" || return 1
        echo "checkout $p commit $(git -C "$p" rev-parse HEAD)" > "$NEW/djl/SOURCE"
    elif git --git-dir="$p" rev-parse --git-dir >/dev/null 2>&1; then
        copy_djl_from_git "$p"
    elif [[ -f $p/$NATIVE/CMakeLists.txt ]]; then   # an unpacked source archive
        copy_djl_from_tree "$p" && echo "tree $p (version not checked)" > "$NEW/djl/SOURCE"
    else
        return 1
    fi
}
if [[ -n $DJL_SRC_ARG ]]; then
    djl_from "$DJL_SRC_ARG" || die "no DJL $DJL_TAG sources at $DJL_SRC_ARG"
elif [[ -f $KIT/djl/$NATIVE/CMakeLists.txt ]]; then
    cp -r "$KIT/djl" "$NEW/"
elif [[ -d $DJL_MIRROR ]]; then
    djl_from "$DJL_MIRROR" || die "the mirror $DJL_MIRROR has no tag $DJL_TAG"
else
    say "cloning github.com/deepjavalibrary/djl at $DJL_TAG (shallow)"
    timeout 180 git clone -q --depth 1 --branch "$DJL_TAG" https://github.com/deepjavalibrary/djl.git "$STAGE/djl-clone" \
        && djl_from "$STAGE/djl-clone" \
        || die "no DJL sources: pass --djl-src PATH (a DJL checkout at $DJL_TAG or a git dir with that tag)"
fi
say "DJL sources: $(cat "$NEW/djl/SOURCE")"
# the checkout must be the Java side that runs: its PyTorchLibrary.java equals the Maven sources jar's
if [[ -f $STAGE/checkout-PyTorchLibrary.java ]]; then
    cmp -s "$STAGE/checkout-PyTorchLibrary.java" "$STAGE/engine-src/ai/djl/pytorch/jni/PyTorchLibrary.java" \
        || die "the DJL checkout's PyTorchLibrary.java differs from pytorch-engine-$DJL_VERSION-sources.jar (wrong tag?)"
fi

# --- 4b. diffusers' UNet sources for the anchor ------------------------------------------------------------------
# The device's Python has torch and numpy but not diffusers (seen 2026-12-05); the golden tools' shim holds diffusers'
# own UNet2DConditionModel sources with only hub/config plumbing stubbed (0.8 MiB). run.sh puts it on PYTHONPATH
# only when `import diffusers` fails there.
DIFFUSERS_MIRROR=${DIFFUSERS_SRC:-/work/.mirror/huggingface+diffusers/repo}
if [[ -d $DIFFUSERS_MIRROR ]]; then
    sh "$ROOT/tools/unet-goldens/make_shim.sh" "$DIFFUSERS_MIRROR" "$NEW/shim"
    say "diffusers shim: sources at $(cat "$NEW/shim/diffusers/REVISION")"
else
    say "no diffusers git dir at $DIFFUSERS_MIRROR (set DIFFUSERS_SRC, or fetch github:huggingface/diffusers): the anchor runs only if the device has diffusers"
fi

# --- 5. manifest, swap in ----------------------------------------------------------------------------------------
{
    echo "GPU measurement kit, made $(date -u +%FT%TZ) from $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src/main || echo ' (+ uncommitted src/main changes)')"
    echo "DJL $DJL_VERSION; jre: $("$STAGE/jre/bin/java" -version 2>&1 | head -1); modules: $MODULES"
    echo "jre needs glibc >= $(find "$STAGE/jre" -name '*.so' -exec objdump -T {} + 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)"
    echo "DJL sources: $(cat "$NEW/djl/SOURCE")"
    echo "files:"
    (cd "$NEW" && find . -type f -printf '%s %p\n' | sort -k2 | awk '{ printf "  %9d  %s\n", $1, $2 }')
} > "$NEW/MANIFEST.txt"
rm -rf "$KIT" && mv "$NEW" "$KIT"
rm -rf "$STAGE"
say "kit ready: tools/gpu/build/kit ($(mib "$(kit_bytes)") MiB)"

# --- 6. slim the tree for the trip and check -------------------------------------------------------------------
if (( MOVE )); then move_aside; fi
check_travel || die "the device call would exceed the transfer limit"

if (( DRY_RUN )); then
    # run the device script from a copy of exactly what travels, so nothing left behind (target/, ~/.m2) is used
    TRAVEL=$BUILD/travel
    rm -rf "$TRAVEL" "$BUILD/dry-out" && mkdir -p "$TRAVEL" "$BUILD/dry-out"
    git ls-files -z -c -o --exclude-standard | xargs -0 -r cp --parents -t "$TRAVEL" -- 2>/dev/null || true
    mkdir -p "$TRAVEL/tools/gpu/build" && cp -r "$KIT" "$TRAVEL/tools/gpu/build/"
    say "CPU dry run of the device script in a copy of the travel set ($(du -sh "$TRAVEL" | cut -f1)), results in tools/gpu/build/dry-out"
    (cd "$TRAVEL" && OUT=$BUILD/dry-out bash tools/gpu/run.sh --cpu-dry-run)
    rm -rf "$TRAVEL"
fi

cat <<'EOF'
[prepare] next: one device call (tools/gpu/README.md, step 2)
    run(command="bash tools/gpu/run.sh", carry=["tools/gpu/build/kit"], timeout_s=600)
[prepare] afterwards: bash tools/gpu/prepare.sh --restore
EOF
