# Every target loops over the modules of go.work: `go test ./...` at the root does not cross
# modules, and go mod tidy ignores go.work.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# Evaluated when a target needs it, so `make help` works without a Go toolchain.
MODULES = $(shell go list -m -f '{{.Dir}}')

# for_each_module runs $(1) in every module directory, stopping at the first failure and naming it.
define for_each_module
	@for dir in $(MODULES); do \
		rel="$${dir#$(CURDIR)/}"; \
		echo "==> $$rel: $(1)"; \
		(cd "$$dir" && $(1)) || { echo "FAIL in module $$rel: $(1)" >&2; exit 1; }; \
	done
endef

.PHONY: help
help: ## print this help
	@echo "rollwave make targets:"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

.PHONY: deps
deps: ## install what the tests need besides Go: awscli, jq, shellcheck, chromium, zsh, fish (apt-get), the AWS provider schema (npm), checkov and moto (uv, pip as fallback); minutes the first time (chromium)
	@scripts/deps.sh

# The version every binary reports with --version: the release from shared/version/VERSION (the
# one place that holds it) and the commit, "-dirty" when the tree has uncommitted changes.
VERSION ?= $(shell cat shared/version/VERSION)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null)$(shell git status --porcelain 2>/dev/null | grep -q . && echo -dirty)
VERSION_PKG = github.com/rollwave/rollwave/shared/version
LDFLAGS = -X $(VERSION_PKG).version=$(VERSION) -X $(VERSION_PKG).revision=$(REVISION)

# Every binary of the repository, each from its directory, into $(BIN_DIR).
BINARIES = services/scanner services/patcher services/drainer services/verifier cmd/rollwave tools/fleetsim tools/demo tools/bootstrap
BIN_DIR ?= bin

.PHONY: build
build: ## build every binary (the four workers, rollwave, fleetsim, demo, bootstrap) into ./bin, version stamped
	@mkdir -p "$(BIN_DIR)"
	@for dir in $(BINARIES); do \
		echo "==> go build -o $(BIN_DIR)/$$(basename $$dir) ./$$dir"; \
		go build -ldflags "$(LDFLAGS)" -o "$(BIN_DIR)/$$(basename $$dir)" "./$$dir" || exit 1; \
	done

.PHONY: demo
demo: deps build ## run the whole pipeline locally (moto, fleetsim, the four workers) and watch a rollout
	bin/demo

# The stack's pids, environment, aws CLI wrapper and logs are in .cache/stack (git-ignored).
.PHONY: up
up: deps build ## start the local stack without Docker and leave it running (moto, fleetsim, the four workers); prints the environment for rollwave and the aws CLI
	bin/demo up

.PHONY: down
down: ## stop the stack of make up; its logs stay in .cache/stack/logs
	@[[ -x bin/demo ]] || go build -o bin/demo ./tools/demo
	bin/demo down

.PHONY: images
images: ## build the four worker images and push them to REGISTRY (scripts/release-images.sh -h)
	@scripts/release-images.sh --registry "$(REGISTRY)" $(if $(TAG),--tag "$(TAG)") $(if $(PLATFORMS),--platforms "$(PLATFORMS)") $(if $(DRY_RUN),--dry-run)

.PHONY: test
test: deps lint tidy-check checkov ## gofmt, tools/lint, tidy and checkov checks, then every module's tests with -race (stops at the first failing module)
	$(call for_each_module,GORACE=atexit_sleep_ms=0 go test -race -count=1 ./...)

# tools/lint is go vet's analyzers plus staticcheck, unused, errcheck, errorlint, ineffassign,
# bodyclose, noctx and the import boundaries, run by go vet -vettool so Go's build cache keeps its
# findings: a second run looks again only at what changed (docs/decisions/linting.md).
LINT_TOOL = $(CURDIR)/.cache/bin/rollwave-lint

.PHONY: lint
lint: ## gofmt check, shellcheck of the scripts, then tools/lint (go vet's analyzers, staticcheck, errcheck, import boundaries...) in every module
	@out="$$(gofmt -l $(MODULES))"; if [[ -n "$$out" ]]; then echo "gofmt needed:" >&2; echo "$$out" >&2; exit 1; fi
	@command -v shellcheck >/dev/null || { echo "shellcheck missing: make deps installs it (apt-get install shellcheck)" >&2; exit 1; }
	shellcheck scripts/*.sh .ci/run
	go build -o "$(LINT_TOOL)" ./tools/lint
	$(call for_each_module,go vet -vettool="$(LINT_TOOL)" ./...)

.PHONY: tidy
tidy: ## go mod tidy, every module
	$(call for_each_module,go mod tidy)

.PHONY: tidy-check
tidy-check: ## fail if go mod tidy would change any module
	$(call for_each_module,go mod tidy -diff)

# checkov runs offline: no platform download, no update check; a file it cannot parse fails.
.PHONY: checkov
checkov: deps ## checkov (pinned, offline) over terraform/: each finding is fixed or skipped in place with a reason
	CKV_SKIP_PACKAGE_UPDATE_CHECK=true CKV_PARSE_ERROR_FAIL=true .cache/checkov/venv/bin/checkov \
		--directory terraform --framework terraform --skip-download --compact --quiet

# BENCH selects the benchmarks (go test -bench): by default the rollouts of 8, 50 and 200 hosts,
# the scan of 1,000 instances and rollwave plan (with its forecast) of 1,000 instances, about 15
# minutes; `make bench BENCH='Rollout/^1000-hosts|Scan/^10000-'` runs the 1,000-host rollout and
# the 10,000-instance scan, `make bench BENCH=.` every case.
BENCH ?= Rollout/^(8|50|200)-hosts|Scan/^1000-instances|Plan1000

.PHONY: bench
bench: deps ## run the benchmarks of every module (BENCH=pattern; BenchmarkRollout needs moto from make deps)
	$(call for_each_module,go test -run '^$$' -bench '$(BENCH)' -benchtime 1x -timeout 90m ./...)
