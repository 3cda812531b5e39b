# Pyre: the two commands a new machine needs are `make run` and `make test`.
GO ?= go
# A count, not a duration: Go 1.26's fuzz coordinator can fail a run that
# ends on its -fuzztime deadline with "context deadline exceeded" and no
# crashing input (golang/go#75804, fixed in Go 1.27). 100,000 runs take
# 2 to 8 s per target here.
FUZZTIME ?= 100000x
# Every Go module of the repository: the core, the adapters and the
# examples, each with its own go.mod (client libraries stay out of the
# core's).
MODULES := . pubsub/redis pubsub/nats metrics/prometheus examples

.PHONY: run cluster test check test-go fuzz test-interop test-cluster test-browser bench bench-tools

## run: install the npm packages the chat page needs and start examples/chat on localhost:4000
run: node_modules/.package-lock.json
	cd examples && $(GO) run ./chat -addr localhost:4000 -static chat/static -phoenix ../node_modules/phoenix/priv/static/phoenix.mjs

## cluster: three chat nodes on one broker (BROKER=redis, the default, or nats); see examples/cluster
BROKER ?= redis
cluster: node_modules/.package-lock.json
	bash examples/cluster/run.sh $(BROKER)

node_modules/.package-lock.json: package.json package-lock.json
	npm ci

## test: every test: format and vet, Go tests with -race, fuzz smoke, Node interop (one node, then three on Redis and on NATS), headless Chromium
test: node_modules/.package-lock.json check test-go fuzz test-interop test-cluster test-browser

check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi
	@for m in $(MODULES); do echo "vet, tidy: $$m"; (cd $$m && $(GO) vet ./... && $(GO) mod tidy -diff) || exit 1; done

## test-go: go test -race in every module; the adapters' tests start redis-server and nats-server
test-go:
	@for m in $(MODULES); do echo "go test: $$m"; (cd $$m && $(GO) test -race -count=1 ./...) || exit 1; done

fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzV1Decode$$' -fuzztime=$(FUZZTIME) ./protocol/
	$(GO) test -run='^$$' -fuzz='^FuzzV2Decode$$' -fuzztime=$(FUZZTIME) ./protocol/
	$(GO) test -run='^$$' -fuzz='^FuzzV2BinaryDecode$$' -fuzztime=$(FUZZTIME) ./protocol/
	$(GO) test -run='^$$' -fuzz='^FuzzTokenVerify$$' -fuzztime=$(FUZZTIME) ./internal/longpoll/
	$(GO) test -run='^$$' -fuzz='^FuzzVerify$$' -fuzztime=$(FUZZTIME) ./token/
	$(GO) test -run='^$$' -fuzz='^FuzzDecode$$' -fuzztime=$(FUZZTIME) ./internal/etf/
	cd pubsub/redis && $(GO) test -run='^$$' -fuzz='^FuzzDecode$$' -fuzztime=$(FUZZTIME) .
	cd pubsub/nats && $(GO) test -run='^$$' -fuzz='^FuzzDecode$$' -fuzztime=$(FUZZTIME) .

test-interop:
	bash internal/interop/run.sh

## test-cluster: Node interop across three test apps on redis-server, then on nats-server (BROKERS=nats for one)
test-cluster:
	bash internal/interop/cluster/run.sh

test-browser:
	bash internal/interop/browser/run.sh

## bench: Go micro-benchmarks of the hot paths
bench:
	@for m in $(MODULES); do (cd $$m && $(GO) test -run='^$$' -bench=. -benchmem ./...) || exit 1; done

## bench-tools: build the load tool, the baseline server and the test app of docs/benchmarks.md into BENCHBIN (bin/)
BENCHBIN ?= $(CURDIR)/bin
bench-tools:
	$(GO) build -o $(BENCHBIN)/pyrebench ./internal/cmd/pyrebench
	$(GO) build -o $(BENCHBIN)/bare ./internal/cmd/bare
	cd examples && $(GO) build -o $(BENCHBIN)/testapp ./testapp
