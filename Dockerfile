# Builds both binaries. The agent links NVML through cgo (it loads
# libnvidia-ml at run time, so the image runs without a GPU too).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=1 go build -trimpath -ldflags "-s -w -X github.com/proofgrid/proofgrid/coordinator.Version=${VERSION}" -o /out/coordinator ./cmd/coordinator \
 && CGO_ENABLED=1 go build -trimpath -ldflags "-s -w" -o /out/agent ./cmd/agent

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /var/lib/proofgrid --create-home proofgrid
COPY --from=build /out/coordinator /out/agent /usr/local/bin/
USER proofgrid
WORKDIR /var/lib/proofgrid
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/coordinator"]
CMD ["serve"]
