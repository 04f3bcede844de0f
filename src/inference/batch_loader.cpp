#include "inference/batch_loader.hpp"

#include <torch/torch.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "pupembed/core/error.hpp"
#include "pupembed/io/file_io.hpp"

namespace pupembed {

BatchLoader::BatchLoader(const std::vector<std::string>& paths, const Preprocessing& preprocessing,
                         const ImageLoadOptions& load, int batch_size, bool skip_bad, FileFilter admit)
    : paths_(paths),
      preprocessing_(preprocessing),
      load_(load),
      batch_size_(size_t(batch_size)),
      skip_bad_(skip_bad),
      admit_(std::move(admit)) {
    if (batch_size < 1) throw Error("--batch", "must be at least 1, got " + std::to_string(batch_size));
    // A worker thread decoding the next batch only pays when a core is free for it; when the
    // network already uses every core, that thread would stall the network's threads, so the
    // images are decoded on those threads instead, between batches.
    background_ = at::get_num_threads() < int(std::max(1u, std::thread::hardware_concurrency()));
    start(0);
}

BatchLoader::~BatchLoader() {
    if (pending_.valid()) pending_.wait();
}

LoadedBatch BatchLoader::load(size_t begin) const {
    const size_t end = std::min(paths_.size(), begin + batch_size_);
    const size_t count = end - begin;
    const int64_t size = preprocessing_.input_size;
    const size_t plane = size_t(3 * size * size);
    // Every image into its own slot, then the ones that loaded packed to the front.
    torch::Tensor slots = torch::empty({int64_t(count), 3, size, size});
    float* data = slots.data_ptr<float>();
    std::vector<std::string> errors(count);
    std::vector<std::array<int, 2>> sizes(count);
    std::vector<char> refused(count, 0);
    auto load_one = [&](size_t slot) {
        const std::string& path = paths_[begin + slot];
        try {
            const std::string bytes = read_file(path, load_.max_file_bytes);
            if (admit_ && !admit_(begin + slot, bytes)) {
                refused[slot] = 1;
                return;
            }
            const Image image = decode_image(bytes, path, load_, preprocessing_.resize_shorter);
            try {
                preprocess(image, preprocessing_, data + slot * plane);
            } catch (const Error& e) {
                throw Error(path, e.what());
            }
            sizes[slot] = {image.photo_width, image.photo_height};
        } catch (const Error& e) {
            errors[slot] = e.what();
            if (errors[slot].empty()) errors[slot] = path + ": unreadable";
        } catch (const std::bad_alloc&) {
            errors[slot] = path + ": out of memory while decoding";
        }
    };
    // Each thread takes the next photo not yet taken: photos differ in size, and fixed shares
    // would leave one thread idle while the other finishes its larger ones.
    std::atomic<size_t> next{0};
    auto take_photos = [&](int64_t, int64_t) {
        for (size_t slot = next++; slot < count; slot = next++) load_one(slot);
    };
    if (background_) take_photos(0, 1);  // on the worker thread: one thread is enough
    else at::parallel_for(0, at::get_num_threads(), 1, take_photos);  // on the network's threads, between batches
    LoadedBatch batch;
    for (size_t slot = 0; slot < count; ++slot) {
        if (refused[slot]) continue;
        if (!errors[slot].empty()) {
            if (!skip_bad_) throw Error(errors[slot]);
            batch.failures.push_back(std::move(errors[slot]));
            continue;
        }
        if (batch.indices.size() != slot)
            std::memcpy(data + batch.indices.size() * plane, data + slot * plane, plane * sizeof(float));
        batch.indices.push_back(begin + slot);
        batch.sizes.push_back(sizes[slot]);
    }
    batch.input = slots.narrow(0, 0, int64_t(batch.indices.size())).contiguous(at::MemoryFormat::ChannelsLast);
    return batch;
}

void BatchLoader::start(size_t begin) {
    next_begin_ = begin;
    if (background_ && begin < paths_.size())
        pending_ = std::async(std::launch::async, [this, begin] { return load(begin); });
}

bool BatchLoader::next(LoadedBatch& batch, size_t& done) {
    if (!background_) {
        if (next_begin_ >= paths_.size()) return false;
        batch = load(next_begin_);
        done = std::min(paths_.size(), next_begin_ + batch_size_);
        next_begin_ = done;
        return true;
    }
    if (!pending_.valid()) return false;
    batch = pending_.get();  // rethrows the worker's Error
    done = std::min(paths_.size(), next_begin_ + batch_size_);
    start(done);
    return true;
}

}  // namespace pupembed
