# What scripts/setup.sh, scripts/test.sh and scripts/fuzz.sh share (sourced, not run).

# configure_tree DIR [CMAKE ARGS...]: configures DIR, with Ninja where installed when DIR is new (it starts the
# next compile sooner and reads the build faster than Make); a configured DIR keeps its generator.
configure_tree() {
  local dir=$1
  shift
  local generator=()
  if [[ ! -f "$dir/CMakeCache.txt" ]] && command -v ninja > /dev/null; then generator=(-G Ninja); fi
  mkdir -p "$dir"
  cmake -S . -B "$dir" "${generator[@]}" "$@" > "$dir/configure.log" 2>&1 ||
    { cat "$dir/configure.log" >&2; echo "cannot configure $dir (the log above)" >&2; return 1; }
}

# The sanitizer tree: clang, AddressSanitizer and UBSan over the library, the command and the tests
# of code that reads outside bytes; the fuzz targets from the same objects; the ThreadSanitizer test.
sanitize_dir="${SANITIZE_BUILD_DIR:-build-sanitize}"
configure_sanitize_tree() {
  CC=clang-14 CXX=clang++-14 configure_tree "$sanitize_dir" -DCMAKE_BUILD_TYPE=Release -DPUPEMBED_SANITIZE=ON \
    -DPUPEMBED_BUILD_FUZZ=ON -DPUPEMBED_BUILD_BENCHMARKS=OFF -DPUPEMBED_BUILD_PYTHON=OFF "$@"
}
