# syntax=docker/dockerfile:1
#
# CPU image: the Quarkus fast-jar on a Temurin JRE. PyTorch's CPU natives come from the pytorch-native-cpu jar in
# the application (DJL extracts them to DJL_CACHE_DIR on first start, about 450 MB), so PYTORCH_LIBRARY_PATH must
# NOT be set here. Build and run:
#   docker build -t sd-guidance:cpu .
#   docker run -p 8080:8080 -v /path/to/sd15:/models/sd15:ro -e SD_MODEL_PATH=/models/sd15 sd-guidance:cpu
# The GPU image is Dockerfile.cuda; its header explains how DJL chooses between the two kinds of natives.

ARG BUILD_IMAGE=maven:3.9-eclipse-temurin-17
ARG RUNTIME_IMAGE=eclipse-temurin:21-jre-noble

# ---- build: Quarkus fast-jar in target/quarkus-app/ (same stage as Dockerfile.cuda) -----------------------------
FROM ${BUILD_IMAGE} AS build
WORKDIR /src
COPY mvnw pom.xml ./
COPY .mvn/ .mvn/
COPY src/ src/
RUN --mount=type=cache,target=/root/.m2 \
    chmod +x mvnw && ./mvnw -B package -DskipTests

# ---- runtime ---------------------------------------------------------------------------------------------------
FROM ${RUNTIME_IMAGE} AS runtime
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 sd \
 && useradd --system --uid 10001 --gid sd --home-dir /app --no-create-home --shell /usr/sbin/nologin sd \
 && mkdir -p /models /var/cache/djl \
 && chown 10001:10001 /var/cache/djl

COPY --from=build --chown=10001:10001 /src/target/quarkus-app/ /app/

ENV RUST_FLAVOR=cpu \
    DJL_OFFLINE=true \
    DJL_CACHE_DIR=/var/cache/djl \
    OPT_OUT_TRACKING=true \
    JAVA_OPTS="-XX:MaxRAMPercentage=25 -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true -Djava.io.tmpdir=/tmp" \
    JAVA_OPTS_APPEND=""

# Model weights are not in the image: mount a diffusers folder read-only under /models and set SD_MODEL_PATH
# to it at run time (unset = the embedded demo model).
VOLUME ["/models"]
WORKDIR /app
USER 10001:10001
EXPOSE 8080

HEALTHCHECK --interval=30s --timeout=5s --start-period=15m --retries=3 \
    CMD curl -fsS -o /dev/null http://127.0.0.1:8080/q/health/ready || exit 1

CMD ["/bin/sh", "-c", "exec java ${JAVA_OPTS} ${JAVA_OPTS_APPEND} -jar /app/quarkus-run.jar"]
