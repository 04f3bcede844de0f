#include "inference/batch_loader.hpp"

#include <torch/torch.h>

#include <algorithm>
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
    const int64_t largest = largest_input_size(preprocessing_);
    const size_t plane = size_t(3 * largest * largest);
    const int decode_to = decode_shorter_side(preprocessing_);
    // Every image into its own slot (room for the largest input), then grouped by input size.
    std::vector<float> slots(plane * count);
    float* data = slots.data();
    std::vector<std::string> errors(count);
    std::vector<std::array<int, 2>> sizes(count);
    std::vector<int> input_sizes(count, 0);
    std::vector<char> refused(count, 0);
    auto load_one = [&](size_t slot) {
        const std::string& path = paths_[begin + slot];
        try {
            const std::string bytes = read_file(path, load_.max_file_bytes);
            if (admit_ && !admit_(begin + slot, bytes)) {
                refused[slot] = 1;
                return;
            }
            const Image image = decode_image(bytes, path, load_, decode_to);
            const Preprocessing chosen = preprocessing_for(preprocessing_, image);
            try {
                preprocess(image, chosen, data + slot * plane);
            } catch (const Error& e) {
                throw Error(path, e.what());
            }
            input_sizes[slot] = chosen.input_size;
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
    std::vector<const float*> planes;
    std::vector<int> loaded_sizes;
    for (size_t slot = 0; slot < count; ++slot) {
        if (refused[slot]) continue;
        if (!errors[slot].empty()) {
            if (!skip_bad_) throw Error(errors[slot]);
            batch.failures.push_back(std::move(errors[slot]));
            continue;
        }
        batch.indices.push_back(begin + slot);
        batch.sizes.push_back(sizes[slot]);
        planes.push_back(data + slot * plane);
        loaded_sizes.push_back(input_sizes[slot]);
    }
    batch.inputs = group_by_input_size(planes, loaded_sizes);
    return batch;
}

std::vector<SizedInput> group_by_input_size(const std::vector<const float*>& planes, const std::vector<int>& input_sizes) {
    std::vector<SizedInput> groups;
    std::vector<int> group_sizes;
    for (size_t row = 0; row < planes.size(); ++row) {
        const size_t group = size_t(std::find(group_sizes.begin(), group_sizes.end(), input_sizes[row]) - group_sizes.begin());
        if (group == group_sizes.size()) {
            group_sizes.push_back(input_sizes[row]);
            groups.emplace_back();
        }
        groups[group].rows.push_back(row);
    }
    for (size_t g = 0; g < groups.size(); ++g) {
        const int64_t size = group_sizes[g];
        const auto& rows = groups[g].rows;
        const int64_t count = int64_t(rows.size());
        const size_t plane = size_t(3 * size * size);
        // Planes one after the other (the usual case) go to channels_last in one pass.
        bool adjacent = true;
        for (size_t i = 1; i < rows.size() && adjacent; ++i) adjacent = planes[rows[i]] == planes[rows[i - 1]] + plane;
        torch::Tensor tensor;
        if (adjacent) {
            tensor = torch::from_blob(const_cast<float*>(planes[rows[0]]), {count, 3, size, size});
        } else {
            tensor = torch::empty({count, 3, size, size});
            for (size_t i = 0; i < rows.size(); ++i)
                std::memcpy(tensor.data_ptr<float>() + i * plane, planes[rows[i]], plane * sizeof(float));
        }
        groups[g].tensor = tensor.contiguous(at::MemoryFormat::ChannelsLast);
        if (groups[g].tensor.data_ptr() == planes[rows[0]]) groups[g].tensor = groups[g].tensor.clone();  // own its memory
    }
    return groups;
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
