# dqgate: multi-stage build, small runtime image, non-root user.
#
#   docker build -t dqgate .
#   docker run -p 8080:8080 -e DQGATE_ADMIN_TOKEN=... dqgate
#
# The store is SQLite under /data unless DQGATE_DATABASE_URL names
# PostgreSQL; S3 credentials come from the standard AWS environment.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates crates
COPY grammar grammar
COPY migrations migrations
COPY rulesets rulesets
COPY src src
COPY benches benches
RUN cargo build --release --locked --bin dqgate

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home /data --create-home dqgate
COPY --from=build /src/target/release/dqgate /usr/local/bin/dqgate
USER dqgate
WORKDIR /data
ENV DQGATE_LISTEN=0.0.0.0:8080 \
    DQGATE_DATA_DIR=/data \
    DQGATE_LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \
    CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["dqgate"]
CMD ["serve"]
