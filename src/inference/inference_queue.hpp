// Embeds photos for many request threads at once: requests that arrive while the network is
// busy are gathered and run as one batch, so the network runs on all cores and no two forward
// passes compete for them.
#pragma once

#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "pupembed/inference/embed.hpp"
#include "pupembed/io/image.hpp"

namespace pupembed {

struct Model;

class InferenceQueue {
public:
    /// `model` must outlive the queue. At most `max_batch` images go through the network at once.
    InferenceQueue(Model& model, int max_batch);
    ~InferenceQueue();
    InferenceQueue(const InferenceQueue&) = delete;
    InferenceQueue& operator=(const InferenceQueue&) = delete;

    /// The embedding and class probabilities of `image`; blocks until its batch is done.
    /// Thread-safe. Rethrows what the network threw.
    DecodedEmbedding embed(const Image& image);

    /// Batches run so far and images in them (for /api/stats).
    int64_t batches() const;
    int64_t images() const;

private:
    struct Job {
        const Image* image;
        std::promise<DecodedEmbedding> done;
    };
    void run();

    Model& model_;
    const size_t max_batch_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Job*> jobs_;
    bool stopping_ = false;
    int64_t batches_ = 0, images_ = 0;
    std::thread thread_;
};

}  // namespace pupembed
