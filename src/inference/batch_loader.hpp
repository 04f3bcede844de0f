// Loads and preprocesses images batch by batch: on a worker thread one batch ahead of the network
// when a core is free for it (decoding overlaps inference), else on the network's own threads
// between batches (on 2 cores that measured faster: a third thread stalls the network's).
#pragma once

#include <torch/types.h>

#include <array>
#include <future>
#include <string>
#include <vector>

#include "pupembed/inference/embed.hpp"
#include "pupembed/io/image.hpp"

namespace pupembed {

/// The network input of one input size: `rows` are positions in LoadedBatch::indices.
struct SizedInput {
    std::vector<size_t> rows;
    torch::Tensor tensor;  ///< (rows.size(), 3, s, s) channels_last
};

struct LoadedBatch {
    std::vector<size_t> indices;        ///< positions in the path list of the images loaded
    std::vector<SizedInput> inputs;     ///< one per input size used (two when large photos run larger)
    std::vector<std::array<int, 2>> sizes;  ///< width and height of each image loaded
    std::vector<std::string> failures;  ///< "path: reason" of the images that could not be loaded
};

/// Preprocessed images (3 * s * s floats each at `planes[i]`, s = `input_sizes[i]`) grouped by
/// input size into network inputs, in order of first appearance.
std::vector<SizedInput> group_by_input_size(const std::vector<const float*>& planes, const std::vector<int>& input_sizes);

class BatchLoader {
public:
    /// With `skip_bad` false, next() throws the first image's Error instead of listing failures.
    /// `admit`, when given, is called (from the loading threads) with each file's index and bytes
    /// before they are decoded; a photo it refuses is left out of its batch undecoded.
    BatchLoader(const std::vector<std::string>& paths, const Preprocessing& preprocessing, const ImageLoadOptions& load,
                int batch_size, bool skip_bad, FileFilter admit = {});
    ~BatchLoader();
    BatchLoader(const BatchLoader&) = delete;
    BatchLoader& operator=(const BatchLoader&) = delete;

    /// The next batch, or false when all paths are done. `done` is the number of paths handled so far.
    bool next(LoadedBatch& batch, size_t& done);

private:
    LoadedBatch load(size_t begin) const;
    void start(size_t begin);

    const std::vector<std::string>& paths_;
    Preprocessing preprocessing_;
    ImageLoadOptions load_;
    size_t batch_size_;
    bool skip_bad_;
    FileFilter admit_;
    bool background_ = true;
    size_t next_begin_ = 0;
    std::future<LoadedBatch> pending_;
};

}  // namespace pupembed
