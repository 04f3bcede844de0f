#include "pupembed/inference/embed.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "inference/batch_loader.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/io/dataset.hpp"
#include "pupembed/io/file_io.hpp"
#include "pupembed/io/image.hpp"
#include "pupembed/io/npy.hpp"
#include "pupembed/model/model.hpp"

namespace fs = std::filesystem;

namespace pupembed {

std::vector<std::string> collect_image_paths(const std::vector<std::string>& inputs) {
    std::vector<std::string> paths;
    for (const std::string& input : inputs) {
        std::error_code error;
        if (fs::is_directory(input, error)) {
            std::vector<std::string> found;
            for (auto it = fs::recursive_directory_iterator(input, error); !error && it != fs::recursive_directory_iterator();
                 it.increment(error))
                if (it->is_regular_file() && has_image_extension(it->path().string())) found.push_back(it->path().string());
            if (error) throw Error(input, "cannot list folder: " + error.message());
            std::sort(found.begin(), found.end());
            paths.insert(paths.end(), found.begin(), found.end());
        } else if (fs::exists(input, error)) {
            paths.push_back(input);
        } else {
            throw Error(input, "no such file or folder");
        }
    }
    if (paths.empty()) throw Error("no images found in the inputs given");
    return paths;
}

void for_each_embedded_batch(Model& model, const std::vector<std::string>& paths, const InferenceOptions& options,
                             bool skip_bad, bool with_probabilities,
                             const std::function<void(const EmbeddedBatch&)>& on_batch) {
    torch::InferenceMode inference;
    const bool probabilities = with_probabilities && model.network->classifier;
    BatchLoader loader(paths, model.info.preprocessing, options.load, options.batch_size, skip_bad);
    LoadedBatch loaded;
    EmbeddedBatch batch;
    size_t done = 0;
    while (loader.next(loaded, done)) {
        batch.indices = std::move(loaded.indices);
        batch.sizes = std::move(loaded.sizes);
        batch.failures = std::move(loaded.failures);
        batch.embeddings = torch::Tensor();
        batch.probabilities = torch::Tensor();
        if (!batch.indices.empty()) {
            const NetworkImpl::Outputs outputs = model.network->run(loaded.input, probabilities, true);
            batch.embeddings = outputs.embeddings;
            if (probabilities) batch.probabilities = outputs.logits.softmax(1);
        }
        on_batch(batch);
        if (options.on_progress) options.on_progress(int64_t(done), int64_t(paths.size()));
    }
}

EmbeddingSet embed_images(Model& model, const std::vector<std::string>& paths, const InferenceOptions& options,
                          bool skip_bad) {
    EmbeddingSet set;
    const auto start = std::chrono::steady_clock::now();
    // Rows are written into storage allocated once: a small tensor kept per batch would
    // fragment the heap (see runtime.hpp).
    torch::Tensor vectors = torch::empty({int64_t(paths.size()), model.network->embedding_size()});
    int64_t rows = 0;
    set.paths.reserve(paths.size());
    for_each_embedded_batch(model, paths, options, skip_bad, false, [&](const EmbeddedBatch& batch) {
        for (const auto& failure : batch.failures) set.failures.push_back(failure);
        if (batch.indices.empty()) return;
        vectors.narrow(0, rows, int64_t(batch.indices.size())).copy_(batch.embeddings);
        rows += int64_t(batch.indices.size());
        for (const size_t i : batch.indices) set.paths.push_back(paths[i]);
    });
    if (rows == 0) throw Error("none of the " + std::to_string(paths.size()) + " images could be read");
    set.vectors = vectors.narrow(0, 0, rows);
    set.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return set;
}

std::vector<DecodedEmbedding> embed_decoded(Model& model, const std::vector<const Image*>& images,
                                            bool with_probabilities) {
    std::vector<DecodedEmbedding> results(images.size());
    if (images.empty()) return results;
    const Preprocessing& preprocessing = model.info.preprocessing;
    const size_t plane = size_t(3) * size_t(preprocessing.input_size) * size_t(preprocessing.input_size);
    std::vector<float> chw(plane * images.size());
    for (size_t i = 0; i < images.size(); ++i) preprocess(*images[i], preprocessing, chw.data() + i * plane);
    torch::InferenceMode inference;
    const bool probabilities = with_probabilities && model.network->classifier;
    const auto outputs = model.network->run(make_input_batch(chw, int64_t(images.size()), preprocessing.input_size),
                                            probabilities, true);
    const torch::Tensor vectors = outputs.embeddings.to(torch::kFloat32).contiguous();
    const torch::Tensor classes = probabilities ? outputs.logits.softmax(1).to(torch::kFloat32).contiguous() : torch::Tensor();
    for (size_t i = 0; i < images.size(); ++i) {
        const float* row = vectors.data_ptr<float>() + int64_t(i) * vectors.size(1);
        results[i].vector.assign(row, row + vectors.size(1));
        if (classes.defined()) {
            const float* p = classes.data_ptr<float>() + int64_t(i) * classes.size(1);
            results[i].probabilities.assign(p, p + classes.size(1));
        }
    }
    return results;
}

void write_embedding_set(const std::string& npy_path, const EmbeddingSet& set, const std::string& model_file) {
    NpyArray array;
    array.shape = set.vectors.sizes().vec();
    const torch::Tensor values = set.vectors.to(torch::kFloat32).contiguous();
    array.data.assign(values.data_ptr<float>(), values.data_ptr<float>() + values.numel());
    std::string table = "# pupembed embeddings v1\n# model\t" + model_file + "\n";
    for (const auto& path : set.paths) table += path + "\n";
    write_npy(npy_path, array);
    write_file_atomically(row_table_path(npy_path), table);
}

}  // namespace pupembed
