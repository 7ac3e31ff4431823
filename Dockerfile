# Builds both binaries. The agent links NVML through cgo (it loads
# libnvidia-ml at run time, so the image runs without a GPU too).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# `make docker` passes VERSION+<commit>; a plain build has no .git (see
# .dockerignore) and stamps the VERSION file alone.
ARG VERSION=""
RUN v="${VERSION:-$(cat VERSION)}" \
 && CGO_ENABLED=1 go build -trimpath -ldflags "-s -w -X github.com/proofgrid/proofgrid/coordinator.Version=$v" -o /out/coordinator ./cmd/coordinator \
 && CGO_ENABLED=1 go build -trimpath -ldflags "-s -w -X main.version=$v" -o /out/agent ./cmd/agent

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /var/lib/proofgrid --create-home proofgrid
COPY --from=build /out/coordinator /out/agent /usr/local/bin/
USER proofgrid
WORKDIR /var/lib/proofgrid
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/coordinator"]
CMD ["serve"]
