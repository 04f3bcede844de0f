#include "pupembed/train/features.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <numeric>
#include <sstream>

#include "model/torch_errors.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/io/file_io.hpp"
#include "pupembed/io/npy.hpp"
#include "model/network.hpp"
#include "pupembed/model/model.hpp"
#include "train/image_cache.hpp"
#include "train/training_support.hpp"

namespace fs = std::filesystem;

namespace pupembed {
namespace {
const char kTableMagic[] = "# pupembed features v1";
}

namespace {

FeatureSet extract_unguarded(Model& model, const std::string& model_file, const Dataset& dataset,
                             const ExtractOptions& options) {
    if (options.augment < 0) throw Error("--augment", "must be 0 or more");
    ImageCacheOptions cache;
    cache.size = model.info.preprocessing.resize_shorter;
    cache.dir = options.cache_dir;
    cache.strict = options.strict;
    cache.load.max_pixels = options.max_pixels;
    const CachedImages images = load_image_cache(dataset, cache);
    if (options.on_message) {
        options.on_message(std::to_string(images.labels.size(0)) + " photos, " +
                           (images.reused ? "cache reused: " : "decoded into cache ") + images.file);
        for (const auto& skipped : images.skipped) options.on_message("skipped unreadable image " + skipped);
    }
    // The cache keeps the readable photos in dataset order; find their paths.
    std::vector<std::string> readable;
    {
        std::vector<std::string> bad;
        for (const auto& s : images.skipped) bad.push_back(s.substr(0, s.find(": ")));
        for (const Sample& sample : dataset.samples)
            if (std::find(bad.begin(), bad.end(), sample.path) == bad.end()) readable.push_back(sample.path);
    }
    const int64_t count = images.labels.size(0);
    if (int64_t(readable.size()) != count) throw Error("internal: cache rows do not match the readable photos");

    model.network->eval();
    torch::InferenceMode inference;
    std::mt19937_64 rng(options.seed);
    const int passes = std::max(1, options.augment);
    std::vector<int64_t> order(static_cast<size_t>(count));
    std::iota(order.begin(), order.end(), 0);
    FeatureSet set;
    set.class_names = dataset.class_names;
    set.model = model_file;
    const auto layers = model.network->trunk->layer_names();
    set.layer = options.layer.empty() ? layers.back() : options.layer;
    if (std::find(layers.begin(), layers.end(), set.layer) == layers.end())
        throw Error("--layer " + set.layer, "is not a layer of " + model.info.backbone);
    // Written in place: see configure_process() on why nothing may be kept per batch.
    const int64_t channels = global_average_pool(model.network->trunk->forward_until(
                                                     torch::zeros({1, 3, 64, 64}).contiguous(at::MemoryFormat::ChannelsLast), set.layer))
                                 .size(1);
    set.features = FloatRows{passes * count, channels, std::vector<float>(size_t(passes * count * channels))};
    const torch::Tensor features = torch::from_blob(set.features.values.data(), {passes * count, channels}, torch::kFloat32);
    const int64_t* label = images.labels.data_ptr<int64_t>();
    constexpr int64_t kBatch = 128;
    for (int pass = 0; pass < passes; ++pass) {
        for (int64_t begin = 0; begin < count; begin += kBatch) {
            const int64_t n = std::min(kBatch, count - begin);
            const torch::Tensor x = batch_from_cache(images.pixels, order.data() + begin, n, model.info.preprocessing.input_size,
                                                     true, options.augment > 0 ? &rng : nullptr, model.info.preprocessing);
            features.narrow(0, pass * count + begin, n)
                .copy_(global_average_pool(model.network->trunk->forward_until(x, set.layer)));
            if (options.on_progress) options.on_progress(pass * count + begin + n, passes * count);
        }
    }
    for (int pass = 0; pass < passes; ++pass)
        for (int64_t i = 0; i < count; ++i) {
            set.labels.push_back(label[i]);
            set.paths.push_back(readable[size_t(i)]);
        }
    return set;
}

}  // namespace

FeatureSet extract_features(Model& model, const std::string& model_file, const Dataset& dataset,
                            const ExtractOptions& options) {
    return rethrow_torch_errors("extracting features", [&] { return extract_unguarded(model, model_file, dataset, options); });
}

void write_feature_set(const std::string& npy_path, const FeatureSet& set) {
    NpyArray array;
    if (set.labels.size() != size_t(set.features.rows) || set.paths.size() != set.labels.size())
        throw Error(npy_path, "internal: a feature set of " + std::to_string(set.features.rows) + " rows, " +
                                  std::to_string(set.labels.size()) + " labels and " + std::to_string(set.paths.size()) + " paths");
    array.shape = {set.features.rows, set.features.columns};
    array.data = set.features.values;
    std::string table = std::string(kTableMagic) + "\n# model\t" + set.model + "\n# layer\t" + set.layer + "\n";
    for (size_t i = 0; i < set.paths.size(); ++i) table += set.paths[i] + "\t" + set.class_names.at(size_t(set.labels[i])) + "\n";
    write_npy(npy_path, array);
    write_file_atomically(row_table_path(npy_path), table);
}

FeatureSet read_feature_set(const std::string& npy_path) {
    const NpyArray array = read_npy(npy_path);
    if (array.shape.size() != 2) throw Error(npy_path, "expected an N x C array of features");
    const std::string table_path = row_table_path(npy_path);
    std::istringstream in(read_file(table_path));
    std::string line;
    if (!std::getline(in, line) || line != kTableMagic)
        throw Error(table_path, std::string("not a pupembed feature table (no \"") + kTableMagic + "\" first line)");
    FeatureSet set;
    std::vector<std::string> names;
    while (std::getline(in, line)) {
        if (line.rfind("# model\t", 0) == 0) {
            set.model = line.substr(8);
            continue;
        }
        if (line.rfind("# layer\t", 0) == 0) {
            set.layer = line.substr(8);
            continue;
        }
        if (line.empty() || line[0] == '#') continue;
        const size_t tab = line.find('\t');
        if (tab == std::string::npos) throw Error(table_path, "expected `path<TAB>label`, got \"" + line + "\"");
        set.paths.push_back(line.substr(0, tab));
        names.push_back(line.substr(tab + 1));
    }
    if (int64_t(names.size()) != array.shape[0])
        throw Error(table_path, "has " + std::to_string(names.size()) + " rows, " + npy_path + " has " +
                                    std::to_string(array.shape[0]));
    std::map<std::string, int64_t> index;
    for (const auto& name : names) index.emplace(name, 0);
    for (auto& [name, i] : index) {
        i = int64_t(set.class_names.size());
        set.class_names.push_back(name);
    }
    for (const auto& name : names) set.labels.push_back(index.at(name));
    set.features = FloatRows{array.shape[0], array.shape[1], array.data};
    return set;
}

}  // namespace pupembed
