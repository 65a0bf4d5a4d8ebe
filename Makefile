# The two commands: `make demo` (pipeline on the embedded default, then the API) and `make test`.
# Python packages come from uv.lock (exact versions and hashes); `make lock` rewrites it after a
# change to pyproject.toml. Debian packages the tests need are installed when running as root.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
UV_VERSION := 0.13.9
UV := $(BIN)/uv
LOWEST := build/venv-lowest
# podman + runc + debootstrap build and run the image (curl sends the README's request);
# prometheus brings promtool and the server the compose test scrapes; podman-compose runs
# compose.yaml; Java runs the local Spark of the Spark scoring tests; postgresql is the real
# server the PostgreSQL-store tests start.
SYSTEM_PACKAGES := podman runc debootstrap uidmap curl prometheus podman-compose \
	openjdk-17-jre-headless postgresql

.PHONY: demo test test-lowest lint typecheck pytest bench clean lock lock-upgrade system-packages \
	base-image wheelhouse image image-offline print-version dist

$(UV):
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# --inexact keeps uv itself (and pip) in the environment it manages.
$(STAMP): pyproject.toml uv.lock | $(UV)
	$(UV) sync --quiet --locked --inexact --all-extras
	touch $(STAMP)

# The wheel and the source archive, into dist/.
dist: | $(UV)
	$(UV) build --out-dir dist

lock: | $(UV)
	$(UV) lock

lock-upgrade: | $(UV)
	$(UV) lock --upgrade

# `make demo PORT=8080` serves on another port (the same as CHURNOPS_PORT=8080)
demo: $(STAMP)
	$(BIN)/churnops pipeline
	$(BIN)/churnops registry list
	$(if $(PORT),CHURNOPS_PORT=$(PORT) )$(BIN)/churnops serve

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

# PYTEST_ARGS selects, e.g. PYTEST_ARGS='-m "not container"' where root podman cannot run.
pytest: $(STAMP) system-packages
	$(BIN)/pytest -q $(PYTEST_ARGS)

test: lint typecheck pytest

# The declared lower bounds, proven: every direct dependency at its lowest allowed version
# (transitive ones at their newest), Python 3.11, the whole suite but the container tests.
test-lowest: | $(UV)
	rm -rf $(LOWEST)
	$(UV) venv --quiet --python 3.11 $(LOWEST)
	VIRTUAL_ENV=$(LOWEST) $(UV) pip install --quiet --resolution lowest-direct -e '.[all,dev]'
	$(LOWEST)/bin/python -m pytest -q -p no:cacheprovider -m "not container"

system-packages:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian packages the tests need: $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else \
		echo "note: the container and deployment tests need these Debian packages:" $$missing; \
		echo "      install them with: sudo apt-get install -y" $$missing "(they are skipped until then)"; \
	fi

# ---- container images ---------------------------------------------------------------------
# Here (no Docker engine, no image registry) podman needs runc and cgroupfs; elsewhere
# `make image CONTAINER=docker BASE_IMAGE=` builds on the Dockerfile's public base image.
CONTAINER ?= podman --runtime runc --cgroup-manager cgroupfs
# podman's default OCI format would drop the HEALTHCHECK
BUILD_FLAGS ?= --format docker
LOCAL_BASE := localhost/churnops-base:bookworm-py3.11
BASE_IMAGE ?= $(LOCAL_BASE)
IMAGE := churnops
VERSION = $(shell sed -n 's/^__version__ = "\(.*\)"/\1/p' src/churnops/__init__.py)
EXTRAS ?= all

# A minimal Debian bookworm with its Python 3.11, made from Debian's packages (needs root);
# package caches, apt lists, docs and translations are dropped, as in python:3.11-slim.
base-image:
	$(CONTAINER) image exists $(LOCAL_BASE) || { \
		rootfs=$$(mktemp -d) && \
		debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
			bookworm $$rootfs http://deb.debian.org/debian >/dev/null && \
		rm -rf $$rootfs/var/cache/apt/archives/*.deb $$rootfs/var/lib/apt/lists/* \
			$$rootfs/usr/share/doc/* $$rootfs/usr/share/man/* $$rootfs/usr/share/info/* \
			$$rootfs/usr/share/locale/* && \
		tar -C $$rootfs -c . | $(CONTAINER) import - $(LOCAL_BASE); \
		status=$$?; rm -rf $$rootfs; exit $$status; }

# Wheels for an offline image build: uv.lock's packages for EXTRAS (serve ⊂ all), the build
# backend and uv, for this machine's Python and platform (the local base image's: 3.11).
wheelhouse: | $(UV)
	rm -f wheelhouse/*.whl wheelhouse/*.tar.gz
	mkdir -p build
	$(UV) export --quiet --frozen --no-emit-project --extra $(EXTRAS) \
		--output-file build/requirements-$(EXTRAS).txt
	$(BIN)/python -m pip wheel --quiet --require-hashes -r build/requirements-$(EXTRAS).txt \
		--wheel-dir wheelhouse
	$(BIN)/python -m pip download --quiet --dest wheelhouse 'setuptools>=77' wheel uv==$(UV_VERSION)

# The serving image (churnops[serve]) and the full one (churnops[all]) for jobs.
BUILD = $(CONTAINER) build $(BUILD_FLAGS) --build-arg UV_VERSION=$(UV_VERSION) $(if $(BASE_IMAGE),--build-arg BASE_IMAGE=$(BASE_IMAGE))
image:
	$(BUILD) --build-arg EXTRAS=serve --tag $(IMAGE):$(VERSION) .
	$(BUILD) --build-arg EXTRAS=all --tag $(IMAGE)-full:$(VERSION) .

print-version:
	@echo $(VERSION)

# Everything offline, as the tests do: local base image, wheelhouse, both images.
image-offline: base-image wheelhouse image

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_pipeline.py
	$(BIN)/python benchmarks/bench_api.py
	$(BIN)/python benchmarks/bench_api_schemas.py
	$(BIN)/python benchmarks/bench_drift.py
	$(BIN)/python benchmarks/bench_experiments.py

clean:
	rm -rf data models registry logs reports
