# expect: LUCID-DF-002@9
ARG BUILD_IMAGE=lucid-python-build:20261125
ARG BASE_IMAGE=lucid-python-base:20261125

FROM ${BUILD_IMAGE} AS build-stage
COPY requirements.txt /tmp/
RUN python3 -m pip install --require-hashes --no-deps --target /home/nonroot/site-packages -r /tmp/requirements.txt

FROM ${BASE_IMAGE} AS final
COPY --from=build-stage /a /a
USER 65532:65532
CMD ["python3", "-m", "app"]
