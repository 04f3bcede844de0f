// How many threads the network (LibTorch's intra-op pool) and the searches of many queries at
// once (OpenMP) use. A process-wide setting, as in faiss and onnxruntime.
#pragma once

namespace pupembed {

/// The most threads --threads accepts.
constexpr int kMaxThreads = 256;

/// Sets the number of threads; 0 means one per core. Returns the number set. Throws Error for a
/// negative count or one above kMaxThreads.
int set_thread_count(int threads);

/// The number of threads set (one per core until set_thread_count is called).
int thread_count();

}  // namespace pupembed
