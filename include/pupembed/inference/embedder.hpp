// One interface for turning photos into embeddings, whatever runs the network: the command runs
// files through the batch loader (decoding overlapping the network, BatchEmbedder), the server
// runs decoded uploads through its inference queue (requests batched together). Queries and
// adding photos to a gallery take either.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "pupembed/inference/classify.hpp"
#include "pupembed/inference/embed.hpp"

namespace pupembed {

struct Model;

class Embedder {
public:
    virtual ~Embedder() = default;

    virtual const Model& model() const = 0;
    /// How photos are decoded (pixel limits, scaled decoding).
    virtual const ImageLoadOptions& load_options() const = 0;

    /// Runs photo files through the model in batches, with class probabilities when the model has
    /// a classifier, and hands each batch to `on_batch`. With `skip_bad` an unreadable photo is
    /// listed in its batch's failures; without, the first is thrown as Error. Each file is read
    /// once; one that `admit` (when given) refuses is not decoded and in no batch.
    virtual void embed_files(const std::vector<std::string>& paths, bool skip_bad,
                             const std::function<void(const EmbeddedBatch&)>& on_batch, const FileFilter& admit = {}) = 0;

    /// A decoded photo's embedding and class probabilities.
    virtual EmbeddedPhoto embed_image(const Image& image) = 0;
};

/// The command's embedder: files through the batch loader, `options.batch_size` at a time.
class BatchEmbedder : public Embedder {
public:
    /// `model` (ready for inference) must outlive the embedder.
    BatchEmbedder(Model& model, InferenceOptions options);

    const Model& model() const override { return model_; }
    const ImageLoadOptions& load_options() const override { return options_.load; }
    void embed_files(const std::vector<std::string>& paths, bool skip_bad,
                     const std::function<void(const EmbeddedBatch&)>& on_batch, const FileFilter& admit = {}) override;
    EmbeddedPhoto embed_image(const Image& image) override;

private:
    Model& model_;
    InferenceOptions options_;
};

}  // namespace pupembed
