# expect: LUCID-DF-005@11
ARG BUILD_IMAGE=lucid-python-build:20261125
ARG BASE_IMAGE=lucid-python-base:20261125

FROM ${BUILD_IMAGE} AS build-stage
COPY requirements.txt /tmp/
RUN python3 -m pip install --require-hashes --no-deps --target /home/nonroot/site-packages -r /tmp/requirements.txt

FROM ${BASE_IMAGE} AS runtime-stage
COPY --from=build-stage /home/nonroot/site-packages/ /usr/local/lib/python3.11/site-packages/
USER nonroot
CMD ["python3"]
