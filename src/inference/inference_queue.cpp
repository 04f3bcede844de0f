#include "inference/inference_queue.hpp"

#include <algorithm>

#include "pupembed/core/error.hpp"
#include "pupembed/io/file_io.hpp"
#include "pupembed/model/model.hpp"

namespace pupembed {

InferenceQueue::InferenceQueue(Model& model, int max_batch, ImageLoadOptions load)
    : model_(model), max_batch_(size_t(std::max(1, max_batch))), load_(load), thread_([this] { run(); }) {}

InferenceQueue::~InferenceQueue() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
}

void InferenceQueue::embed_files(const std::vector<std::string>& paths, bool skip_bad,
                                 const std::function<void(const EmbeddedBatch&)>& on_batch, const FileFilter& admit) {
    for (size_t i = 0; i < paths.size(); ++i) {
        EmbeddedBatch batch;
        Image image;
        try {
            const std::string bytes = read_file(paths[i], load_.max_file_bytes);
            if (admit && !admit(i, bytes)) continue;
            image = decode_image(bytes, paths[i], load_, decode_shorter_side(model_.info.preprocessing));
        } catch (const Error& e) {
            if (!skip_bad) throw;
            batch.failures.push_back(e.what());
            on_batch(batch);
            continue;
        }
        EmbeddedPhoto photo = embed_image(image);
        batch.indices = {i};
        batch.sizes = {{image.photo_width, image.photo_height}};
        batch.embeddings = {1, int64_t(photo.vector.size()), std::move(photo.vector)};
        if (!photo.probabilities.empty())
            batch.probabilities = {1, int64_t(photo.probabilities.size()), std::move(photo.probabilities)};
        on_batch(batch);
    }
}

EmbeddedPhoto InferenceQueue::embed_image(const Image& image) {
    Job job{&image, {}};
    auto result = job.done.get_future();
    {
        std::lock_guard<std::mutex> lock(mutex_);
        jobs_.push_back(&job);
    }
    wake_.notify_one();
    return result.get();
}

int64_t InferenceQueue::batches() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return batches_;
}

int64_t InferenceQueue::images() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return images_;
}

void InferenceQueue::run() {
    for (;;) {
        std::vector<Job*> batch;
        {
            std::unique_lock<std::mutex> lock(mutex_);
            wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
            if (jobs_.empty()) return;  // stopping, nothing left
            while (!jobs_.empty() && batch.size() < max_batch_) {
                batch.push_back(jobs_.front());
                jobs_.pop_front();
            }
            ++batches_;
            images_ += int64_t(batch.size());
        }
        std::vector<const Image*> images;
        for (const Job* job : batch) images.push_back(job->image);
        try {
            auto results = embed_decoded(model_, images, true);
            for (size_t i = 0; i < batch.size(); ++i) batch[i]->done.set_value(std::move(results[i]));
        } catch (...) {
            for (Job* job : batch) job->done.set_exception(std::current_exception());
        }
    }
}

}  // namespace pupembed
