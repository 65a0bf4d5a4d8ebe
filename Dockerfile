# The churnops image. By default it serves the prediction API (one worker: scale with replicas);
# given a command it runs that CLI command instead, for jobs:
#   docker run --rm -v churnops-home:/data churnops-full pipeline
#
#   docker build -t churnops .                                  serving image (churnops[serve])
#   docker build --build-arg EXTRAS=all -t churnops-full .      + training and plots (jobs)
#
# Python packages come from uv.lock with their hashes. An empty wheelhouse/ (as in a clone)
# means they are downloaded from PyPI; after `make wheelhouse EXTRAS=…` the build reads
# only wheelhouse/ and needs no network.
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
ARG EXTRAS=serve
ARG UV_VERSION=0.13.9
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
    UV_NO_CACHE=1 UV_PYTHON_DOWNLOADS=never UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy
WORKDIR /src
COPY wheelhouse/ /wheels/
COPY pyproject.toml uv.lock README.md LICENSE ./
COPY src/churnops/ src/churnops/
RUN set -eu; \
    if ls /wheels/*.whl >/dev/null 2>&1; then set -- --no-index --find-links /wheels; fi; \
    python3 -m venv /opt/uv; \
    /opt/uv/bin/pip install --quiet "$@" "uv==${UV_VERSION}"; \
    /opt/uv/bin/uv export --quiet --frozen --no-emit-project --extra "${EXTRAS}" \
        --output-file /tmp/requirements.txt; \
    python3 -m venv --without-pip /opt/churnops; \
    /opt/uv/bin/uv pip install --quiet --python /opt/churnops/bin/python --require-hashes "$@" \
        --requirement /tmp/requirements.txt; \
    /opt/uv/bin/uv pip install --quiet --python /opt/churnops/bin/python --no-deps "$@" .; \
    # the libraries' own test suites are not needed to run them (pandas' alone: 46 MB)
    find /opt/churnops -path '*/site-packages/*' -type d -name tests -prune -exec rm -rf {} +

FROM ${BASE_IMAGE}
LABEL org.opencontainers.image.title="churnops" \
      org.opencontainers.image.description="Churn-prediction API and MLOps command line" \
      org.opencontainers.image.licenses="MIT"
# Nothing is written outside CHURNOPS_HOME (a volume) and /tmp, so the root filesystem can be
# read-only; bytecode was compiled at build time.
ENV PATH=/opt/churnops/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    HOME=/tmp MPLCONFIGDIR=/tmp/matplotlib \
    CHURNOPS_HOME=/data CHURNOPS_HOST=0.0.0.0 CHURNOPS_PORT=8000 CHURNOPS_WORKERS=1 \
    CHURNOPS_LOG_LEVEL=info
RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin churnops \
    && mkdir /data && chown churnops:churnops /data
COPY --from=build /opt/churnops /opt/churnops
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000
# Ready = a verified model is loaded; python's own urllib, no curl in the image.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/ready', timeout=4)"]
# `churnops serve` runs uvicorn in this process (PID 1): SIGTERM stops it gracefully, finishing
# requests in flight and flushing the inference log before it exits.
ENTRYPOINT ["churnops"]
CMD ["serve"]
