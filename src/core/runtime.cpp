#include "pupembed/core/runtime.hpp"

#include <atomic>
#include <cstdlib>
#include <limits>
#include <malloc.h>
#include <omp.h>
#include <unistd.h>

#include "pupembed/core/error.hpp"

namespace pupembed {
namespace {

std::atomic<int> recorded_threads{0};  ///< 0 until set: one per core

}  // namespace

int thread_count() {
    const int threads = recorded_threads;
    // Until set: OpenMP's own default (OMP_NUM_THREADS, else one per core).
    return threads > 0 ? threads : omp_get_max_threads();
}

void record_thread_count(int threads) { recorded_threads = threads; }

void configure_process(char** argv) {
    if (std::getenv("OMP_WAIT_POLICY") == nullptr) {
        ::setenv("OMP_WAIT_POLICY", "passive", 1);
        ::setenv("GOMP_SPINCOUNT", "10000", 0);
        ::execv("/proc/self/exe", argv);
        // execv failed (no /proc): carry on with the default policy.
    }
    configure_memory();
}

void configure_memory() {
    // Caution that comes with it: freed memory is never returned, so a loop that keeps a small
    // result per batch must write it into storage allocated before the loop. A small tensor kept
    // from each batch lands between the freed activations and fragments the heap, which then
    // grows by about one input batch per batch (seen: 24 GB, killed, extracting 96,000 crops).
    ::mallopt(M_MMAP_MAX, 0);
    ::mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());
    // Threads made before this call keep the arena they have (a Python process's): see
    // runtime.hpp. Threads that first allocate after it share the main one.
    ::mallopt(M_ARENA_MAX, 1);
}

}  // namespace pupembed
