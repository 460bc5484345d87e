# The two commands of the README: `make demo` (the main job) and `make test` (the whole suite, slow tests included).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint venv clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/sharpeyes demo

test: $(STAMP)
	./scripts/test-setup.sh
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest --runslow -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV)
