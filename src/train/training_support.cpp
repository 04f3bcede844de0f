#include "train/training_support.hpp"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/json_input.hpp"
#include "core/random.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/io/file_io.hpp"

namespace fs = std::filesystem;

namespace pupembed {

torch::Tensor batch_from_cache(const torch::Tensor& pixels, const int64_t* indices, int64_t count, int size, bool flip,
                               std::mt19937_64* rng, const Preprocessing& preprocessing) {
    const int64_t stored = pixels.size(1);
    const int64_t margin = stored - size;
    torch::Tensor batch = torch::empty({count, size, size, 3}, torch::kUInt8);
    const uint8_t* source = pixels.data_ptr<uint8_t>();
    uint8_t* target = batch.data_ptr<uint8_t>();
    const size_t row_bytes = size_t(size) * 3;
    for (int64_t b = 0; b < count; ++b) {
        int64_t x = margin / 2, y = margin / 2;
        bool mirror = false;
        if (rng) {
            x = int64_t(uniform_below(*rng, uint64_t(margin + 1)));
            y = int64_t(uniform_below(*rng, uint64_t(margin + 1)));
            mirror = flip && uniform_below(*rng, 2) == 1;
        }
        const uint8_t* image = source + indices[b] * stored * stored * 3;
        for (int64_t row = 0; row < size; ++row) {
            const uint8_t* from = image + ((y + row) * stored + x) * 3;
            uint8_t* to = target + (b * size + row) * int64_t(row_bytes);
            if (!mirror) {
                std::memcpy(to, from, row_bytes);
            } else {
                for (int64_t col = 0; col < size; ++col) std::memcpy(to + col * 3, from + (size - 1 - col) * 3, 3);
            }
        }
    }
    return normalized_batch(batch, preprocessing);
}

torch::Tensor normalized_batch(const torch::Tensor& pixels, const Preprocessing& preprocessing) {
    const auto& m = preprocessing.mean;
    const auto& s = preprocessing.std;
    const torch::Tensor scale = torch::tensor({1.f / (255.f * s[0]), 1.f / (255.f * s[1]), 1.f / (255.f * s[2])});
    const torch::Tensor shift = torch::tensor({m[0] / s[0], m[1] / s[1], m[2] / s[2]});
    // NHWC memory viewed as NCHW is exactly the channels_last layout.
    return pixels.to(torch::kFloat32).mul_(scale).sub_(shift).permute({0, 3, 1, 2});
}

torch::Tensor optimizer_state(const torch::optim::Optimizer& optimizer) {
    torch::serialize::OutputArchive archive;
    optimizer.save(archive);
    std::ostringstream out;
    archive.save_to(out);
    const std::string bytes = out.str();
    return torch::from_blob(const_cast<char*>(bytes.data()), {int64_t(bytes.size())}, torch::kUInt8).clone();
}

void load_optimizer_state(torch::optim::Optimizer& optimizer, const torch::Tensor& bytes) {
    std::istringstream in(std::string(reinterpret_cast<const char*>(bytes.data_ptr<uint8_t>()), size_t(bytes.numel())));
    torch::serialize::InputArchive archive;
    archive.load_from(in);
    optimizer.load(archive);
}

torch::Tensor torch_rng_state() {
    auto generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    return generator.get_state();
}

void set_torch_rng_state(const torch::Tensor& state) {
    auto generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(state);
}

std::string rng_text(const std::mt19937_64& rng) {
    std::ostringstream out;
    out << rng;
    return out.str();
}

void set_rng_from_text(std::mt19937_64& rng, const std::string& text) {
    std::istringstream in(text);
    in >> rng;
    if (!in) throw Error("damaged random generator state in a checkpoint");
}

}  // namespace pupembed
