# ecs-bridge developer tasks. `make test` is the command README.md and CI use.
CARGO ?= cargo
PYTHON ?= python3

.PHONY: all generate generate-ecs fmt lint test test-deps render e2e e2e-kind

all: lint test

## generate: write crds/ from src/api (ecs-bridge crdgen); the drift test fails until this is run.
generate:
	$(CARGO) run --quiet -- crdgen --dir crds

## generate-ecs: regenerate src/api/ecs/ from botocore's ECS model (after bumping botocore).
generate-ecs: test-deps
	$(PYTHON) hack/gen_ecs_types.py
	$(CARGO) fmt

## fmt: format the code.
fmt:
	$(CARGO) fmt

## lint: formatting, clippy and doc links, as CI runs them.
lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	RUSTDOCFLAGS='-D warnings' $(CARGO) doc --no-deps --lib --locked

## test-deps: the Python tools the tests drive (botocore, kubernetes-validate).
test-deps:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt

## test: every test (unit, CRD, corpus, CLI).
test: test-deps
	$(CARGO) test --workspace --locked

## render: render the examples offline.
render:
	$(CARGO) run --quiet -- render examples/

## e2e: the end-to-end suite against the in-process API server double (also part of `make test`).
e2e: test-deps
	$(CARGO) test --locked --test e2e

## e2e-kind: the same suite against a kind cluster (kind create cluster --config e2e/kind.yaml).
## Uses the current kubectl context's kubeconfig; the operator runs from this checkout.
e2e-kind:
	E2E_KUBECONFIG=$${KUBECONFIG:-$$HOME/.kube/config} $(CARGO) test --locked --test e2e -- --test-threads=1
