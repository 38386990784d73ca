# Two commands do everything on a fresh machine:
#   make grade   create .venv, install deploycheck + a Chromium, grade the default example repo
#   make test    run deploycheck's own test suite
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
EXAMPLE ?= fixtures/built/classroom/complete_aws
REPORT  ?= out/grade
PIPQ    := 2>&1 | grep -v -e 'is ignored: it is neither' -e '^$$' || true

.PHONY: grade test venv chromium fixtures clean bench

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip $(PIPQ)
	$(PY) -m pip install -q -e '.[cloud,proof,test]' $(PIPQ)
	$(PY) -c "import deploycheck, sklearn, boto3, moto, google.cloud.aiplatform, playwright"
	touch $@

venv: $(VENV)/.installed

chromium: venv
	@sh scripts/ensure-chromium.sh $(PY)

fixtures: venv
	$(PY) fixtures/build.py
	$(PY) reference_deploys/build.py

grade: venv chromium fixtures
	-$(VENV)/bin/deploycheck grade --repo $(EXAMPLE) --report $(REPORT)
	@$(PY) -m deploycheck.gradeinfo $(REPORT)

test: venv chromium fixtures
	$(PY) -m pytest tests/ -n 2 -p no:cacheprovider -q

bench: venv fixtures
	$(PY) benchmarks/classroom.py --repos 200

clean:
	rm -rf $(VENV) out fixtures/built .pytest_cache
