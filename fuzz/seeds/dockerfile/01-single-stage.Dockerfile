# expect: LUCID-DF-001@2
FROM lucid-python-base:20261125 AS runtime-stage
USER 65532:65532
CMD ["python3"]
