// The main() of every benchmark program: the process set-up pupembed's own command uses
// (OpenMP wait policy, malloc keeping activations), then Google Benchmark.
#include <benchmark/benchmark.h>

#include "pupembed/core/runtime.hpp"

int main(int argc, char** argv) {
    pupembed::configure_process(argv);
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
