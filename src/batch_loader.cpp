#include "batch_loader.hpp"

#include <torch/torch.h>

#include "pupembed/error.hpp"

namespace pupembed {

BatchLoader::BatchLoader(const std::vector<std::string>& paths, const Preprocessing& preprocessing,
                         const ImageLoadOptions& load, int batch_size, bool skip_bad)
    : paths_(paths), preprocessing_(preprocessing), load_(load), batch_size_(size_t(batch_size)), skip_bad_(skip_bad) {
    if (batch_size < 1) throw Error("--batch", "must be at least 1, got " + std::to_string(batch_size));
    start(0);
}

BatchLoader::~BatchLoader() {
    if (pending_.valid()) pending_.wait();
}

LoadedBatch BatchLoader::load(size_t begin) const {
    const size_t end = std::min(paths_.size(), begin + batch_size_);
    const int64_t size = preprocessing_.input_size;
    const size_t plane = size_t(3 * size * size);
    std::vector<float> chw((end - begin) * plane);
    LoadedBatch batch;
    for (size_t i = begin; i < end; ++i) {
        try {
            const Image image = load_image(paths_[i], load_);
            preprocess(image, preprocessing_, chw.data() + batch.indices.size() * plane);
            batch.indices.push_back(i);
            batch.sizes.push_back({image.width, image.height});
        } catch (const Error& e) {
            if (!skip_bad_) throw;
            batch.failures.push_back(e.what());
        }
    }
    batch.input = torch::from_blob(chw.data(), {int64_t(batch.indices.size()), 3, size, size}, torch::kFloat32)
                      .contiguous(at::MemoryFormat::ChannelsLast);
    return batch;
}

void BatchLoader::start(size_t begin) {
    next_begin_ = begin;
    if (begin < paths_.size()) pending_ = std::async(std::launch::async, [this, begin] { return load(begin); });
}

bool BatchLoader::next(LoadedBatch& batch, size_t& done) {
    if (!pending_.valid()) return false;
    batch = pending_.get();  // rethrows the worker's Error
    done = std::min(paths_.size(), next_begin_ + batch_size_);
    start(done);
    return true;
}

}  // namespace pupembed
