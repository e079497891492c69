# syntax=docker/dockerfile:1
ARG V=${TARGETPLATFORM#linux/}
ARG W=${V:+"x"}
FROM alpine:3.20 AS base-linux
WORKDIR tools
FROM base-$TARGETOS AS final
ARG TARGETARCH
COPY --from=build-${TARGETARCH} /x /x
RUN --mount=type=cache,target=/var/lib/apt/lists --mount=type=tmpfs,dst=/tmp apt-get install -y ${OPTS:-${MORE}} --no-install-recommends gcc
WORKDIR ${W%*}
USER ${NB_UID}
CMD ["x"]
