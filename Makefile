# Two commands on a fresh machine: `make demo` and `make test`. Both create or reuse ./.venv.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The install stamp is keyed on the requirements, so editing them reinstalls; otherwise it is a no-op.
REQ_HASH := $(shell cat requirements.txt | sha1sum | cut -c1-12)
STAMP := $(VENV)/.installed-$(REQ_HASH)
TEST_REQ_HASH := $(shell cat requirements-test.txt | sha1sum | cut -c1-12)
TEST_STAMP := $(VENV)/.installed-test-$(TEST_REQ_HASH)
PYX := $(shell find src dependency -name '*.pyx' 2>/dev/null)
OFFICIAL_ONNX := .cache/official/centerface.onnx
OFFICIAL_CKPT := .cache/official/centerface_official.ckpt

.PHONY: install build test test-fast test-portable test-portable-fast demo bench weights clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): requirements.txt | $(PY)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	rm -f $(VENV)/.installed-[0-9a-f]*
	touch $@

# Test-only extras (the PyTorch references of the parity tests), kept out of requirements.txt.
$(TEST_STAMP): requirements-test.txt $(STAMP)
	$(PY) -m pip install -q -r requirements-test.txt
	rm -f $(VENV)/.installed-test-*
	touch $@

install: $(STAMP)

# Cython extensions (NMS, box overlaps); every one has a numpy fallback.
.cache/build.stamp: $(STAMP) setup.py $(PYX)
	mkdir -p .cache
	$(PY) setup.py -q build_ext --inplace
	touch $@

build: .cache/build.stamp

$(OFFICIAL_ONNX): | $(STAMP)
	$(PY) -m src.pretrained fetch --output_path $(OFFICIAL_ONNX)

$(OFFICIAL_CKPT): $(OFFICIAL_ONNX) src/convert_weight_centerface.py
	$(PY) src/convert_weight_centerface.py --onnx $(OFFICIAL_ONNX) --output_path $(OFFICIAL_CKPT)

weights: $(OFFICIAL_CKPT)

# Two worker processes, one test file each at a time, the longest files first (tests/conftest.py). Each worker gets
# half the cores (OMP_NUM_THREADS, unless set; docs/testing.md: 2 threads each on 2 cores get in each other's way).
# CI=true: a test whose optional dependency is missing fails instead of skipping (make test installs them all).
TEST_THREADS := $(shell n=$$(nproc 2>/dev/null || echo 2); echo $$(( n >= 4 ? n / 2 : 1 )))
RUN_PYTEST := CI=$${CI:-true} $(PY) -m pytest -q -n 2 --dist loadfile
PYTEST := OMP_NUM_THREADS=$${OMP_NUM_THREADS:-$(TEST_THREADS)} $(RUN_PYTEST)
test: build $(TEST_STAMP)
	$(PYTEST) tests

# The unit tests without the integration tests marked slow.
test-fast: build $(TEST_STAMP)
	$(PYTEST) -m "not slow" tests

# The rounding-sensitive tests (marker `numerics`: training steps and outcomes, kernel and export parity, the 310
# chain) again under what another CPU changes: oneDNN's SSE4.1 code instead of AVX2, and one thread (OMP_NUM_THREADS
# also sets MindSpore's runtime_num_threads and the kernels' threads). The SSE4.1 pass runs on all cores, so with
# make test's share the tests see up to three thread counts. test-portable-fast: without the slow ones.
PORTABLE_SETTINGS := ONEDNN_MAX_CPU_ISA=SSE41 OMP_NUM_THREADS=1
PORTABLE_MARK ?= numerics
test-portable: build $(TEST_STAMP)
	set -e; for setting in $(PORTABLE_SETTINGS); do echo "== $$setting"; \
	  env $$setting $(RUN_PYTEST) -m "$(PORTABLE_MARK)" tests; done

test-portable-fast:
	$(MAKE) test-portable PORTABLE_MARK="numerics and not slow"

demo: build weights
	$(PY) scripts/demo.py --ckpt_path $(OFFICIAL_CKPT) --image assets/astronaut.png --output_path outputs/demo

# Benchmarks compare against peers measured in the same run; torch (PyTorch twin) is benchmark-only.
bench: build weights $(TEST_STAMP)
	$(PY) benchmarks/bench_infer.py --ckpt_path $(OFFICIAL_CKPT) --onnx $(OFFICIAL_ONNX)
	$(PY) benchmarks/bench_predict.py --ckpt_path $(OFFICIAL_CKPT) --onnx $(OFFICIAL_ONNX)
	$(PY) benchmarks/bench_eval.py
	$(PY) benchmarks/bench_data.py
	$(PY) benchmarks/bench_train.py
	$(PY) benchmarks/bench_coco_eval.py
	@# bench_centernet.py's default --part all: inference, training, data and the predict.py path vs the twin
	$(PY) benchmarks/bench_centernet.py
	$(PY) benchmarks/bench_centernet.py --model ctdet_resdcn18
	$(PY) benchmarks/bench_centernet.py --model ctdet_dla --separate-processes

clean:
	rm -rf build .cache/build.stamp
	find src dependency -name '*.so' -delete
