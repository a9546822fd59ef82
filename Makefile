# Every target is a thin wrapper over `python -m sft_helpers ...`, so the same commands work
# without make (for example on Windows): replace `make X` with `python -m sft_helpers X`.
PYTHON ?= python3
SUBMISSIONS ?= submissions
GRADES ?= grades.csv

.PHONY: setup course notebooks test lab doctor exercises grade bench site site-test

setup:      ## create .venv, install the pinned packages, register the Jupyter kernel
	$(PYTHON) -m sft_helpers setup

course:     ## execute every notebook headless and print the results table (SFT_FAST=1 for a quick pass)
	$(PYTHON) -m sft_helpers course

notebooks:  ## re-execute the solution notebooks in full mode and store their outputs
	$(PYTHON) -m sft_helpers notebooks

test:       ## ruff + pytest (unit tests, notebooks in fast mode, exercises in sync)
	$(PYTHON) -m sft_helpers test

lab:        ## JupyterLab on the course
	$(PYTHON) -m sft_helpers lab

doctor:     ## check the installation
	$(PYTHON) -m sft_helpers doctor

exercises:  ## regenerate exercises/ from notebooks/
	$(PYTHON) -m sft_helpers exercises build

grade:      ## grade submissions: make grade SUBMISSIONS=folder GRADES=grades.csv GRADE_ARGS="--jobs 2"
	$(PYTHON) -m sft_helpers grade $(SUBMISSIONS) --out $(GRADES) $(GRADE_ARGS)

bench:      ## run the benchmark scripts (they need ../shared/benchmarks for real data)
	$(PYTHON) -m sft_helpers bench

site:       ## build the course website into build/site/ from the committed notebooks (nothing re-executed)
	$(PYTHON) -m sft_helpers site build

site-test:  ## install chromium if missing, build the site, check it in headless Chromium (screenshots in build/site-test/)
	$(PYTHON) -m sft_helpers site test
