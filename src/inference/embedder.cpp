#include "pupembed/inference/embedder.hpp"

#include <utility>

namespace pupembed {

BatchEmbedder::BatchEmbedder(Model& model, InferenceOptions options) : model_(model), options_(std::move(options)) {}

void BatchEmbedder::embed_files(const std::vector<std::string>& paths, bool skip_bad,
                                const std::function<void(const EmbeddedBatch&)>& on_batch, const FileFilter& admit) {
    for_each_embedded_batch(model_, paths, options_, skip_bad, true, on_batch, admit);
}

EmbeddedPhoto BatchEmbedder::embed_image(const Image& image) { return embed_decoded(model_, {&image}, true).at(0); }

}  // namespace pupembed
