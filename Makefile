# slicedns: `make run` serves testdata/demo with no cluster; `make test` runs
# every test on a machine that has only Go (it installs the rest via `make deps`).

GO        ?= go
BIN       := bin/slicedns
DNS_ADDR  ?= 127.0.0.1:5353
HTTP_ADDR ?= 127.0.0.1:8080
MANIFESTS ?= testdata/demo

.PHONY: all build run test test-unit deps deps-tools deps-kube bench vet cross fmt clean

all: build

build:
	$(GO) build -trimpath -o $(BIN) ./cmd/slicedns

run: build
	./$(BIN) --manifests $(MANIFESTS) --dns-addr $(DNS_ADDR) --http-addr $(HTTP_ADDR) --http-explain --allow-transfer 127.0.0.1,::1 --log-format console

# deps installs what tests need beyond Go: dig and dnsperf (Debian packages)
# and etcd + kube-apiserver built from Go modules into a cache outside the repo.
deps: deps-tools deps-kube

deps-tools:
	./hack/deps.sh

deps-kube:
	./hack/kube/build.sh >/dev/null

vet:
	$(GO) vet ./...

# cross builds the command and the library packages for the other systems
# people run them on (a laptop with macOS, Windows): SO_REUSEPORT and the
# socket options differ there, and nothing else would notice a break.
cross:
	GOOS=darwin GOARCH=arm64 $(GO) build -o /dev/null ./cmd/slicedns
	GOOS=windows GOARCH=amd64 $(GO) build -o /dev/null ./cmd/slicedns
	GOOS=freebsd GOARCH=amd64 $(GO) build ./dns ./zone ./watch

# The kube-apiserver tests find the binaries through SLICEDNS_KUBE_BIN. The
# race detector runs over the packages whose readers and writers share
# snapshots (-short: without the API server, which the first run covers).
test: deps vet cross
	SLICEDNS_KUBE_BIN=$$(./hack/kube/build.sh 2>/dev/null) $(GO) test -count=1 -timeout 25m ./...
	$(GO) test -count=1 -short -race ./zone ./dns ./watch

test-unit:
	$(GO) test -count=1 -short ./...

bench: build deps
	SLICEDNS_BENCH_APISERVER=$${SLICEDNS_BENCH_APISERVER:-1} ./hack/bench.sh

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin bench/out
