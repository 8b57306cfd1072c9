PYTHON ?= python3
# `make demo PORT=8081` when 8080 is taken.
PORT ?= 8080
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint demo bench bench-quick clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,bench]'
	# PDQ (optional extra) compiles C++: install it when a C++ compiler is there; its tests skip otherwise.
	if command -v g++ >/dev/null 2>&1; then $(BIN)/pip install -q -e '.[pdq]'; \
	else echo "note: g++ not found, PDQ hashing (extra [pdq]) not installed"; fi
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .

demo: $(STAMP)
	$(BIN)/filter-proxy demo --rules rules/ --port $(PORT)

# The peers suite runs e2guardian, squidGuard and wrk side by side when they are installed (skipped with a
# note otherwise): apt-get install e2guardian squidguard wrk
bench: $(STAMP)
	$(BIN)/python -m benchmarks

bench-quick: $(STAMP)
	$(BIN)/python -m benchmarks --quick

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache filter_proxy/matchers/_page_kernel.c filter_proxy/matchers/_page_kernel.*.so \
		filter_proxy/signals/_url_kernel.c filter_proxy/signals/_url_kernel.*.so \
		filter_proxy/adapters/_walk_kernel.c filter_proxy/adapters/_walk_kernel.*.so
