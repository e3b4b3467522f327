# Multi-stage build: compile in the Rust image, run from a small Debian image as a non-root user.
# Today the image serves the Workiva API emulator; the daemon (issue 5) becomes its default
# command, with a HEALTHCHECK on /healthz.
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
USER esg-sync
WORKDIR /var/lib/esg-sync
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/esg-sync"]
CMD ["emulator", "--listen", "0.0.0.0:8080", "--demo"]
