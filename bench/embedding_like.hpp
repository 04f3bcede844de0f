// Vectors shaped like real embeddings for the search benchmarks: a Gaussian mixture fitted to
// embeddings from `pupembed embed` (a .npy with its .tsv): one component per breed (the folder a
// photo is in) at that breed's mean, all with the pooled within-breed covariance, then
// normalised. That keeps the real embeddings' spread and low-dimensional structure, which is
// what a large gallery of dogs looks like.
#pragma once

#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "pupembed/core/error.hpp"
#include "pupembed/io/npy.hpp"

namespace pupembed::bench {

// The folder names of the rows of EMBEDDINGS.npy, from the .tsv beside it (comment lines start with #).
inline std::vector<std::string> row_folders(const std::string& npy_path) {
    const std::string tsv = npy_path.substr(0, npy_path.size() - 4) + ".tsv";
    std::ifstream in(tsv);
    if (!in) throw Error(tsv, "cannot open (the .tsv that `pupembed embed` writes beside the .npy)");
    std::vector<std::string> folders;
    for (std::string line; std::getline(in, line);) {
        if (line.empty() || line[0] == '#') continue;
        const std::string path = line.substr(0, line.find('\t'));
        const auto slash = path.rfind('/');
        const auto parent = slash == std::string::npos ? std::string::npos : path.rfind('/', slash - 1);
        folders.push_back(slash == std::string::npos ? "" : path.substr(parent + 1, slash - parent - 1));
    }
    return folders;
}

// A Gaussian mixture fitted to real embeddings (see the top of this file).
class EmbeddingLikeSampler {
public:
    explicit EmbeddingLikeSampler(const std::string& npy_path) {
        const auto array = read_npy(npy_path);
        const auto folders = row_folders(npy_path);
        if (array.shape.size() != 2 || int64_t(folders.size()) != array.shape[0])
            throw Error(npy_path, "expected a 2-D array with one .tsv row per vector");
        const int64_t n = array.shape[0], d = array.shape[1];
        auto x = torch::from_blob(const_cast<float*>(array.data.data()), {n, d}).to(torch::kFloat64);
        std::map<std::string, std::vector<int64_t>> rows_of;
        for (int64_t i = 0; i < n; ++i) rows_of[folders[size_t(i)]].push_back(i);
        auto centred = torch::empty_like(x);
        std::vector<torch::Tensor> means;
        for (const auto& [folder, rows] : rows_of) {
            const auto index = torch::tensor(rows, torch::kLong);
            const auto mean = x.index_select(0, index).mean(0);
            centred.index_copy_(0, index, x.index_select(0, index) - mean);
            means.push_back(mean);
        }
        means_ = torch::stack(means);
        const auto covariance = centred.t().mm(centred) / double(n - int64_t(means.size()));
        factor_ = torch::linalg_cholesky(covariance + 1e-9 * torch::eye(d, torch::kFloat64));
        dimension_ = d;
        std::fprintf(stderr, "embedding-like vectors: %zu components fitted to %lld embeddings from %s\n",
                     means.size(), static_cast<long long>(n), npy_path.c_str());
    }
    int64_t dimension() const { return dimension_; }

    std::vector<float> sample(int64_t count, uint64_t seed) const {
        torch::manual_seed(seed);
        const auto component = torch::randint(means_.size(0), {count}, torch::kLong);
        auto x = means_.index_select(0, component) + torch::randn({count, dimension_}, torch::kFloat64).mm(factor_.t());
        x = torch::nn::functional::normalize(x, torch::nn::functional::NormalizeFuncOptions().dim(1))
                .to(torch::kFloat32)
                .contiguous();
        return std::vector<float>(x.data_ptr<float>(), x.data_ptr<float>() + x.numel());
    }

private:
    torch::Tensor means_, factor_;
    int64_t dimension_ = 0;
};

}  // namespace pupembed::bench
