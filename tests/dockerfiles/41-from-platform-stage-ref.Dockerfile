# expect: LUCID-DF-006@13
ARG BUILD_IMAGE=lucid-python-build:20261125
ARG BASE_IMAGE=lucid-python-base:20261125

FROM --platform=$BUILDPLATFORM ${BUILD_IMAGE} AS build-stage
RUN python3 -c 'print(1)'

FROM build-stage AS test
RUN python3 -c 'print(2)'

FROM ${BASE_IMAGE} AS runtime-stage
COPY --from=test --chown=0:0 /a /a
COPY --from=tests /b /b
USER 65532:65532
CMD ["python3", "-m", "app"]
