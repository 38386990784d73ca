# Two commands do everything on a fresh machine:
#   make grade   create .venv, install deploycheck + a Chromium, grade the default example repo
#   make test    run deploycheck's own test suite
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
EXAMPLE ?= fixtures/built/classroom/complete_aws
REPORT  ?= out/grade
PIPQ    := 2>&1 | grep -v -e 'is ignored: it is neither' -e '^$$' || true

.PHONY: grade test venv chromium bubblewrap fixtures clean bench

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip $(PIPQ)
	$(PY) -m pip install -q -e '.[cloud]' $(PIPQ)
	$(PY) -c "import deploycheck, sklearn, boto3, moto, google.cloud.aiplatform, playwright"
	touch $@

venv: $(VENV)/.installed

chromium: venv
	@sh scripts/ensure-chromium.sh $(PY)

bubblewrap:
	@sh scripts/ensure-bwrap.sh

fixtures: venv
	$(PY) fixtures/build.py
	$(PY) reference_deploys/build.py

grade: venv chromium bubblewrap fixtures
	-$(PY) -m pytest checks/ --repo $(EXAMPLE) --report $(REPORT) -p no:cacheprovider -q
	@$(PY) -m deploycheck.gradeinfo $(REPORT)

test: venv chromium bubblewrap fixtures
	$(PY) -m pytest tests/ -n 2 -p no:cacheprovider -q

bench: venv fixtures
	$(PY) benchmarks/classroom.py --repos 200

clean:
	rm -rf $(VENV) out fixtures/built .pytest_cache
