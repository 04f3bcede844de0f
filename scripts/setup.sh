#!/usr/bin/env bash
# Installs every Debian 12 package pupembed needs, then builds what a user runs: the command
# (build/pupembed), its server and the Python module (build/python), with the default model in
# place (models/). The tests, the benchmarks and the sanitizer tree are built by scripts/test.sh.
#   scripts/setup.sh            install packages (needs root or sudo), then build into ./build
#   scripts/setup.sh --no-apt   only build (packages already present)
# Environment: BUILD_DIR (default: build), JOBS (default: number of cores).
set -euo pipefail

cd "$(dirname "$0")/.."
started=$SECONDS
source scripts/build-common.sh
build_dir="${BUILD_DIR:-build}"
jobs="${JOBS:-$(nproc)}"

packages=(
  build-essential cmake pkg-config
  ninja-build ccache                # faster builds: Ninja, and ccache's cache of earlier compiles
  libtorch-dev                      # tensors, autograd, training, serialisation
  libopencv-dev                     # image decoding (PNG, WebP, BMP) and resizing
  libjpeg62-turbo-dev               # strict JPEG decoding: damaged files are errors, not grey fill
  libpng-dev                        # strict, silent PNG decoding (OpenCV lets libpng print on stderr)
  libopenblas0-openmp libopenblas-openmp-dev  # fast BLAS that shares OpenMP threads with LibTorch
  libhnswlib-dev                    # approximate vector search (HNSW) for large galleries
  libfaiss-dev                      # compressed IVF-PQ index for galleries of tens of millions
  libcpp-httplib-dev                # `pupembed serve`: HTTP server (and the tests' client)
  chromium                          # the browser test of the web page (headless, driven by Playwright)
  libsqlite3-dev                    # gallery metadata
  libssl-dev                        # SHA-256 of photos and models (OpenSSL's libcrypto)
  libcli11-dev                      # command-line parsing
  nlohmann-json3-dev                # JSON output and model-file headers
  zlib1g-dev                        # CRC-32 for model-file integrity
  libgtest-dev libgmock-dev         # unit tests
  libbenchmark-dev                  # benchmarks in bench/
  clang-14 libclang-rt-14-dev       # the sanitizer builds: AddressSanitizer and UBSan runtimes
  libfuzzer-14-dev                  # coverage-guided fuzzing of every reader of outside bytes
  libomp-14-dev                     # OpenMP for code compiled by clang
  python3-dev pybind11-dev python3-numpy  # the Python module (build/python/pupembed)
  python3-pytest python3-pil        # its tests (PIL reads photos into arrays as users do)
  python3-distributed               # pupembed.distributed: jobs embedded on a Dask cluster (and its test)
  jupyter-nbconvert python3-ipykernel python3-matplotlib  # the example notebook, run by the tests
)

if [[ "${1:-}" != "--no-apt" ]]; then
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q
  $sudo apt-get install -y -q --no-install-recommends "${packages[@]}"
  # apt may satisfy libblas.so.3 with the slow reference BLAS or the pthread OpenBLAS, which
  # fights OpenMP for the cores; point it at the OpenMP build of OpenBLAS.
  for alt in libblas.so.3-x86_64-linux-gnu liblapack.so.3-x86_64-linux-gnu; do
    target=$(update-alternatives --list "$alt" 2>/dev/null | grep openblas-openmp | head -n1 || true)
    if [[ -n "$target" ]]; then $sudo update-alternatives --set "$alt" "$target"; fi
  done
fi

# The browser test's driver, playwright-core, pinned in tests/browser/package-lock.json (it drives
# Debian's Chromium; it downloads no browser). Node.js and npm come from apt where absent.
if [[ "${1:-}" != "--no-apt" ]] && ! command -v npm > /dev/null; then
  $sudo apt-get install -y -q --no-install-recommends nodejs npm
fi
if command -v npm > /dev/null; then
  npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error
fi

configure_tree "$build_dir" -DCMAKE_BUILD_TYPE=Release
cmake --build "$build_dir" -j "$jobs" --target pupembed_launcher pupembed_python
"$build_dir/pupembed" --version > /dev/null
elapsed=$((SECONDS - started))
echo "setup.sh: ready in $((elapsed / 60)) min $((elapsed % 60)) s: $build_dir/pupembed (try: $build_dir/pupembed breed PHOTO)," \
     "the Python module (PYTHONPATH=$PWD/$build_dir/python python3 -c 'import pupembed'). scripts/test.sh builds and runs the tests." >&2
