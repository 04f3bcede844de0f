// Embeds photos for many request threads at once: requests that arrive while the network is
// busy are gathered and run as one batch, so the network runs on all cores and no two forward
// passes compete for them. The server's Embedder: every forward pass it makes goes through here.
#pragma once

#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "pupembed/inference/embedder.hpp"
#include "pupembed/io/image.hpp"

namespace pupembed {

struct Model;

class InferenceQueue : public Embedder {
public:
    /// `model` (ready for inference) must outlive the queue. At most `max_batch` images go through
    /// the network at once; files are decoded with `load`.
    InferenceQueue(Model& model, int max_batch, ImageLoadOptions load);
    ~InferenceQueue() override;
    InferenceQueue(const InferenceQueue&) = delete;
    InferenceQueue& operator=(const InferenceQueue&) = delete;

    const Model& model() const override { return model_; }
    const ImageLoadOptions& load_options() const override { return load_; }

    /// The embedding and class probabilities of `image`; blocks until its batch is done.
    /// Thread-safe. Rethrows what the network threw.
    EmbeddedPhoto embed_image(const Image& image) override;

    /// Decodes each file on the calling thread and embeds it through the queue (a batch of one
    /// photo each, run together with other requests').
    void embed_files(const std::vector<std::string>& paths, bool skip_bad,
                     const std::function<void(const EmbeddedBatch&)>& on_batch, const FileFilter& admit = {}) override;

    /// Batches run so far and images in them (for /api/stats).
    int64_t batches() const;
    int64_t images() const;

private:
    struct Job {
        const Image* image;
        std::promise<EmbeddedPhoto> done;
    };
    void run();

    Model& model_;
    const size_t max_batch_;
    const ImageLoadOptions load_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Job*> jobs_;
    bool stopping_ = false;
    int64_t batches_ = 0, images_ = 0;
    std::thread thread_;
};

}  // namespace pupembed
