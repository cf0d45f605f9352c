# The operator's image, ghcr.io/asr-operator/asr-operator, as deploy/base and the Helm chart
# pull it. Build with any OCI builder that reads BuildKit's bind mounts (Docker 23+, Podman,
# Buildah):
#
#   docker build -t ghcr.io/asr-operator/asr-operator:0.1.0 .
#
# No container engine runs in CI: .ci/image-check replays this file's COPY and RUN steps in
# a scratch directory and starts the entrypoint (docs/install.md, "Building the image").
# Keep every install step in a RUN line here, so that check runs what the image runs.

# Pin by digest for a release: --build-arg PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:...
ARG PYTHON_IMAGE=docker.io/library/python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator ./operator
# The operator's wheel and one of each dependency it pins; not the `sim` extra.
RUN python -m pip wheel --quiet --no-cache-dir --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
# The root filesystem is read-only in the pod: nothing may try to write bytecode at run
# time, so every module is compiled here, the standard library included (the base image
# ships it without .pyc files).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/asr-operator/bin:$PATH
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m venv /opt/asr-operator \
    && /opt/asr-operator/bin/pip install --quiet --no-cache-dir --no-index --find-links /wheels asr-operator \
    && /opt/asr-operator/bin/pip uninstall --yes --quiet pip \
    && python -m compileall -q -j 0 /opt/asr-operator
# image-check: skip (the base image's standard library; CI's interpreter brings its own)
RUN python -m compileall -q -j 0 -x '/(tests?|idle_test)/' /usr/local/lib/python3.11
# The pod spec's UID (distroless' "nonroot"); the image needs no user database.
USER 65532:65532
ENTRYPOINT ["asr-operator", "run"]
CMD ["--all-namespaces"]
