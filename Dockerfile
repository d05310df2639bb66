# syntax=docker/dockerfile:1.7
# The ecs-bridge operator image: one static binary (musl, rustls: no OpenSSL, no libc) on
# distroless/static, running as the non-root user 65532 (the chart's runAsUser) with nothing
# else in the image: no shell, no package manager. Build: `make image` (docker buildx; multi-arch
# with PLATFORMS=linux/amd64,linux/arm64). tests/image.rs keeps this file, rust-toolchain.toml
# and the chart in agreement.

# ---- build: the toolchain rust-toolchain.toml pins, targeting musl for a static binary.
FROM docker.io/library/rust:1.95.0-bookworm AS build
ARG TARGETARCH
RUN apt-get update \
    && apt-get install -y --no-install-recommends musl-tools \
    && rm -rf /var/lib/apt/lists/*
RUN case "${TARGETARCH:-amd64}" in \
      amd64) echo x86_64-unknown-linux-musl ;; \
      arm64) echo aarch64-unknown-linux-musl ;; \
      *) echo "unsupported TARGETARCH ${TARGETARCH}" >&2; exit 1 ;; \
    esac > /rust-target \
    && rustup target add "$(cat /rust-target)"
WORKDIR /src
# Every file the manifests name (benches and tests included: cargo checks they exist); the
# registry and target caches survive between builds, so only changed crates compile again.
COPY Cargo.toml Cargo.lock rust-toolchain.toml ./
COPY src src
COPY testbed testbed
COPY benches benches
COPY e2e e2e
COPY tests tests
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --locked --release --bin ecs-bridge --target "$(cat /rust-target)" \
    && cp "target/$(cat /rust-target)/release/ecs-bridge" /ecs-bridge

# ---- run: distroless static (CA certificates, /etc/passwd with `nonroot`), nothing else.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /ecs-bridge /ecs-bridge
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/ecs-bridge"]
CMD ["run"]
