# expect: LUCID-DF-015@4 LUCID-DF-016@4
# apt in a stage the runtime stage is built FROM: its layers ship, so the size rules judge it.
FROM debian:12.8-slim AS build-stage
RUN apt-get update && apt-get install -y gcc

FROM build-stage AS runtime-stage
USER 65532:65532
CMD ["python3", "-m", "app"]
