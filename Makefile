# kmigrate's build, test, lint and benchmark entry points. `make test` is the
# README's test command and what .ci/run calls.

GO              ?= go
BIN             := $(CURDIR)/.bin
STATICCHECK     := $(BIN)/staticcheck
# Pinned: staticcheck 2026.2.2 supports Go 1.26.
STATICCHECK_VER := v0.8.2
TEST_TIMEOUT    ?= 14m
FUZZTIME        ?= 15s

.PHONY: all build test test-kafka lint fmt vet staticcheck bench bench-mirror bench-groups bench-verify bench-peers fuzz clean

all: build lint test

build:
	$(GO) build -o $(BIN)/kmigrate ./cmd/kmigrate

## test: every test with the race detector. Third-party client tests skip
## when kcat / confluent-kafka-python are missing, unless
## KMIGRATE_REQUIRE_CLIENTS=1.
test:
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...

## test-kafka: the real-Kafka lane: the kmigrate binary against real Apache
## Kafka clusters on loopback (3.9 with ZooKeeper, 4.x KRaft), started by
## internal/kafkatest/realkafka. kafka/fetch first resolves the brokers from
## Maven Central into ~/.cache/kmigrate/kafka and the Python clients from
## PyPI into ~/.cache/kmigrate/venv (once; needs java, mvn and python3).
## docs/compatibility.md has the matrix.
KAFKA_TEST_TIMEOUT ?= 20m
KMIGRATE_VENV      ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/kmigrate/venv
test-kafka:
	KMIGRATE_VENV=$(KMIGRATE_VENV) kafka/fetch
	KMIGRATE_REAL_KAFKA=1 KMIGRATE_TEST_PYTHON=$(KMIGRATE_VENV)/bin/python3 $(GO) test -count=1 -p 1 -v -timeout $(KAFKA_TEST_TIMEOUT) ./internal/kafkatest/realkafka/...

lint: fmt vet staticcheck

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

$(STATICCHECK):
	GOBIN=$(BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VER)

staticcheck: $(STATICCHECK)
	$(STATICCHECK) ./...

## bench: Go benchmarks (testing.B). Whole-system harnesses live in bench/.
bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...

## bench-mirror: whole-system throughput of `kmigrate mirror --until end`
## against bare franz-go and kcat on a sandbox (bench/README.md). Takes a few
## minutes and ~3 GB of disk; pass flags with MIRRORBENCH_FLAGS, e.g.
## MIRRORBENCH_FLAGS='--records 20000' for a quick check.
bench-mirror:
	$(GO) run ./bench/cmd/mirrorbench $(MIRRORBENCH_FLAGS)

## bench-groups: translating one consumer group over 1,000 partitions of
## 100,000 records: the offset map, the tracing-header search and
## groups.Migrate --dry-run, with fetches per partition (bench/README.md).
## Takes about 7 minutes and ~20 GB of disk; pass flags with
## GROUPBENCH_FLAGS, e.g. GROUPBENCH_FLAGS=--quick for a smoke run.
bench-groups:
	$(GO) run ./bench/cmd/groupbench $(GROUPBENCH_FLAGS)

## bench-verify: `kmigrate verify` (full and --sample) over mirrorbench's
## topic (1,000,000 x 1 KiB, copied with kmigrate mirror) against bare
## franz-go consumers of the source, the target and both at once
## (bench/README.md). Takes about 2 minutes and ~2.5 GB of disk; pass flags
## with VERIFYBENCH_FLAGS, e.g. VERIFYBENCH_FLAGS='--records 20000'.
bench-verify:
	$(GO) run ./bench/cmd/verifybench $(VERIFYBENCH_FLAGS)

## bench-peers: kmigrate side by side with MirrorMaker 2 on two real Kafka
## clusters (bench/cmd/peerbench): throughput and cost of a bare franz-go
## copy, kmigrate mirror, MM2 at-least-once and exactly-once, then consumer
## group moves (re-delivered and skipped records). Resolves Kafka and MM2
## from Maven Central first. The full size takes long; pass flags with
## PEERBENCH_FLAGS, e.g. PEERBENCH_FLAGS='--records 20000 --records2 0'.
bench-peers:
	KMIGRATE_VENV=$(KMIGRATE_VENV) kafka/fetch
	kafka/fetch connect-mirror
	$(GO) run ./bench/cmd/peerbench $(PEERBENCH_FLAGS)

## fuzz: a short run of every fuzz target.
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$t"; $(GO) test -run='^$$' -fuzz="^$$t$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf $(BIN)
