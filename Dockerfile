# pupembed's container image: `pupembed serve` on port 8080 over a gallery on a volume.
#   scripts/make-base-image.sh        (once, where no registry is reachable: debian:bookworm by debootstrap)
#   docker build -t pupembed .
#   docker run -p 8080:8080 -v pupembed-gallery:/data -v "$PWD/photos:/photos:ro" pupembed
# At start, photos mounted at /photos are added to the gallery /data/gallery.db (made when absent;
# unchanged photos are skipped), then it is served. Other commands: docker run ... pupembed index stats --db /data/gallery.db

# Build: the -dev packages, the project, and its tests of the library (no training, no browser).
FROM debian:bookworm AS build
RUN apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      build-essential cmake pkg-config libtorch-dev libopencv-dev libjpeg62-turbo-dev libpng-dev \
      libopenblas0-openmp libopenblas-openmp-dev libhnswlib-dev libcpp-httplib-dev libsqlite3-dev libssl-dev \
      libcli11-dev nlohmann-json3-dev zlib1g-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY cmake cmake
COPY include include
COPY src src
COPY tools tools
COPY web web
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DPUPEMBED_BUILD_TESTS=OFF -DPUPEMBED_BUILD_BENCHMARKS=OFF \
      -DPUPEMBED_BUILD_PYTHON=OFF \
    && cmake --build build -j "$(nproc)" --target pupembed_cli pupembed_launcher \
    && strip build/pupembed-bin build/pupembed

# Runtime: the libraries the binary links (LibTorch and OpenCV's dominate), the binary, the model.
FROM debian:bookworm
RUN apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      libtorch1.13 libopencv-core406 libopencv-imgcodecs406 libopencv-imgproc406 libjpeg62-turbo libpng16-16 \
      libopenblas0-openmp libgomp1 libsqlite3-0 libssl3 libcpp-httplib0.11 curl \
    && rm -rf /var/lib/apt/lists/* \
    && update-alternatives --set libblas.so.3-x86_64-linux-gnu /usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3 \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin pupembed \
    && mkdir -p /data && chown pupembed /data
COPY --from=build /src/build/pupembed /src/build/pupembed-bin /usr/local/bin/
COPY models/pupembed-default.pt /usr/local/share/pupembed/pupembed-default.pt
COPY scripts/container-start.sh /usr/local/bin/pupembed-container-start
USER pupembed
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["pupembed-container-start"]
