# proofgrid developer and CI targets. `make test` and `make bench` need
# redis-server and postgresql-15 and install them first when missing
# (scripts/ensure-deps.sh: apt-get, as root or through sudo), as `make run`
# installs redis-server.

GO ?= go
BIN ?= bin
PKGS ?= ./...
# The release version is the VERSION file plus the commit as semantic
# versioning build metadata: 0.4.0+3f2a9c1, or 0.4.0+3f2a9c1.dirty with
# uncommitted changes. The fleet's "agent behind" rule compares the release
# and ignores the metadata. Raise VERSION when releasing.
COMMIT := $(shell git rev-parse --short HEAD 2>/dev/null)
DIRTY := $(shell git diff --quiet HEAD -- 2>/dev/null || echo .dirty)
VERSION ?= $(shell cat VERSION)$(if $(COMMIT),+$(COMMIT)$(DIRTY))
LDFLAGS_COORDINATOR = -X github.com/proofgrid/proofgrid/coordinator.Version=$(VERSION)
LDFLAGS_AGENT = -X main.version=$(VERSION)
# go-nvml's C headers warn about deprecated NVML calls on every cgo build.
export CGO_CFLAGS ?= -O2 -g -Wno-deprecated-declarations

.PHONY: all build docker version test vet fmt bench soak run clean

all: build

# The agent links NVML through cgo.
build:
	@mkdir -p $(BIN)
	CGO_ENABLED=1 $(GO) build -ldflags "$(LDFLAGS_COORDINATOR)" -o $(BIN)/coordinator ./cmd/coordinator
	CGO_ENABLED=1 $(GO) build -ldflags "$(LDFLAGS_AGENT)" -o $(BIN)/agent ./cmd/agent

# The image has no .git; it gets the version from here.
docker:
	docker build --build-arg VERSION=$(VERSION) -t proofgrid:$(subst +,_,$(VERSION)) .

version:
	@echo $(VERSION)

# Runs every test against a throwaway Redis and PostgreSQL; PostgreSQL tests
# fail instead of skipping when it is unavailable.
test:
	bash scripts/ensure-deps.sh
	PROOFGRID_REQUIRE_POSTGRES=1 PROOFGRID_REQUIRE_SERVICES=1 bash scripts/testenv.sh $(GO) test -race -count=1 $(PKGS)

vet:
	$(GO) vet $(PKGS)

# Rewrites files in place; fails when gofmt cannot parse one.
fmt:
	gofmt -l -w .

bench:
	bash scripts/ensure-deps.sh
	bash scripts/testenv.sh $(GO) test -run '^$$' -bench . $(PKGS)

# A fault soak of a few minutes (not part of test): PostgreSQL, Redis,
# two coordinator replicas and four demo agents, with a coordinator, an
# agent, Redis and PostgreSQL killed or restarted while blocks are fed.
# Fails when a block, proof, verdict, worker event or reward is lost or
# doubled. SOAK_FLAGS passes flags, e.g. SOAK_FLAGS="--duration 90s";
# see docs/operations.md.
soak: build
	bash scripts/ensure-deps.sh
	$(GO) run ./internal/soak --bin $(BIN) $(SOAK_FLAGS)

run:
	bash scripts/run.sh

clean:
	rm -rf $(BIN)
