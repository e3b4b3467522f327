# Multi-stage build: compile in the Rust image, run from a small Debian image as a non-root
# user. The default command is the daemon; its HEALTHCHECK asks /healthz.
#   docker build -t esg-sync .
#   docker run -v $PWD/esg-sync.toml:/etc/esg-sync/esg-sync.toml:ro \
#     -v esg-sync-state:/var/lib/esg-sync -v /data/lake:/data/lake:ro \
#     -v $PWD/api-token:/run/secrets/esg-sync-api-token:ro \
#     -e WORKIVA_CLIENT_SECRET -p 9184:9184 esg-sync
# Listening on 0.0.0.0 needs the endpoints' token (at least 32 bytes, e.g. the output of
# `openssl rand -hex 32`) in /run/secrets/esg-sync-api-token: without it the daemon refuses
# to start. /healthz, /readyz and /metrics stay open, so the HEALTHCHECK needs no token.
# The emulator instead: docker run -p 8080:8080 esg-sync emulator --listen 0.0.0.0:8080 --demo
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY config ./config
COPY migrations ./migrations
COPY benches ./benches
RUN cargo build --release --locked --bin esg-sync

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/esg-sync --create-home esg-sync
COPY --from=build /src/target/release/esg-sync /usr/local/bin/esg-sync
ENV ESG_SYNC__DAEMON__LISTEN=0.0.0.0:9184 \
    ESG_SYNC__DAEMON__AUTH__TOKEN_FILE=/run/secrets/esg-sync-api-token \
    ESG_SYNC__STORE__URL=sqlite:///var/lib/esg-sync/state.db \
    ESG_SYNC_LOG_FORMAT=json
USER esg-sync
WORKDIR /var/lib/esg-sync
VOLUME ["/var/lib/esg-sync"]
EXPOSE 9184
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=10s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/esg-sync", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/esg-sync"]
CMD ["daemon", "--config", "/etc/esg-sync/esg-sync.toml"]
