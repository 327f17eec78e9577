# syntax=docker/dockerfile:1
# slicedns image: a static binary on distroless, running as uid/gid 65532.
#   docker build -t ghcr.io/slicedns/slicedns:dev .
# Multi-arch: docker buildx build --platform linux/amd64,linux/arm64 ...

FROM --platform=$BUILDPLATFORM golang:1.26 AS build
# setcap (libcap2-bin) gives the binary the file capability to bind port 53
# as a non-root user; see the last RUN below.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libcap2-bin \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags='-s -w' -o /slicedns ./cmd/slicedns
# Kubernetes does not hand added capabilities to a non-root process (no
# ambient capabilities), so NET_BIND_SERVICE in the pod's securityContext
# alone does not let uid 65532 bind :53. The file capability does, as long
# as the container is granted NET_BIND_SERVICE (deploy/deployment.yaml adds
# it; without it the kernel refuses to exec the binary).
RUN setcap cap_net_bind_service=+ep /slicedns

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /slicedns /slicedns
USER 65532:65532
EXPOSE 53/udp 53/tcp 8080
ENTRYPOINT ["/slicedns"]
