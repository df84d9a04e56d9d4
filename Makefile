# The two commands of the README, and the steps they are made of.
# Each step installs what it needs; nothing has to be set up by hand first.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV := $(CURDIR)/.venv
OLDEST := $(CURDIR)/.cache/oldest
COLLECTION_LINK := $(CURDIR)/.cache/collections/ansible_collections/selfhosted/dyndns
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.cache/collections
# Ansible's own home in the checkout: no copy of this collection installed in
# ~/.ansible by another tool can shadow the tree under test.
export ANSIBLE_HOME := $(CURDIR)/.cache/ansible
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help demo demo-clean test bench lint sanity build release unit molecule bootstrap venv collection

help:
	@echo "make demo        deploy the service into demo containers (Debian 13) and show it working"
	@echo "make demo-clean  remove the demo containers"
	@echo "make test        lint, unit and integration tests, every Molecule scenario"
	@echo "make bench       the update path against the seed design and Knot alone (a table)"
	@echo "make build       the collection's tarball, in .cache/build/"
	@echo "make release VERSION=x.y.z   set the version, write CHANGELOG.rst, build"

demo: bootstrap venv collection
	molecule create
	molecule converge
	molecule side-effect
	@echo "The demo containers keep running: 'make demo-clean' removes them."

demo-clean: venv collection
	molecule destroy

test: lint unit molecule

lint: venv collection sanity build
	yamllint --strict .
	ansible-lint
	ruff check .
	ruff format --check .
	antsibull-changelog lint

# ansible-test sanity (ansible-core's checks of module docs, imports, ...); see the script.
sanity: venv
	scripts/sanity.sh

# The collection as users get it, .cache/build/selfhosted-dyndns-*.tar.gz: what they need is
# in it, and no development file (a dotfile, the tests, molecule/, scripts/, ...).
build: venv
	rm -rf .cache/build
	ansible-galaxy collection build --output-path .cache/build . >/dev/null
	tar tzf .cache/build/selfhosted-dyndns-*.tar.gz >.cache/build/files.txt
	for f in README.md LICENSE meta/runtime.yml changelogs/changelog.yaml playbooks/site.yml \
	    plugins/modules/delegation_info.py roles/knot/tasks/main.yml files/dyndns_update/ \
	    inventories/example/hosts.yml; do \
	  grep -qx "$$f" .cache/build/files.txt || { echo "missing from the build: $$f"; exit 1; }; \
	done
	! grep -E '(^|/)(\.|__pycache__|.*\.pyc$$)|^(Makefile|pyproject|requirements|molecule|scripts|tests|inventories/demo)|^changelogs/fragments' .cache/build/files.txt

# Unit tests, and integration tests against a real knotd each test starts on loopback.
unit: bootstrap venv collection
	pytest tests

# The whole stack (molecule/default; DYNDNS_DEBIAN picks its images, DYNDNS_DEMO its inventory):
# the demo on Debian 13 with the pinned ansible-core; the demo with a hidden primary on Debian 12
# with the oldest ansible-core that meta/runtime.yml claims (requirements-oldest.txt, a virtualenv
# of its own, first on PATH) and from the built tarball, installed as a user installs it; its
# server is backed up, made again from the Debian 13 image and restored before the tests
# (DYNDNS_RESTORE_ONTO, molecule/default/tests/test_backup.py). The
# other scenarios but the benchmark run meanwhile, with the pinned ansible-core (their own
# networks and container names: only two runs of one scenario would collide); their output
# follows when both are done.
molecule: bootstrap venv collection build $(OLDEST)/.installed
	DYNDNS_DEBIAN=13 molecule test --scenario-name default
	rm -rf .cache/installed
	molecule test --all --exclude default --exclude bench >.cache/molecule-others.log 2>&1 & others=$$!; \
	status=0; \
	( export PATH=$(OLDEST)/bin:$$PATH ANSIBLE_COLLECTIONS_PATH=$(CURDIR)/.cache/installed && \
	  ansible-galaxy collection install --offline -p .cache/installed .cache/build/*.tar.gz && \
	  ansible-galaxy collection list selfhosted.dyndns && \
	  ansible-playbook --version | sed -n 1p && \
	  ansible-playbook --syntax-check -i localhost, playbooks/*.yml && \
	  DYNDNS_DEBIAN=12 DYNDNS_DEMO=demo-hidden-primary DYNDNS_RESTORE_ONTO=13 \
	    molecule test --scenario-name default \
	) || status=$$?; \
	wait $$others || status=$$?; \
	cat .cache/molecule-others.log; \
	exit $$status

# Of the bundle's thousands of files only ansible-core's are compiled: it installs in less
# than half the time.
$(OLDEST)/.installed: requirements-oldest.txt
	python3 -m venv $(OLDEST)
	$(OLDEST)/bin/pip install -qq --no-compile -r requirements-oldest.txt
	$(OLDEST)/bin/python -m compileall -q $(OLDEST)/lib/python3*/site-packages/ansible
	touch $@

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

# `make release VERSION=x.y.z` sets that version in galaxy.yml, turns the changelog
# fragments into CHANGELOG.rst and builds the tarball (`make build`, .cache/build/). It
# neither commits nor tags.
release: venv collection
	@[[ "$(VERSION)" =~ ^[0-9]+\.[0-9]+\.[0-9]+$$ ]] || { echo "usage: make release VERSION=x.y.z" >&2; exit 2; }
	sed -i -E 's/^version: .*/version: $(VERSION)/' galaxy.yml
	antsibull-changelog release
	$(MAKE) build
