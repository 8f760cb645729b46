# nodetrail image: built on Debian 12, run from scratch with only the binary, the dynamic loader and the
# shared libraries it links (tests/elf-libs.sh names them: libc, libssl/libcrypto, libbpf, libelf,
# zlib, cJSON, liburing). The agent needs no shell, no package manager and no CA bundle of the image
# (the API server's CA comes from the service account; IMDS is link-local HTTP).
#
# Multi-architecture: the build stage always runs on the builder's own platform and cross-compiles for
# the target (Debian's cross toolchain and the target's libraries), so an arm64 image builds on amd64
# in minutes, with no emulation.
#   podman build --platform linux/amd64,linux/arm64 --build-arg BUILDPLATFORM=linux/amd64 --manifest <registry>/nodetrail:<tag> .
#   docker buildx build --platform linux/amd64,linux/arm64 -t <registry>/nodetrail:<tag> --push .
#   tests/image.sh        (here: a locally bootstrapped base, both architectures, checks and sizes)
ARG BASE=debian:bookworm-slim

FROM --platform=$BUILDPLATFORM ${BASE} AS build
ARG TARGETARCH
WORKDIR /src
# the build packages (with the cross toolchain when the target is another architecture), and Debian's
# curl source: libcurl is built from it with only HTTP(S) over OpenSSL and linked statically (see
# tests/deps.sh)
COPY tests/deps.sh tests/elf-libs.sh tests/
RUN tests/deps.sh build ${TARGETARCH} && rm -rf /var/lib/apt/lists/*
COPY Makefile ./
COPY bpf bpf
COPY include include
COPY agent agent
ARG VERSION=0.1.0
RUN arch=$(echo "${TARGETARCH:-$(dpkg --print-architecture)}" | sed 's/amd64/x86/') \
    && make ARCH=$arch BUILD=build VERSION=${VERSION} build/nodetrail \
    && { [ "$arch" != "$(uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')" ] || build/nodetrail --version; } \
    && mkdir -p /out/lib /out/var/log/containers /out/var/lib/nodetrail /out/tmp \
    && cp build/nodetrail /out/nodetrail \
    && for lib in $(tests/elf-libs.sh build/nodetrail); do cp -L --parents "$lib" /out/; done

FROM scratch
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="nodetrail" \
      org.opencontainers.image.description="EKS node agent: container lifecycle from eBPF joined with the Kubernetes API, as CRI log lines for Container Insights" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /out/ /
USER 0
ENTRYPOINT ["/nodetrail"]
