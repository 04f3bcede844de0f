#include "pupembed/model/threads.hpp"

#include <ATen/Parallel.h>

#include <algorithm>
#include <string>
#include <thread>

#include "pupembed/core/error.hpp"

namespace pupembed {

int set_thread_count(int threads) {
    if (threads < 0 || threads > kMaxThreads)
        throw Error("--threads", "must be 0 (all cores) or from 1 to " + std::to_string(kMaxThreads) + ", got " +
                                     std::to_string(threads), ErrorKind::BadInput);
    if (threads == 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    // With LibTorch's OpenMP backend this sets OpenMP's count too, which the searches use.
    at::set_num_threads(threads);
    return threads;
}

int thread_count() { return at::get_num_threads(); }

}  // namespace pupembed
