# expect: LUCID-DF-008@10 LUCID-DF-027@10
ARG BUILD_IMAGE=lucid-python-build:20261125
ARG BASE_IMAGE=lucid-python-base:20261125

FROM ${BUILD_IMAGE} AS build-stage
COPY requirements.txt /tmp/
RUN python3 -m pip install --require-hashes --no-deps --target /home/nonroot/site-packages -r /tmp/requirements.txt

FROM debian:12.8-slim AS runtime-stage
RUN apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*
USER 65532:65532
CMD ["python3", "-m", "app"]
