# expect: LUCID-DF-006@6
ARG BUILD_IMAGE=lucid-python-build:20261125
ARG BASE_IMAGE=lucid-python-base:20261125

FROM ${BUILD_IMAGE} AS build-stage
COPY --from=runtime-stage /etc/passwd /tmp/

FROM ${BASE_IMAGE} AS runtime-stage
COPY --from=build-stage /home/nonroot/site-packages/ /usr/local/lib/python3.11/site-packages/
USER 65532:65532
CMD ["python3", "-m", "app"]
