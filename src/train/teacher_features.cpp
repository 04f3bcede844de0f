#include "train/teacher_features.hpp"

#include <torch/nn/functional/vision.h>
#include <torch/torch.h>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "pupembed/core/clock.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/io/file_io.hpp"
#include "pupembed/io/npy.hpp"
#include "pupembed/io/sha256.hpp"
#include "model/network.hpp"
#include "pupembed/model/model.hpp"

namespace F = torch::nn::functional;

namespace pupembed {
namespace {

constexpr int64_t kBatch = 64;

/// What identifies the embeddings in a cache file: the teacher's bytes and the images.
nlohmann::json cache_key(const std::string& teacher, const CachedImages& images) {
    return {{"teacher_sha256", sha256_hex(read_file(teacher))},
            {"images", std::filesystem::path(images.file).filename().string()},
            {"rows", images.pixels.size(0)}};
}

/// The cached images [begin, end) as the teacher's normalised input, channels_last.
torch::Tensor teacher_input(const CachedImages& images, int64_t begin, int64_t end, const Preprocessing& p) {
    torch::Tensor x = images.pixels.slice(0, begin, end).permute({0, 3, 1, 2}).to(torch::kFloat32).div_(255.0);
    if (x.size(2) != p.resize_shorter)
        x = F::interpolate(x, F::InterpolateFuncOptions()
                                  .size(std::vector<int64_t>{p.resize_shorter, p.resize_shorter})
                                  .mode(torch::kBilinear)
                                  .align_corners(false)
                                  .antialias(true));
    const int64_t offset = (p.resize_shorter - p.input_size) / 2;
    x = x.slice(2, offset, offset + p.input_size).slice(3, offset, offset + p.input_size);
    const auto mean = torch::tensor({p.mean[0], p.mean[1], p.mean[2]}).view({1, 3, 1, 1});
    const auto std = torch::tensor({p.std[0], p.std[1], p.std[2]}).view({1, 3, 1, 1});
    return ((x - mean) / std).contiguous(at::MemoryFormat::ChannelsLast);
}

}  // namespace

torch::Tensor teacher_embeddings(const std::string& teacher, const CachedImages& images, const std::string& cache_file,
                                 const std::function<void(const std::string&)>& on_message) {
    const nlohmann::json key = cache_key(teacher, images);
    const std::string key_file = cache_file + ".json";
    std::error_code error;
    if (std::filesystem::exists(cache_file, error) && std::filesystem::exists(key_file, error) &&
        nlohmann::json::parse(read_file(key_file), nullptr, false) == key) {
        NpyArray array = read_npy(cache_file);
        if (array.shape.size() == 2 && array.shape[0] == images.pixels.size(0))
            return torch::from_blob(array.data.data(), array.shape, torch::kFloat32).clone();
    }
    const auto start = Clock::now();
    Model model = load_model_for_inference(teacher);
    const Preprocessing& p = model.info.preprocessing;
    if (p.resize_shorter < p.input_size) throw Error(teacher, "resizes below its input size");
    const int64_t n = images.pixels.size(0);
    torch::Tensor rows;
    {
        torch::InferenceMode inference;
        std::vector<torch::Tensor> parts;
        for (int64_t begin = 0; begin < n; begin += kBatch)
            parts.push_back(model.network->run(teacher_input(images, begin, std::min(n, begin + kBatch), p), false, true).embeddings);
        rows = torch::cat(parts).contiguous();
    }
    rows = rows.clone();  // a plain tensor, which a loss may keep for its backward pass
    NpyArray array;
    array.shape = {rows.size(0), rows.size(1)};
    array.data.assign(rows.data_ptr<float>(), rows.data_ptr<float>() + rows.numel());
    write_npy(cache_file, array);
    write_file_atomically(key_file, key.dump(2) + "\n");
    if (on_message)
        on_message("teacher: " + std::to_string(n) + " embeddings of " + std::to_string(rows.size(1)) + " values by " + teacher +
                   " in " + std::to_string(int(seconds_since(start))) + " s (kept in " + cache_file + ")");
    return rows;
}

}  // namespace pupembed
