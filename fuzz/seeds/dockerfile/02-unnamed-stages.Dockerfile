# expect: LUCID-DF-002@5 LUCID-DF-002@8
ARG BUILD_IMAGE=lucid-python-build:20261125
ARG BASE_IMAGE=lucid-python-base:20261125

FROM ${BUILD_IMAGE}
RUN python3 -m pip install --require-hashes -r /tmp/r.txt

FROM ${BASE_IMAGE}
COPY --from=0 /home/nonroot/site-packages/ /usr/local/lib/python3.11/site-packages/
USER 65532:65532
CMD ["python3", "-m", "app"]
