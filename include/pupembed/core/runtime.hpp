// Process-wide settings for fast CPU inference and training.
#pragma once

namespace pupembed {

/// Sets the process up for fast CPU work; call first thing in main (it may restart the process).
///  - OMP_WAIT_POLICY=passive with GOMP_SPINCOUNT=10000: OpenMP reads them when it loads, before
///    main, and with its default policy (3 ms of spinning) OpenBLAS, LibTorch and the decoding
///    threads steal each other's cores, while without any spinning each parallel step waits for
///    its threads to wake; so the process is restarted with them set unless OMP_WAIT_POLICY is set.
///  - malloc keeps freed memory instead of returning it to the kernel: a network's activations
///    (tens of MB a batch) would otherwise be mmap-ed and page-faulted anew on every forward
///    pass, which made SqueezeNet inference ten times slower here (100 against 1,000 images/s).
///    Every thread allocates from the one main arena: a thread of its own (a Dask task thread, the
///    server's inference thread) would get an arena of 64 MB heaps, and glibc mmaps anything larger
///    there, M_MMAP_MAX or not, so a batch's activations (100-300 MB at 64 photos) were mapped and
///    faulted in on every batch: 6.3 instead of 5.2 ms a photo, 1.4 million page faults a shard
///    set instead of 0.2.
void configure_process(char** argv);

/// The malloc settings of configure_process alone, for a process that embeds the library (the
/// Python module): freed memory is kept for the next batch instead of returned to the kernel.
void configure_memory();

/// The number of threads the process's parallel work uses: the network and the searches of many
/// queries at once. Until set_thread_count (model/threads.hpp) sets it, OpenMP's default
/// (OMP_NUM_THREADS, else one per core).
int thread_count();

/// Records the count thread_count() gives (set_thread_count does this and applies it to LibTorch).
void record_thread_count(int threads);

}  // namespace pupembed
