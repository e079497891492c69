# expect: LUCID-DF-017@5
# Consecutive RUNs in a stage the runtime stage is built FROM.
FROM debian:12.8-slim AS build-stage
RUN mkdir -p /app
RUN touch /app/ready

FROM build-stage AS runtime-stage
USER 65532:65532
CMD ["/app/run"]
