# Crisis-aid coordination platform. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV_VERSION := 0.13.9
# uv from PATH, else the pip-installed module (installed on first use).
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
PYTEST_ARGS ?=

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-14s %s\n", $$1, $$2}'

.PHONY: install
install: ## create .venv with every workspace package and the crisisaid command (from uv.lock)
	@$(UV) --version >/dev/null 2>&1 || { echo "installing uv $(UV_VERSION)"; \
		python3 -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"; }
	@$(UV) sync --all-packages --frozen --quiet

.PHONY: run
run: install ## embedded mode: three services in one process on 8001/8002/8003, SQLite under .data/, demo data
	@$(UV) run --frozen crisisaid dev

.PHONY: infra-up
infra-up: ## start local PostgreSQL (5432) and a real Kafka broker (9092, KRaft); installs them when absent
	@deploy/local/postgres.sh start
	@deploy/local/kafka.sh start

.PHONY: infra-down
infra-down: ## stop local Kafka and PostgreSQL; leaves no process behind
	@deploy/local/kafka.sh stop
	@deploy/local/postgres.sh stop

.PHONY: lint
lint: install ## ruff, mypy (types), lint-imports (who may import whom), xenon (no function above complexity C)
	@$(UV) run --frozen ruff check .
	@$(UV) run --frozen ruff format --check --quiet .
	@$(UV) run --frozen mypy
	@$(UV) run --frozen lint-imports --no-cache
	@$(UV) run --frozen xenon --max-absolute C --exclude "*/migrations/*" libs services composition && echo "xenon: no function above complexity C"

.PHONY: tools
tools: ## build kustomize (from its Go module) into .infra/bin for the Kubernetes manifest tests
	@deploy/local/tools.sh install

.PHONY: test
test: install tools infra-up lint ## install what is missing, start PostgreSQL and Kafka, run every test (none may skip)
	@$(UV) run --frozen pytest --ignore=tests/live --ignore=tests/compose $(PYTEST_ARGS)

.PHONY: k8s-live
k8s-live: install tools ## both overlays against a real control plane (kube-apiserver, controllers, scheduler, kwok), and both overlays' pods run by podman kube play, in its own network namespace
	@deploy/local/tools.sh apiserver
	@deploy/containers/images.sh all
	@unshare --net sh -c 'ip link set lo up && exec .venv/bin/pytest tests/live -s $(PYTEST_ARGS)'

.PHONY: compose-live
compose-live: install ## docker-compose.yml for real: images built with podman (no registry), the stack in its own network namespace, its end-to-end smoke
	@deploy/containers/images.sh all
	@unshare --net sh -c 'ip link set lo up && exec .venv/bin/pytest tests/compose -s $(PYTEST_ARGS)'

.PHONY: bench
bench: install infra-up ## P1–P6 against their bare baselines: table, bench/out/report.json and report.png (~18 min)
	@deploy/local/tools.sh bench
	@$(UV) run --frozen python -m bench $(BENCH_ARGS)

.PHONY: asyncapi
asyncapi: install ## regenerate docs/asyncapi.yaml from the event registry
	@$(UV) run --frozen crisisaid asyncapi > docs/asyncapi.yaml
	@echo "wrote docs/asyncapi.yaml"
