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
#include "model/network.hpp"
#include "pupembed/model/model.hpp"
#include "pupembed/model/threads.hpp"

namespace fs = std::filesystem;

namespace pupembed {

std::vector<std::string> collect_image_paths(const std::vector<std::string>& inputs, std::vector<std::string>* passed_over) {
    std::vector<std::string> paths;
    auto pass_over = [&](const std::string& path, const std::string& reason) {
        if (passed_over) passed_over->push_back(path + ": " + reason);
    };
    for (const std::string& input : inputs) {
        std::error_code error;
        if (fs::is_directory(input, error)) {
            // Symbolic links to folders are not followed (no loops); a subfolder that cannot be
            // read is passed over, and so is what its entries' links point at when that fails.
            std::vector<std::string> found;
            auto it = fs::recursive_directory_iterator(input, fs::directory_options::skip_permission_denied, error);
            if (error) throw Error(input, "cannot list folder: " + error.message());
            for (; !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
                const std::string path = it->path().string();
                if (!has_image_extension(path)) continue;
                std::error_code status;
                if (it->is_regular_file(status)) {
                    found.push_back(path);
                } else if (status) {
                    pass_over(path, status.message());  // a looping link
                } else if (!it->is_directory(status)) {
                    pass_over(path, it->is_symlink(status) && !it->exists(status) ? "a dangling symbolic link" : "not a file");
                }
            }
            if (error) throw Error(input, "cannot list folder: " + error.message());
            std::sort(found.begin(), found.end());
            paths.insert(paths.end(), found.begin(), found.end());
        } else if (fs::exists(input, error)) {
            paths.push_back(input);
        } else {
            throw Error(input, error ? error.message() : "no such file or folder");
        }
    }
    if (paths.empty()) throw Error("no images found in the inputs given");
    return paths;
}

namespace {

/// A (rows, columns) float tensor's values as FloatRows.
FloatRows to_rows(const torch::Tensor& tensor) {
    const torch::Tensor values = tensor.to(torch::kFloat32).contiguous();
    FloatRows rows;
    rows.rows = values.size(0);
    rows.columns = values.size(1);
    rows.values.assign(values.data_ptr<float>(), values.data_ptr<float>() + values.numel());
    return rows;
}

/// The network's embeddings and (when `probabilities`) softmaxed class scores for a batch.
std::pair<FloatRows, FloatRows> run_network(Model& model, const torch::Tensor& input, bool probabilities) {
    try {
        const NetworkImpl::Outputs outputs = model.network->run(input, probabilities, true);
        return {to_rows(outputs.embeddings), probabilities ? to_rows(outputs.logits.softmax(1)) : FloatRows{}};
    } catch (const c10::Error& e) {
        throw Error("the network failed", e.what_without_backtrace());
    }
}

/// The network's embeddings and probabilities for inputs grouped by size, in row order.
std::pair<FloatRows, FloatRows> run_network(Model& model, const std::vector<SizedInput>& inputs, size_t rows,
                                            bool probabilities) {
    if (inputs.size() == 1) return run_network(model, inputs[0].tensor, probabilities);
    FloatRows embeddings, classes;
    for (const SizedInput& input : inputs) {
        const auto [vectors, scores] = run_network(model, input.tensor, probabilities);
        if (embeddings.values.empty()) {
            embeddings = FloatRows{int64_t(rows), vectors.columns, std::vector<float>(rows * size_t(vectors.columns))};
            if (probabilities)
                classes = FloatRows{int64_t(rows), scores.columns, std::vector<float>(rows * size_t(scores.columns))};
        }
        for (size_t i = 0; i < input.rows.size(); ++i) {
            std::copy_n(vectors.values.begin() + long(i) * vectors.columns, vectors.columns,
                        embeddings.values.begin() + long(input.rows[i]) * embeddings.columns);
            if (probabilities)
                std::copy_n(scores.values.begin() + long(i) * scores.columns, scores.columns,
                            classes.values.begin() + long(input.rows[i]) * classes.columns);
        }
    }
    return {std::move(embeddings), std::move(classes)};
}

}  // namespace

void for_each_embedded_batch(Model& model, const std::vector<std::string>& paths, const InferenceOptions& options,
                             bool skip_bad, bool with_probabilities,
                             const std::function<void(const EmbeddedBatch&)>& on_batch, const FileFilter& admit) {
    use_thread_count();  // this thread may not have set it (a Python, Dask or server thread)
    torch::InferenceMode inference;
    const bool probabilities = with_probabilities && model.has_classifier();
    BatchLoader loader(paths, model.info.preprocessing, options.load, options.batch_size, skip_bad, admit);
    LoadedBatch loaded;
    EmbeddedBatch batch;
    size_t done = 0;
    while (loader.next(loaded, done)) {
        batch.indices = std::move(loaded.indices);
        batch.sizes = std::move(loaded.sizes);
        batch.failures = std::move(loaded.failures);
        batch.embeddings = FloatRows{};
        batch.probabilities = FloatRows{};
        if (!batch.indices.empty())
            std::tie(batch.embeddings, batch.probabilities) =
                run_network(model, loaded.inputs, batch.indices.size(), probabilities);
        on_batch(batch);
        if (options.on_progress) options.on_progress(int64_t(done), int64_t(paths.size()));
    }
}

EmbeddingSet embed_images(Model& model, const std::vector<std::string>& paths, const InferenceOptions& options,
                          bool skip_bad) {
    EmbeddingSet set;
    const auto start = std::chrono::steady_clock::now();
    // Rows are written into storage allocated once: a small allocation kept per batch would
    // fragment the heap (see runtime.hpp).
    set.vectors.columns = model.embedding_size();
    set.vectors.values.reserve(paths.size() * size_t(set.vectors.columns));
    set.paths.reserve(paths.size());
    for_each_embedded_batch(model, paths, options, skip_bad, false, [&](const EmbeddedBatch& batch) {
        for (const auto& failure : batch.failures) set.failures.push_back(failure);
        if (batch.indices.empty()) return;
        set.vectors.values.insert(set.vectors.values.end(), batch.embeddings.values.begin(), batch.embeddings.values.end());
        set.vectors.rows += batch.embeddings.rows;
        for (const size_t i : batch.indices) set.paths.push_back(paths[i]);
    });
    if (set.vectors.rows == 0) throw Error("none of the " + std::to_string(paths.size()) + " images could be read");
    set.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return set;
}

std::vector<EmbeddedPhoto> embed_decoded(Model& model, const std::vector<const Image*>& images, bool with_probabilities) {
    std::vector<EmbeddedPhoto> results(images.size());
    if (images.empty()) return results;
    const Preprocessing& preprocessing = model.info.preprocessing;
    const int64_t largest = largest_input_size(preprocessing);
    const size_t plane = size_t(3 * largest * largest);
    std::vector<float> chw(plane * images.size());
    std::vector<const float*> planes;
    std::vector<int> input_sizes;
    for (size_t i = 0; i < images.size(); ++i) {
        const Preprocessing chosen = preprocessing_for(preprocessing, *images[i]);
        preprocess(*images[i], chosen, chw.data() + i * plane);
        planes.push_back(chw.data() + i * plane);
        input_sizes.push_back(chosen.input_size);
    }
    use_thread_count();  // the server's inference thread, a Python thread
    torch::InferenceMode inference;
    const bool probabilities = with_probabilities && model.has_classifier();
    const auto [vectors, classes] = run_network(model, group_by_input_size(planes, input_sizes), images.size(), probabilities);
    for (size_t i = 0; i < images.size(); ++i) {
        results[i].vector = vectors.row_vector(int64_t(i));
        if (!classes.empty()) results[i].probabilities = classes.row_vector(int64_t(i));
    }
    return results;
}

void write_embedding_set(const std::string& npy_path, const EmbeddingSet& set, const std::string& model_file) {
    NpyArray array;
    array.shape = {set.vectors.rows, set.vectors.columns};
    array.data = set.vectors.values;
    std::string table = "# pupembed embeddings v1\n# model\t" + model_file + "\n";
    for (const auto& path : set.paths) table += path + "\n";
    write_npy(npy_path, array);
    write_file_atomically(row_table_path(npy_path), table);
}

}  // namespace pupembed
