# proofgrid developer and CI targets. `make test` needs redis-server and
# postgresql-15 (scripts/ensure-deps.sh installs them).

GO ?= go
BIN ?= bin
PKGS ?= ./...
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# go-nvml's C headers warn about deprecated NVML calls on every cgo build.
export CGO_CFLAGS ?= -O2 -g -Wno-deprecated-declarations

.PHONY: all build test vet fmt bench run clean

all: build

# The agent links NVML through cgo.
build:
	@mkdir -p $(BIN)
	CGO_ENABLED=1 $(GO) build -ldflags "-X github.com/proofgrid/proofgrid/coordinator.Version=$(VERSION)" -o $(BIN)/coordinator ./cmd/coordinator
	CGO_ENABLED=1 $(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN)/agent ./cmd/agent

# Runs every test against a throwaway Redis and PostgreSQL; PostgreSQL tests
# fail instead of skipping when it is unavailable.
test:
	PROOFGRID_REQUIRE_POSTGRES=1 PROOFGRID_REQUIRE_SERVICES=1 bash scripts/testenv.sh $(GO) test -race -count=1 $(PKGS)

vet:
	$(GO) vet $(PKGS)

# Rewrites files in place; fails when gofmt cannot parse one.
fmt:
	gofmt -l -w .

bench:
	bash scripts/testenv.sh $(GO) test -run '^$$' -bench . $(PKGS)

run:
	bash scripts/run.sh

clean:
	rm -rf $(BIN)
