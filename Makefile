# Racelab's make targets. The labs are broken on purpose: `make test` proves
# they fail for their declared reasons; it never runs them as if they should
# pass.

GO      ?= go
RUNS    ?= 20
export GORACE ?= atexit_sleep_ms=0

.PHONY: test unit solutions labcheck labs verify lint tidy golden docs bench test2json clean help

help:
	@echo "make test      the project's own tests: checker, solutions, each lab failing as declared"
	@echo "make labs      the learner's view: every lab's verdict (broken until fixed)"
	@echo "make verify    maintainers: every lab, solution and variant, RUNS=$(RUNS) runs at GOMAXPROCS 1, 2 and 8"
	@echo "make lint      gofmt, go vet, go.mod tidiness"
	@echo "make golden    re-record the classifier's test runs and expected findings"
	@echo "make docs      regenerate the README's lab table and docs/curriculum.md from labs/*/lab.yaml"
	@echo "make bench     checker speed against plain go test"

test: lint unit solutions labcheck

# The checker's own tests, under the race detector.
unit:
	$(GO) test -race -count=1 -timeout 30m ./checker/...

# The reference solutions pass with plain go test.
solutions:
	$(GO) test -race -count=1 ./solutions/...

# Every lab fails for exactly its declared kinds, with its headline on the
# learner's line, and every solution and variant ends as declared: each
# once, at GOMAXPROCS 1 or 2 in turn (make verify runs them all, many
# times). The labs are checked
# as shipped (their Go files as committed or staged), so a learner's fixes
# never make this fail; only failures are listed, so no fix is spoiled.
labcheck:
	$(GO) run ./checker verify -shipped -quiet -rotate -runs 1 -gomaxprocs 1,2 -no-color

# The main job, as a learner sees it. Exit status 1 means "some lab is still
# broken", which is the point; 2 and 3 are real errors.
labs:
	@$(GO) run ./checker; status=$$?; test $$status -le 1

verify:
	$(GO) run ./checker verify -runs $(RUNS) -gomaxprocs 1,2,8

lint: tidy
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	# go vet's default suite includes copylocks, waitgroup, loopclosure and
	# lostcancel, which go test's own vet run leaves out.
	$(GO) vet ./checker/... ./solutions/...
	# Learners run the checker and the labs on macOS too. The labs' tests
	# are the solutions' (vetted here for darwin); the labs' own code is
	# broken on purpose, so vet would flag it: it is built instead.
	GOOS=darwin $(GO) vet ./checker/... ./solutions/...
	GOOS=darwin $(GO) build ./checker/... ./labs/...

tidy:
	$(GO) mod tidy -diff

golden:
	$(GO) test ./checker/internal/diagnose -run TestGolden -record -update

docs:
	$(GO) test ./checker/internal/catalog -run TestDocsAreCurrent -update

bench:
	$(GO) run ./checker/internal/bench

# Refresh the copy of the toolchain's test2json converter from this Go.
test2json:
	src="$$($(GO) env GOROOT)/src/cmd/internal/test2json"; \
	cp "$$src"/test2json.go "$$src"/test2json_test.go checker/internal/test2json/ && \
	rm -rf checker/internal/test2json/testdata && cp -r "$$src"/testdata checker/internal/test2json/
	$(GO) test ./checker/internal/test2json

# The checker keeps test binaries and learner state in the user cache.
clean:
	rm -rf "$${XDG_CACHE_HOME:-$$HOME/.cache}/racelab"
