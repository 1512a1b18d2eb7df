# syntax=docker/dockerfile:1
# One image with the pipeline's binaries: ingest-api, stream-job, serving, loadgen.
# Build stages: cargo-chef computes a recipe of the dependencies, which are compiled in their own
# layer (rebuilt only when Cargo.toml/Cargo.lock change); then the workspace itself is built.

FROM rust:1-bookworm AS chef
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential pkg-config zlib1g-dev libssl-dev \
 && rm -rf /var/lib/apt/lists/*
RUN cargo install cargo-chef --locked
WORKDIR /build

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /build/recipe.json recipe.json
RUN cargo chef cook --release --recipe-path recipe.json -p ingest-api -p stream-job -p serving -p loadgen
COPY . .
RUN cargo build --release --locked -p ingest-api -p stream-job -p serving -p loadgen \
 && mkdir -p /out \
 && cp target/release/ingest-api target/release/stream-job target/release/serving target/release/loadgen /out/

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl libssl3 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin app
WORKDIR /app
COPY --from=builder /out/ /usr/local/bin/
COPY cql/ /app/cql/
COPY clickhouse-sql/ /app/clickhouse-sql/
USER app
ENV LOG_FORMAT=json
CMD ["ingest-api"]
