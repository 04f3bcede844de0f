// `index add` throughput against the network alone, same model, same input size, same batch:
//   build/bench/bench_index_add [--model M] [--batch 64] DIR
// (1) forward only: the model's network on a random batch, after a warm-up batch;
// (2) index add: DIR into a new temporary gallery, everything included (hashing, decoding on
//     another thread, the network, breed guesses, SQLite commits).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "pupembed/core/runtime.hpp"
#include "pupembed/model/threads.hpp"
#include "pupembed/gallery/gallery.hpp"
#include "pupembed/gallery/ingest.hpp"
#include "pupembed/inference/embed.hpp"
#include "pupembed/inference/embedder.hpp"
#include "model/network.hpp"
#include "pupembed/model/model.hpp"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) try {
    pupembed::configure_process(argv);
    std::string model_path = std::string(PUPEMBED_SOURCE_DIR) + "/models/pupembed-default.pt", dir;
    int batch = 64;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--model") == 0 && i + 1 < argc) model_path = argv[++i];
        else if (std::strcmp(argv[i], "--batch") == 0 && i + 1 < argc) batch = std::atoi(argv[++i]);
        else dir = argv[i];
    }
    if (dir.empty()) throw std::runtime_error("usage: bench_index_add [--model M] [--batch 64] DIR");
    const int threads = pupembed::set_thread_count(0);
    pupembed::Model model = pupembed::load_model(model_path);
    pupembed::prepare_for_inference(model);
    const int64_t size = model.info.preprocessing.input_size;

    const std::vector<std::string> paths = pupembed::collect_image_paths({dir});
    // The network alone over as many images as the gallery gets, before and after the add (this
    // machine's speed drifts; the mean of the two is the reference).
    auto forward_only = [&] {
        torch::InferenceMode inference;
        const torch::Tensor input = torch::randn({batch, 3, size, size}).contiguous(at::MemoryFormat::ChannelsLast);
        model.network->run(input, bool(model.network->classifier), true);  // warm-up
        const int64_t repeats = std::max<int64_t>(10, int64_t(paths.size()) / batch);
        const auto start = Clock::now();
        for (int64_t r = 0; r < repeats; ++r) model.network->run(input, bool(model.network->classifier), true);
        return double(repeats * batch) / std::chrono::duration<double>(Clock::now() - start).count();
    };
    const double forward_before = forward_only();

    const fs::path gallery_path = fs::temp_directory_path() / ("bench-index-add-" + std::to_string(::getpid()) + ".db");
    double add_rate = 0, embed_rate = 0;
    int64_t photos = 0;
    {
        pupembed::Gallery gallery = pupembed::Gallery::open(gallery_path.string(), true);
        pupembed::InferenceOptions inference;
        inference.batch_size = batch;
        pupembed::BatchEmbedder embedder(model, inference);
        const auto start = Clock::now();
        const auto report = pupembed::add_to_gallery(gallery, embedder, pupembed::gallery_model_of(model_path, model),
                                                     paths, {});
        const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
        photos = report.embedded;
        add_rate = double(report.embedded) / seconds;
        embed_rate = double(report.embedded) / report.embed_seconds;
    }
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(gallery_path.string() + suffix);
    const double forward_after = forward_only();
    const double forward_rate = (forward_before + forward_after) / 2;
    std::printf("model %s (%s, %lld x %lld), batch %d, %d threads\n", model_path.c_str(), model.info.backbone.c_str(),
                static_cast<long long>(size), static_cast<long long>(size), batch, threads);
    std::printf("forward only:  %.0f images/s (%.0f before the add, %.0f after)\n", forward_rate, forward_before, forward_after);
    std::printf("index add:     %.0f images/s over %lld photos, all included (%.0f%% of forward only); "
                "%.0f images/s from the first decode to the last commit\n",
                add_rate, static_cast<long long>(photos), 100 * add_rate / forward_rate, embed_rate);
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "bench_index_add: error: %s\n", e.what());
    return 1;
}
