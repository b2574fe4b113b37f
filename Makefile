# plate-ocr: every entry point. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.setup-done
# CI here reaches only the CUDA build of torch 2.14.1 on local disk; the Lambda image uses the CPU build.
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
MANIFEST ?= ../shared/datasets/kr-plates/manifest.csv
HOST ?= 127.0.0.1
PORT ?= 3000

.PHONY: help setup system-deps run test unit functional hardening security load lint container-test train train-detector calibrate eval bench clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

setup: $(STAMP) ## create .venv and install everything (idempotent)

$(STAMP): pyproject.toml Makefile
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON)"; exit 1; }
	@echo "==> first run: creating .venv and installing plate-ocr (torch is large: a few minutes)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "==> [1/3] pip"
	$(BIN)/pip install -q --upgrade pip
	@echo "==> [2/3] torch and torchvision ($(TORCH_SPEC))"
	$(BIN)/pip install -q $(TORCH_SPEC)
	@echo "==> [3/3] plate-ocr and its dependencies"
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)
	@echo "==> set-up done"

run: setup ## start the API + web page locally on http://$(HOST):$(PORT) (no Docker)
	$(BIN)/plate-ocr serve --host $(HOST) --port $(PORT)

test: setup system-deps lint unit functional hardening security container-test ## everything CI runs

system-deps: ## Debian packages for the browser test and training fonts (root, idempotent)
	bash scripts/install-system-deps.sh

unit: setup ## pure unit tests
	$(BIN)/pytest -q tests/unit

functional: setup ## handler tests with moto and fakes
	$(BIN)/pytest -q tests/functional

lint: setup ## ruff lint + format check, mypy strict on plate_ocr and functions
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

hardening: setup ## bad input, faults, schemathesis against our OpenAPI, security checks
	$(BIN)/pytest -q tests/hardening

security: setup ## cfn-lint with serverless rules + checkov on template.yaml (offline after first run)
	bash scripts/security-scan.sh

load: setup ## 4 clients against plate-ocr serve on loopback, at most 2 minutes (a benchmark)
	$(BIN)/python scripts/load.py

container-test: setup ## build the Lambda image and sam-local-invoke both functions
	TORCH_SPEC="$(TORCH_SPEC)" bash scripts/container-test.sh

# --resume in TRAIN_ARGS resumes the fine-tunes too (each from its own runs/<run>/last.pt).
FT_ARGS = $(filter --resume,$(TRAIN_ARGS))

train: setup ## train the recogniser from scratch and export it to models/ (TRAIN_ARGS=--resume resumes)
	bash scripts/install-system-deps.sh --training
	@# The calibration at the end needs the dev scenes' readings (local): stop now, not hours later.
	$(BIN)/python -m training.calibrate --check
	$(BIN)/python -m training.train --no-export --eval-every 2000 $(TRAIN_ARGS)
	$(BIN)/python -m training.train --run runs/korplate-ft --init runs/korplate/last.pt --no-render \
		--steps 1200 --warmup 96 --batch 48 --lr 3e-4 --real-frac 0.5 --seed 99 --eval-every 400 \
		--no-export $(FT_ARGS)
	$(BIN)/python -m training.dataset --pool runs/pool_ft --first 0 --count 8
	$(BIN)/python -m training.train --run runs/korplate-ft2 --init runs/korplate-ft/last.pt \
		--no-render --pool runs/pool_ft --steps 1500 --warmup 120 --batch 48 --lr 3e-4 \
		--real-frac 0.5 --seed 11 --eval-every 500 --no-export $(FT_ARGS)
	@echo "==> last fine-tune: emblem strips (synthetic) and the unlabelled scenes' confident plates"
	@# The second fine-tune reads the unlabelled scenes from a folder of its own: models/ changes
	@# only at the end, so a run stopped here leaves the shipped model and its calibration alone.
	rm -rf runs/ft2-models && mkdir -p runs/ft2-models
	cp models/korplate.py models/platedet.pth models/platedet.yaml models/confidence.json runs/ft2-models/
	$(BIN)/python -m training.export runs/korplate-ft2/last.pt --out runs/ft2-models
	$(BIN)/python -m training.pseudo propose --models runs/ft2-models --out runs/pseudo/proposals_ft3.json
	$(BIN)/python -m training.pseudo texts --proposals runs/pseudo/proposals_ft3.json
	$(BIN)/python -m training.dataset --pool runs/pool_strip --first 0 --count 12
	$(BIN)/python -m training.train --run runs/korplate-strip --init runs/korplate-ft2/last.pt \
		--no-render --pool runs/pool_strip --steps 2000 --warmup 100 --batch 48 --lr 3e-4 \
		--real-frac 0.3 --seed 21 --eval-every 500 --threads 2 $(FT_ARGS)
	$(BIN)/python -m training.calibrate
	$(BIN)/python -m training.evaluate

train-detector: setup ## train the plate detector from scratch (three rounds), export it to models/ and refit the calibration (DETECTOR_ARGS=--resume resumes each round)
	bash scripts/install-system-deps.sh --training
	$(BIN)/python -m training.calibrate --check
	$(BIN)/python -m training.detector --no-export $(DETECTOR_ARGS)
	$(BIN)/python -m training.detector --run runs/platedet2 --init runs/platedet/last.pt \
		--steps 1500 --lr 5e-4 --warmup 100 --no-export $(DETECTOR_ARGS)
	$(BIN)/python -m training.detector --run runs/platedet3 --init runs/platedet2/last.pt \
		--steps 2400 --lr 1e-3 --warmup 100 --seed 23 --eval-every 1200 $(DETECTOR_ARGS)
	$(BIN)/python -m training.calibrate

calibrate: setup ## fit the confidence calibration on the dev split (models/confidence.json)
	$(BIN)/python -m training.calibrate

eval: setup ## stage-1 accuracy on the val split of ../shared
	$(BIN)/plate-ocr eval --manifest $(MANIFEST) --split val --errors /tmp/plate-ocr-misreads.csv

bench: setup ## speed: stage 1 vs stock EasyOCR on the same photos
	$(BIN)/python scripts/bench.py --manifest $(MANIFEST)

clean: ## remove caches (keeps .venv)
	rm -rf .pytest_cache .mypy_cache .ruff_cache .aws-sam build dist
