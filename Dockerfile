# The worker image: `solver-worker` as entrypoint, SINGLE_RUN_MODE chooses
# on-demand (one job, then exit) or polling (the legacy service).
# Build: docker build -t solver-worker .   (cargo xtask deploy does it when Docker is there)

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# Dependencies first, in their own layer: source edits do not rebuild the SDK.
COPY Cargo.toml Cargo.lock ./
COPY runtime/model/Cargo.toml runtime/model/
COPY runtime/jobshop/Cargo.toml runtime/jobshop/
COPY runtime/store/Cargo.toml runtime/store/
COPY runtime/api/Cargo.toml runtime/api/
COPY runtime/trigger/Cargo.toml runtime/trigger/
COPY runtime/worker/Cargo.toml runtime/worker/
COPY runtime/testkit/Cargo.toml runtime/testkit/
COPY deployer/Cargo.toml deployer/
COPY xtask/Cargo.toml xtask/
RUN for d in runtime/model runtime/jobshop runtime/store runtime/testkit; do mkdir -p $d/src && echo "" > $d/src/lib.rs; done \
 && mkdir -p runtime/jobshop/src/bin && echo "fn main() {}" > runtime/jobshop/src/bin/solve.rs \
 && for d in runtime/api runtime/trigger; do mkdir -p $d/src/bin && echo "" > $d/src/lib.rs; done \
 && echo "fn main() {}" > runtime/api/src/bin/solver-api.rs && echo "fn main() {}" > runtime/trigger/src/bin/solver-trigger.rs \
 && for d in runtime/worker deployer xtask; do mkdir -p $d/src && echo "fn main() {}" > $d/src/main.rs; done \
 && mkdir -p stacks && touch stacks/solver.yaml \
 && cargo build --release --locked -p solver-worker || true
COPY . .
RUN touch runtime/*/src/*.rs && cargo build --release --locked -p solver-worker

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates=20230311* python3=3.11.* \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home solver
COPY --from=build /src/target/release/solver-worker /usr/local/bin/solver-worker
USER 10001
ENV RUST_LOG=info
ENTRYPOINT ["/usr/local/bin/solver-worker"]
