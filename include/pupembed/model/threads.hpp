// How many threads the network (LibTorch's intra-op pool) and the searches of many queries at
// once (OpenMP) use. A process-wide setting, as in faiss and onnxruntime. (OpenMP keeps its count
// per thread: a thread that did not set it, such as the server's inference thread or a Python or
// Dask worker thread, would use one per core; so the work that runs the network or a search
// applies the process's setting to its thread first: use_thread_count.)
#pragma once

#include "pupembed/core/runtime.hpp"  // thread_count

namespace pupembed {

/// The most threads --threads accepts.
constexpr int kMaxThreads = 256;

/// Sets the number of threads for the process (and the calling thread); 0 means one per core.
/// Returns the number set. Throws Error for a negative count or one above kMaxThreads.
int set_thread_count(int threads);

/// Makes the network and OpenMP work started from the calling thread use thread_count() threads.
void use_thread_count();

}  // namespace pupembed
