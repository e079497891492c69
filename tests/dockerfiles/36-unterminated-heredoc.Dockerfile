# expect: LUCID-DF-000@6 LUCID-DF-001@5
ARG BUILD_IMAGE=lucid-python-build:20261125
ARG BASE_IMAGE=lucid-python-base:20261125

FROM ${BUILD_IMAGE} AS build-stage
RUN <<EOF
set -eu
python3 -c 'print(1)'

FROM ${BASE_IMAGE} AS runtime-stage
COPY --from=build-stage /home/nonroot/site-packages/ /usr/local/lib/python3.11/site-packages/
USER 65532:65532
CMD ["python3", "-m", "app"]
