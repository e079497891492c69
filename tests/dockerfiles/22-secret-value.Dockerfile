# expect: LUCID-DF-013@6
ARG BUILD_IMAGE=lucid-python-build:20261125
ARG BASE_IMAGE=lucid-python-base:20261125

FROM ${BUILD_IMAGE} AS build-stage
ENV UPLOAD=1 AWS_ID=AKIAABCDEFGHIJKLMNOP
RUN python3 -c 'print(1)'

FROM ${BASE_IMAGE} AS runtime-stage
COPY --from=build-stage /home/nonroot/site-packages/ /usr/local/lib/python3.11/site-packages/
USER 65532:65532
CMD ["python3", "-m", "app"]
