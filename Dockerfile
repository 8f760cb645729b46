# nodetrail image: built on Debian 12, run from scratch with only the binary, the dynamic loader and the
# shared libraries it links (ldd names them: libc, libssl/libcrypto, libbpf, libelf, zlib, cJSON,
# liburing). The agent needs no shell, no package manager and no CA bundle of the image (the API
# server's CA comes from the service account; IMDS is link-local HTTP).
#
#   podman build -t nodetrail:0.1.0 .            (or docker build)
#   tests/image.sh                               (here: a locally bootstrapped base, size check)
ARG BASE=debian:bookworm-slim

FROM ${BASE} AS build
WORKDIR /src
# the build packages, and Debian's curl source: libcurl is built from it with only HTTP(S) over OpenSSL
# and linked statically (see tests/deps.sh)
COPY tests/deps.sh tests/deps.sh
RUN tests/deps.sh build && rm -rf /var/lib/apt/lists/*
COPY Makefile ./
COPY bpf bpf
COPY include include
COPY agent agent
ARG VERSION=0.1.0
RUN make VERSION=${VERSION} build/nodetrail \
    && build/nodetrail --version \
    && mkdir -p /out/lib /out/var/log/containers /out/var/lib/nodetrail /out/tmp \
    && cp build/nodetrail /out/nodetrail \
    && for lib in $(ldd build/nodetrail | grep -o '/[^ ]*'); do cp -L --parents "$lib" /out/; done

FROM scratch
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="nodetrail" \
      org.opencontainers.image.description="EKS node agent: container lifecycle from eBPF joined with the Kubernetes API, as CRI log lines for Container Insights" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /out/ /
USER 0
ENTRYPOINT ["/nodetrail"]
