#include "common.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <cstdio>
#include <iostream>
#include <regex>

#include "pupembed/core/error.hpp"
#include "pupembed/model/threads.hpp"
#include "pupembed/gallery/query_json.hpp"

namespace pupembed::cli {
namespace {
bool progress_drawn = false;
}

void add_runtime_options(CLI::App& command, RuntimeOptions& options) {
    command.add_option("--threads", options.threads, "Threads for the network (0: one per core)")
        ->check(CLI::Range(0, kMaxThreads))
        ->capture_default_str();
    command.add_option("--batch", options.batch, "Images per network batch")
        ->check(CLI::Range(1, 4096))
        ->capture_default_str();
    command.add_option("--max-pixels", options.max_pixels, "Refuse images that would decode to more pixels than this")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    command.add_flag("--full-decode", options.full_decode,
                     "Decode every pixel of large JPEGs; by default they are decoded at the smallest scale\n"
                     "(1/8 to 8/8) that still gives the network its input size, many times faster");
}

InferenceOptions start_inference(const RuntimeOptions& options, const std::string& progress_label) {
    set_thread_count(options.threads);
    InferenceOptions inference;
    inference.batch_size = options.batch;
    inference.load.max_pixels = options.max_pixels;
    inference.load.full_decode = options.full_decode;
    if (!progress_label.empty() && ::isatty(STDERR_FILENO)) {
        const auto start = std::chrono::steady_clock::now();
        inference.on_progress = [progress_label, start](int64_t done, int64_t total) {
            const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            const double rate = seconds > 0 ? double(done) / seconds : 0.0;
            const double eta = rate > 0 ? double(total - done) / rate : 0.0;
            std::fprintf(stderr, "\r%s %lld/%lld images, %.0f images/s, ETA %.0f s   ", progress_label.c_str(),
                         static_cast<long long>(done), static_cast<long long>(total), rate, eta);
            std::fflush(stderr);
            progress_drawn = true;
        };
    }
    return inference;
}

void mark_progress_drawn() { progress_drawn = true; }

void finish_progress() {
    if (progress_drawn) std::fputs("\n", stderr);
    progress_drawn = false;
}

nlohmann::json posterior_json(const ModelInfo& info) {
    if (!(info.posterior_weight > 0)) return nullptr;
    return {{"weight", info.posterior_weight}, {"temperature", info.posterior_temperature}};
}

void print_json(const nlohmann::json& value) {
    std::cout << to_json_text(value, 2) << "\n";
}

std::pair<int64_t, int64_t> shard_part(const std::string& text) {
    std::smatch match;
    if (!std::regex_match(text, match, std::regex(R"((\d{1,9})/(\d{1,9}))")))
        throw Error("--shard \"" + text + "\"", "must be I/N, e.g. 0/4 (part I of N, from 0)", ErrorKind::BadInput);
    const int64_t part = std::stoll(match[1]), parts = std::stoll(match[2]);
    if (parts < 1 || part >= parts) throw Error("--shard " + text, "needs 0 <= I < N", ErrorKind::BadInput);
    return {part, parts};
}

}  // namespace pupembed::cli
