# The two commands of the README, and the steps they are made of.
# Each step installs what it needs; nothing has to be set up by hand first.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV := $(CURDIR)/.venv
COLLECTION_LINK := $(CURDIR)/.cache/collections/ansible_collections/selfhosted/dyndns
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.cache/collections
# Ansible's own home in the checkout: no copy of this collection installed in
# ~/.ansible by another tool can shadow the tree under test.
export ANSIBLE_HOME := $(CURDIR)/.cache/ansible
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help demo demo-clean test bench lint unit molecule bootstrap venv collection

help:
	@echo "make demo        deploy the service into demo containers and show it working"
	@echo "make demo-clean  remove the demo containers"
	@echo "make test        lint, unit and integration tests, every Molecule scenario"
	@echo "make bench       the update path against the seed design and Knot alone (a table)"

demo: bootstrap venv collection
	molecule create
	molecule converge
	molecule side-effect
	@echo "The demo containers keep running: 'make demo-clean' removes them."

demo-clean: venv collection
	molecule destroy

test: lint unit molecule

lint: venv collection
	yamllint --strict .
	ansible-lint
	ruff check .
	ruff format --check .
	antsibull-changelog lint

# Unit tests, and integration tests against a real knotd each test starts on loopback.
unit: bootstrap venv collection
	pytest tests

molecule: bootstrap venv collection
	molecule test --all --exclude bench

# Not part of `make test`: a benchmark (molecule/bench), about ten minutes. It writes
# its table to .cache/bench/ and fails only on wrong answers or a wrong final zone.
# BENCH_DURATION (s per case, 10), BENCH_ROUNDS (3), BENCH_FLOOR=1 (adds c=1 cases),
# BENCH_PROCESSES (the app's daemon processes, default the role's: 1).
bench: bootstrap venv collection
	molecule test --scenario-name bench
	@cat "$$(ls -t .cache/bench/bench-*.md | head -n 1)"

bootstrap:
	scripts/bootstrap.sh

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -qq --upgrade pip
	$(VENV)/bin/pip install -qq -r requirements.txt
	touch $@

# Ansible finds this checkout as the collection selfhosted.dyndns.
collection: $(COLLECTION_LINK)

$(COLLECTION_LINK):
	mkdir -p $(dir $@)
	ln -sfn $(CURDIR) $@

# The tarball users install (README, "Install"): `make build` packs the version
# galaxy.yml states; `make release VERSION=x.y.z` first sets that version and
# turns the changelog fragments into CHANGELOG.rst. Neither commits nor tags.
RELEASE_DIR := $(CURDIR)/.cache/release

.PHONY: build release

build: venv
	ansible-galaxy collection build --force --output-path $(RELEASE_DIR)

release: venv collection
	@[[ "$(VERSION)" =~ ^[0-9]+\.[0-9]+\.[0-9]+$$ ]] || { echo "usage: make release VERSION=x.y.z" >&2; exit 2; }
	sed -i -E 's/^version: .*/version: $(VERSION)/' galaxy.yml
	antsibull-changelog release
	$(MAKE) build
