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
    record_thread_count(threads);
    use_thread_count();
    return threads;
}

void use_thread_count() {
    const int threads = thread_count();
    // With LibTorch's OpenMP backend this sets OpenMP's count for this thread too.
    if (at::get_num_threads() != threads) at::set_num_threads(threads);
}

}  // namespace pupembed
