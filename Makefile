# plowline — the two commands a newcomer needs are `make run` and `make test`.
GO      ?= go
BIN     := bin/plowline
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
# Tests start real servers; keep the whole suite well under CI's budget.
TEST_TIMEOUT ?= 15m
FUZZTIME ?= 10s
# The AWS Lambda Runtime Interface Emulator the tests run functions under:
# pinned, go-installed into bin/tools by test-deps, first on the tests' PATH.
RIE_MODULE  := github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie
RIE_VERSION := v0.0.0-20261030222936-bef5c4ba774d
TOOLS_BIN   := bin/tools

# Lambda functions, each its own bootstrap (cmd/lambda/<fn>) for the
# provided.al2023 runtime; the deployment (deploy/) reads these zip names.
LAMBDA_FUNCS := collector enrich pseudonymize
LAMBDA_ARCHS := amd64 arm64
LAMBDA_ZIPS  := $(foreach f,$(LAMBDA_FUNCS),$(foreach a,$(LAMBDA_ARCHS),bin/lambda/$(f)-$(a).zip))
# lambda.norpc drops aws-lambda-go's net/rpc server, which only the retired
# go1.x runtime used.
LAMBDA_TAGS  := lambda.norpc

.PHONY: all build run test test-deps vet bench fuzz dashboards lint clean lambda FORCE

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/plowline

## lambda: bin/lambda/<collector|enrich|pseudonymize>-<amd64|arm64>.zip, each holding one `bootstrap`
lambda: $(LAMBDA_ZIPS)

# Always rebuilt (FORCE): go build's cache makes an unchanged one quick, and
# make cannot see the Go sources a function depends on.
bin/lambda/%.zip: FORCE $(TOOLS_BIN)/mkzip
	@stem='$*'; fn=$${stem%-*}; arch=$${stem##*-}; \
	  echo "lambda: $$fn for linux/$$arch"; \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -tags $(LAMBDA_TAGS) -ldflags '$(LDFLAGS)' \
	    -o bin/lambda/$$stem/bootstrap ./cmd/lambda/$$fn && \
	  $(TOOLS_BIN)/mkzip bin/lambda/$$stem/bootstrap $@

$(TOOLS_BIN)/mkzip: FORCE
	@mkdir -p $(TOOLS_BIN)
	@$(GO) build -o $@ ./cmd/lambda/internal/mkzip

## run: the whole pipeline and the exporter locally, on the embedded default
run: build
	./$(BIN) run $(ARGS)

## test: prepare what the tests need, vet, then every test (unit, end to end against real parts)
test: test-deps vet
	PATH="$(CURDIR)/$(TOOLS_BIN):$$PATH" $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

## test-deps: npm ci in testkit/node when stale, the pinned Lambda RIE; names missing Debian packages
test-deps:
	@GO='$(GO)' RIE_MODULE='$(RIE_MODULE)' RIE_VERSION='$(RIE_VERSION)' TOOLS_BIN='$(TOOLS_BIN)' .ci/test-deps

vet:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './testkit/node/*')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## measure-detection: fault start -> exporter gauge -> PlowlineEventsLost pending -> firing in a real Prometheus (~7 min; docs/exporter.md)
.PHONY: measure-detection
measure-detection:
	CI=true PLOWLINE_DETECTION_FIRING=1 $(GO) test -count=1 -timeout 15m -run '^TestDetectionDelay$$' -v ./e2e

## bench: every benchmark, with allocations; compare ratios within one run
bench:
	$(GO) test -run '^$$' -bench . -benchmem -timeout 30m ./...

## fuzz: each fuzz target for FUZZTIME (go test -fuzz takes one target at a time)
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; done

## dashboards: regenerate Grafana JSON, CloudWatch bodies and alert rules (and the deploy template, which embeds the CloudWatch body)
dashboards:
	$(GO) run ./cmd/plowline dashboards generate --out .
	$(MAKE) deploy-template

# The AWS deployment (deploy/, docs/deploy.md) is its own Go module so the
# main module never builds the CDK; `make test` runs its tests too.
.PHONY: test-deploy deploy-template
test: test-deploy

## test-deploy: vet and test deploy/ (synthesizes the CDK stack once; needs Node)
# -mod=mod: deploy/ requires the main module through `replace => ../`, so a
# dependency change there must not break these tests until someone tidies.
test-deploy:
	cd deploy && $(GO) vet -mod=mod ./... && $(GO) test -mod=mod -count=1 -timeout $(TEST_TIMEOUT) ./...

## deploy-template: rewrite deploy/template/Plowline.template.json from deploy/
deploy-template:
	cd deploy && $(GO) run . template

clean:
	rm -rf bin
