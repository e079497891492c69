# expect: none
# The defect is in build-stage, which the runtime stage only copies from: its layers never ship, so size rules do not judge it (issue 16; 42/43 have it in a shipped stage).
FROM debian:12.8-slim AS build-stage
RUN apt-get update \
 && apt-get install -y gcc \
 && rm -rf /var/lib/apt/lists/*

FROM lucid-python-base:20261125 AS runtime-stage
COPY --from=build-stage /home/nonroot/site-packages/ /usr/local/lib/python3.11/site-packages/
USER 65532:65532
CMD ["python3", "-m", "app"]
