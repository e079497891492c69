# expect: none
# The defect is in build-stage, which the runtime stage only copies from: its layers never ship, so size rules do not judge it (issue 16; 42/43 have it in a shipped stage).
ARG BUILD_IMAGE=lucid-python-build:20261125
ARG BASE_IMAGE=lucid-python-base:20261125

FROM ${BUILD_IMAGE} AS build-stage
COPY requirements.txt /tmp/
RUN mkdir -p /home/nonroot/site-packages
RUN python3 -m pip install --require-hashes --no-deps --target /home/nonroot/site-packages -r /tmp/requirements.txt

FROM ${BASE_IMAGE} AS runtime-stage
COPY --from=build-stage /home/nonroot/site-packages/ /usr/local/lib/python3.11/site-packages/
USER 65532:65532
CMD ["python3", "-m", "app"]
