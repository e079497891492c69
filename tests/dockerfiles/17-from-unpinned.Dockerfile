# expect: LUCID-DF-010@2
FROM debian AS build-stage
RUN echo build > /tmp/x

FROM lucid-python-base:20261125 AS runtime-stage
COPY --from=build-stage /tmp/x /tmp/x
USER 65532:65532
CMD ["python3", "-m", "app"]
