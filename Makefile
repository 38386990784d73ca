# Two commands do everything on a fresh machine:
#   make grade   create .venv, install deploycheck + a Chromium + Tesseract, grade the default example repo
#   make test    run deploycheck's own test suite
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
EXAMPLE ?= fixtures/built/classroom/complete_aws
EXAMPLE_RUNTIME ?= sagemaker:1.2-1      # the serving image $(EXAMPLE) declares (framework_version)
REPORT  ?= out/grade
PIPQ    := 2>&1 | grep -v -e 'is ignored: it is neither' -e '^$$' || true
# serving images whose runtime environments the test suite uses (KEY@DATE: the image's build of that
# day, for tests/runtimes/test_eras.py; built once into
# /var/cache/deploycheck/runtimes as root, else ~/.cache/deploycheck/runtimes;
# `deploycheck runtimes list|build|prune`)
TEST_RUNTIMES ?= sagemaker:1.2-1 sagemaker:1.0-1 sagemaker:0.23-1 ai-platform:2.11 vertex:sklearn-cpu.1-2 \
                 sagemaker:1.4-2 vertex:sklearn-cpu.1-6 sagemaker:1.2-1@2023-05-15

.PHONY: grade test test-quick typecheck venv chromium bubblewrap ocr fixtures clean bench bench-ocr runtimes runtimes-example

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip $(PIPQ)
	$(PY) -m pip install -q -e '.[cloud,proof,test]' $(PIPQ)
	$(PY) -c "import deploycheck, sklearn, boto3, moto, google.cloud.aiplatform, playwright, matplotlib"
	touch $@

venv: $(VENV)/.installed

chromium: venv
	@sh scripts/ensure-chromium.sh $(PY)

bubblewrap:
	@sh scripts/ensure-bwrap.sh

# the environments of the images the default example declares (fixtures/build.py pickles each
# example's model inside its image's environment, so it builds what it needs on first use too)
runtimes-example: venv
	$(PY) -m deploycheck.cli runtimes build $(EXAMPLE_RUNTIME)

runtimes: venv
	$(PY) -m deploycheck.cli runtimes build $(TEST_RUNTIMES)

ocr: venv
	@sh scripts/ensure-tesseract.sh

fixtures: venv chromium
	$(PY) fixtures/screenshots.py
	$(PY) fixtures/build.py
	$(PY) reference_deploys/build.py

grade: venv chromium bubblewrap ocr runtimes-example fixtures
	-$(VENV)/bin/deploycheck grade --repo $(EXAMPLE) --report $(REPORT)
	@$(PY) -m deploycheck.gradeinfo $(REPORT)

# mypy on deploycheck/ (configured in pyproject.toml [tool.mypy]); `make test` runs it first
typecheck: venv
	$(PY) -m mypy deploycheck

test: typecheck venv chromium bubblewrap ocr runtimes fixtures
	$(PY) -m pytest tests/ -n 2 -p no:cacheprovider -q

# while developing: the suite without the tests marked slow (a fresh install as another user, the
# README's commands run as printed, ...); `make test` and .ci/run always run everything
test-quick: typecheck venv chromium bubblewrap ocr runtimes fixtures
	$(PY) -m pytest tests/ -n 2 -p no:cacheprovider -q -m "not slow"

bench: venv runtimes fixtures
	$(PY) benchmarks/classroom.py --repos 200
	$(PY) benchmarks/runtimes.py

bench-ocr: venv ocr fixtures
	$(PY) benchmarks/ocr.py --repos 200 --workers 2

clean:
	rm -rf $(VENV) out fixtures/built .pytest_cache
