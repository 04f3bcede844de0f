// Stage 2's input: the spliced trunk's pooled vectors of every photo, saved as a NumPy .npy
// (N x C float32) with a TSV of path and label beside it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "pupembed/core/float_rows.hpp"
#include "pupembed/io/dataset.hpp"

namespace pupembed {

struct Model;

struct FeatureSet {
    FloatRows features;                    ///< N x C
    std::vector<int64_t> labels;           ///< N, indices into class_names
    std::vector<std::string> class_names;  ///< sorted
    std::vector<std::string> paths;        ///< the photo of each row
    std::string model;                     ///< the model file whose trunk made them
    std::string layer;                     ///< the trunk layer pooled, e.g. "fire9" (its output)
};

struct ExtractOptions {
    /// 0: one row per photo, centre crop as the model's preprocessing does. K > 0: K rows per
    /// photo, each from a random crop (and flip) of the cached image, to train on.
    int augment = 0;
    uint64_t seed = 1;
    std::string layer;      ///< trunk layer to pool (e.g. "fire8"); "" for the trunk's output
    std::string cache_dir;  ///< decoded-image cache; "" for default_cache_dir()
    bool strict = false;    ///< an unreadable photo is an error instead of being skipped
    int64_t max_pixels = 50'000'000;
    std::function<void(const std::string&)> on_message;
    std::function<void(int64_t, int64_t)> on_progress;
};

/// Runs the model's trunk over every photo of `dataset` and keeps the globally pooled features.
FeatureSet extract_features(Model& model, const std::string& model_file, const Dataset& dataset,
                            const ExtractOptions& options);

/// Writes `features` to `npy_path` and the rows' `path<TAB>label` to the .tsv beside it (same
/// name, .tsv instead of .npy), after a `# pupembed features v1` line and a `# model<TAB>FILE` line.
void write_feature_set(const std::string& npy_path, const FeatureSet& set);

/// Reads what write_feature_set wrote. Throws Error naming the file if either is missing,
/// damaged or they disagree on the number of rows.
FeatureSet read_feature_set(const std::string& npy_path);


}  // namespace pupembed
