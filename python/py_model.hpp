// pupembed.Model's native part: a model file loaded for inference, photos in, arrays out.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "photo_arguments.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/core/float_rows.hpp"
#include "pupembed/gallery/queries.hpp"
#include "pupembed/inference/embed.hpp"
#include "pupembed/model/model.hpp"

namespace pupembed::python {

class PyModel {
public:
    PyModel(const std::optional<std::string>& path, int batch, int64_t max_pixels, bool full_decode)
        : path_(model_path_or_default(path.value_or(""))), model_(load_model_for_inference(path_)) {
        if (batch < 1) throw Error("batch", "must be at least 1, got " + std::to_string(batch), ErrorKind::BadInput);
        if (max_pixels < 1) throw Error("max_pixels", "must be positive", ErrorKind::BadInput);
        options_.batch_size = batch;
        options_.load.max_pixels = max_pixels;
        options_.load.full_decode = full_decode;
        large_input_size_ = model_.info.preprocessing.large_input_size;
    }

    const std::string& path() const { return path_; }
    Model& model() { return model_; }
    const InferenceOptions& options() const { return options_; }

    /// Embeddings and (with `probabilities`) class probabilities of `photos`, in their order.
    std::pair<FloatRows, FloatRows> run(const std::vector<py::object>& photos, bool probabilities) {
        const PhotoBatch batch = photo_batch(photos, options_.load);
        const bool with_classes = probabilities && model_.has_classifier();
        const int64_t columns = model_.embedding_size();
        const int64_t classes = with_classes ? int64_t(model_.info.class_names.size()) : 0;
        FloatRows vectors{int64_t(batch.count), columns, std::vector<float>(batch.count * size_t(columns))};
        FloatRows scores{with_classes ? int64_t(batch.count) : 0, classes, std::vector<float>(batch.count * size_t(classes))};
        auto place = [&](size_t row, const float* vector, const float* probability) {
            std::copy_n(vector, columns, vectors.values.begin() + long(row) * columns);
            if (with_classes) std::copy_n(probability, classes, scores.values.begin() + long(row) * classes);
        };
        py::gil_scoped_release release;
        if (!batch.paths.empty())
            for_each_embedded_batch(model_, batch.paths, options_, false, with_classes, [&](const EmbeddedBatch& embedded) {
                for (size_t i = 0; i < embedded.indices.size(); ++i)
                    place(batch.path_rows[embedded.indices[i]], embedded.embeddings.row(int64_t(i)),
                          with_classes ? embedded.probabilities.row(int64_t(i)) : nullptr);
            });
        for (size_t begin = 0; begin < batch.images.size(); begin += size_t(options_.batch_size)) {
            const size_t end = std::min(batch.images.size(), begin + size_t(options_.batch_size));
            std::vector<const Image*> chunk;
            for (size_t i = begin; i < end; ++i) chunk.push_back(&batch.images[i]);
            const auto embedded = embed_decoded(model_, chunk, with_classes);
            for (size_t i = begin; i < end; ++i)
                place(batch.image_rows[i], embedded[i - begin].vector.data(),
                      with_classes ? embedded[i - begin].probabilities.data() : nullptr);
        }
        return {std::move(vectors), std::move(scores)};
    }

    py::array_t<float> embed(py::handle photos) {
        const FloatRows vectors = run(photo_list(photos), false).first;
        py::array_t<float> out({vectors.rows, vectors.columns});
        std::copy(vectors.values.begin(), vectors.values.end(), out.mutable_data());
        return out;
    }

    py::array_t<float> probabilities(py::handle photos) {
        if (!model_.has_classifier())
            throw Error(path_, "has no classifier, so it cannot name breeds (it gives features only)", ErrorKind::BadInput);
        const FloatRows scores = run(photo_list(photos), true).second;
        py::array_t<float> out({scores.rows, scores.columns});
        std::copy(scores.values.begin(), scores.values.end(), out.mutable_data());
        return out;
    }

    float similarity(py::handle a, py::handle b) {
        const FloatRows vectors =
            run({py::reinterpret_borrow<py::object>(a), py::reinterpret_borrow<py::object>(b)}, false).first;
        return cosine_similarity(vectors.row_vector(0), vectors.row_vector(1));
    }

    py::dict info() const {
        const Preprocessing& p = model_.info.preprocessing;
        py::dict out;
        out["path"] = path_;
        out["backbone"] = model_.info.backbone;
        out["embedding_size"] = model_.embedding_size();
        out["embedding"] = model_.has_embedding_head() ? "embedding head" : "pooled trunk features";
        out["classes"] = model_.info.class_names;
        out["class_ids"] = model_.info.class_ids;
        out["input_size"] = p.input_size;
        out["large_input_size"] = p.large_input_size;
        out["large_input_from"] = p.large_resize_shorter;
        out["parameters"] = model_.parameter_count();
        out["source"] = model_.info.source;
        return out;
    }

    /// Model.embed_job_shard(job, shard): embeds one shard of a job folder (py_jobs.cpp).
    py::dict embed_job_shard(const std::string& job, int64_t shard);

private:
    std::string path_;
    Model model_;
    InferenceOptions options_;
    int large_input_size_ = 0;  ///< the model file's (a job may run without it)
    std::string checked_job_;   ///< the job folder this model file was checked against (its SHA-256, read once)
};


/// Adds the class Model to the module.
void bind_model(py::module_& m);

}  // namespace pupembed::python
