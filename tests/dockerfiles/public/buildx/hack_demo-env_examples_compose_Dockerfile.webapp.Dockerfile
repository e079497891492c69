FROM alpine:3.8
COPY Dockerfile /
RUN env