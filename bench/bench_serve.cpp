// Load on `pupembed serve`: CLIENTS threads each POST a photo to /api/search, one request after
// another (keep-alive), for SECONDS; prints the latency median and p99, requests/s and errors.
//   build/bench/bench_serve --port 8080 --photo dog.jpg [--clients 8] [--seconds 30] [--k 10] [--json]
// scripts/bench-serve.sh starts a server over the val photos and runs this against it.
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "pupembed/io/file_io.hpp"

namespace {

const char* text_argument(int argc, char** argv, const char* name, const char* fallback) {
    for (int i = 1; i + 1 < argc; ++i)
        if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
    return fallback;
}

double percentile(std::vector<double> values, double p) {
    if (values.empty()) return 0;
    std::sort(values.begin(), values.end());
    return values[std::min(values.size() - 1, size_t(p * double(values.size())))];
}

}  // namespace

int main(int argc, char** argv) try {
    const int port = std::atoi(text_argument(argc, argv, "--port", "8080"));
    const std::string host = text_argument(argc, argv, "--host", "127.0.0.1");
    const char* photo_path = text_argument(argc, argv, "--photo", nullptr);
    const int clients = std::max(1, std::atoi(text_argument(argc, argv, "--clients", "8")));
    const double seconds = std::atof(text_argument(argc, argv, "--seconds", "30"));
    const std::string k = text_argument(argc, argv, "--k", "10");
    bool json = false;
    for (int i = 1; i < argc; ++i) json = json || std::strcmp(argv[i], "--json") == 0;
    if (!photo_path) {
        std::fprintf(stderr, "bench_serve: error: --photo PHOTO is required\n");
        return 2;
    }
    const std::string photo = pupembed::read_file(photo_path);

    std::mutex mutex;
    std::vector<double> latencies_ms;
    std::atomic<int64_t> errors{0};
    std::string first_error;
    const auto start = std::chrono::steady_clock::now();
    const auto end = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(seconds));
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c) {
        threads.emplace_back([&] {
            httplib::Client client(host, port);
            client.set_keep_alive(true);
            client.set_read_timeout(60, 0);
            std::vector<double> mine;
            const httplib::MultipartFormDataItems items = {{"image", photo, "query.jpg", "image/jpeg"}, {"k", k, "", ""}};
            while (std::chrono::steady_clock::now() < end) {
                const auto sent = std::chrono::steady_clock::now();
                const auto result = client.Post("/api/search", items);
                const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - sent).count();
                if (!result || result->status != 200 || result->body.find("\"results\"") == std::string::npos) {
                    ++errors;
                    std::lock_guard<std::mutex> lock(mutex);
                    if (first_error.empty())
                        first_error = result ? std::to_string(result->status) + " " + result->body.substr(0, 200)
                                             : httplib::to_string(result.error());
                    continue;
                }
                mine.push_back(ms);
            }
            std::lock_guard<std::mutex> lock(mutex);
            latencies_ms.insert(latencies_ms.end(), mine.begin(), mine.end());
        });
    }
    for (auto& thread : threads) thread.join();
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double median = percentile(latencies_ms, 0.5), p99 = percentile(latencies_ms, 0.99);
    std::fprintf(stderr,
                 "POST /api/search (%zu-byte photo, k %s), %d clients for %.0f s: %zu answers, %lld errors; "
                 "median %.1f ms, p99 %.1f ms; %.1f requests/s\n",
                 photo.size(), k.c_str(), clients, elapsed, latencies_ms.size(), static_cast<long long>(errors.load()), median, p99,
                 double(latencies_ms.size()) / elapsed);
    if (!first_error.empty()) std::fprintf(stderr, "first error: %s\n", first_error.c_str());
    if (json)
        std::printf("%s\n", nlohmann::json{{"clients", clients},
                                           {"seconds", elapsed},
                                           {"photo_bytes", photo.size()},
                                           {"answers", latencies_ms.size()},
                                           {"errors", errors.load()},
                                           {"median_ms", median},
                                           {"p99_ms", p99},
                                           {"requests_per_second", double(latencies_ms.size()) / elapsed}}
                                .dump(2)
                                .c_str());
    return errors > 0 ? 1 : 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "bench_serve: error: %s\n", e.what());
    return 1;
}
