// Photos as people take them, for timing JPEG decoding at the scale the network needs against
// decoding every pixel (scripts/bench-large-photos.sh runs both):
//   build/bench/bench_large_photos make OUT [--from DIR] [--count 200] [--size 4032x3024]
//                                         [--large 8] [--large-size 8000x6000] [--noise 8]
//       OUT/4032x3024/: COUNT photos from DIR (default ../shared/data/imagewoof-320-dev, searched
//       recursively) cropped to the size's aspect, enlarged to that size and given sensor-like
//       noise (standard deviation NOISE grey levels; without it enlarged photos are smooth and
//       compress, and so decode, unlike a phone's), JPEG quality 90. Every 8th is stored sideways
//       with EXIF orientation 6, as a phone held upright writes it; every 16th is progressive.
//       Each photo goes in a folder named as its source's (the breed): `pupembed eval` scores them.
//       OUT/8000x6000/: LARGE photos made the same way at the large size.
//   build/bench/bench_large_photos compare A.npy B.npy
//       Cosine between matching rows of two `pupembed embed` outputs of the same photos (their
//       .tsv path lists must agree): minimum, median and mean, as JSON.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "photo_fixtures.hpp"
#include "pupembed/inference/embed.hpp"
#include "pupembed/io/file_io.hpp"
#include "pupembed/io/npy.hpp"

namespace fs = std::filesystem;

namespace {

/// The centre of `image` with the aspect ratio `width`:`height`.
cv::Mat crop_to_aspect(const cv::Mat& image, int width, int height) {
    const int cols = std::min(image.cols, int(int64_t(image.rows) * width / height));
    const int rows = std::min(image.rows, int(int64_t(cols) * height / width));
    return image(cv::Rect((image.cols - cols) / 2, (image.rows - rows) / 2, cols, rows));
}

/// Writes `count` photos of `width` x `height` made from `sources` into `folder`; returns their bytes.
int64_t make_photos(const std::vector<std::string>& sources, size_t first, int count, int width, int height, double noise,
                    const fs::path& folder) {
    fs::create_directories(folder);
    cv::RNG rng(1234);
    int64_t total = 0;
    for (int i = 0; i < count; ++i) {
        const std::string& source = sources[(first + size_t(i)) % sources.size()];
        const cv::Mat photo = cv::imread(source, cv::IMREAD_COLOR);
        if (photo.empty()) throw std::runtime_error(source + ": cannot read");
        // Every 8th a portrait, stored sideways as a phone writes it.
        const bool sideways = i % 8 == 7;
        const cv::Size upright = sideways ? cv::Size(height, width) : cv::Size(width, height);
        cv::Mat large;
        cv::resize(crop_to_aspect(photo, upright.width, upright.height), large, upright, 0, 0, cv::INTER_CUBIC);
        cv::Mat grain(large.size(), CV_16SC3), noisy;
        rng.fill(grain, cv::RNG::NORMAL, 0, noise);
        large.convertTo(noisy, CV_16SC3);
        noisy += grain;
        noisy.convertTo(large, CV_8UC3);  // saturates
        const std::string bytes =
            sideways ? pupembed::testing::sideways_jpeg(large, 90) : pupembed::testing::jpeg_bytes(large, 90, i % 16 == 15);
        // In a folder named as the source's (its breed), so that `pupembed eval` can score them.
        char name[64];
        std::snprintf(name, sizeof(name), "photo-%04d%s.jpg", i, sideways ? "-portrait" : "");
        const fs::path breed = folder / fs::path(source).parent_path().filename();
        fs::create_directories(breed);
        pupembed::write_file_atomically((breed / name).string(), bytes);
        total += int64_t(bytes.size());
        std::fprintf(stderr, "\r%s: %d/%d", folder.string().c_str(), i + 1, count);
    }
    std::fprintf(stderr, "\n");
    return total;
}

int make(int argc, char** argv) {
    if (argc < 3) throw std::runtime_error("usage: bench_large_photos make OUT [--from DIR] [--count 200] [--size WxH] [--large 8] [--large-size WxH] [--noise 8]");
    const fs::path out = argv[2];
    std::string from = std::string(PUPEMBED_SOURCE_DIR) + "/../shared/data/imagewoof-320-dev";
    std::string size = "4032x3024", large_size = "8000x6000";
    int count = 200, large = 8;
    double noise = 8;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--from") == 0) from = argv[i + 1];
        else if (std::strcmp(argv[i], "--count") == 0) count = std::stoi(argv[i + 1]);
        else if (std::strcmp(argv[i], "--size") == 0) size = argv[i + 1];
        else if (std::strcmp(argv[i], "--large") == 0) large = std::stoi(argv[i + 1]);
        else if (std::strcmp(argv[i], "--large-size") == 0) large_size = argv[i + 1];
        else if (std::strcmp(argv[i], "--noise") == 0) noise = std::stod(argv[i + 1]);
        else throw std::runtime_error(std::string("unknown option ") + argv[i]);
    }
    const auto dimensions = [](const std::string& text) {
        int width = 0, height = 0;
        if (std::sscanf(text.c_str(), "%dx%d", &width, &height) != 2 || width < 1 || height < 1)
            throw std::runtime_error("a size is WIDTHxHEIGHT, got " + text);
        return cv::Size(width, height);
    };
    const cv::Size main_size = dimensions(size), large_dimensions = dimensions(large_size);
    std::vector<std::string> sources = pupembed::collect_image_paths({from});
    if (sources.empty()) throw std::runtime_error(from + ": no photos");
    // Spread over the breeds (the folders are sorted by breed).
    std::vector<std::string> spread;
    const size_t step = std::max<size_t>(1, sources.size() / size_t(count + large));
    for (size_t i = 0; i < sources.size(); i += step) spread.push_back(sources[i]);
    nlohmann::json report = {{"folder", out.string()}};
    if (count > 0) {
        const int64_t bytes = make_photos(spread, 0, count, main_size.width, main_size.height, noise, out / size);
        report[size] = {{"photos", count}, {"mean_bytes", bytes / count}};
    }
    if (large > 0) {
        const int64_t bytes = make_photos(spread, size_t(count), large, large_dimensions.width, large_dimensions.height, noise,
                                          out / large_size);
        report[large_size] = {{"photos", large}, {"mean_bytes", bytes / large}};
    }
    std::printf("%s\n", report.dump().c_str());
    return 0;
}

std::vector<std::string> table_paths(const std::string& npy) {
    std::ifstream in(fs::path(npy).replace_extension(".tsv"));
    if (!in) throw std::runtime_error(npy + ": no .tsv beside it");
    std::vector<std::string> paths;
    for (std::string line; std::getline(in, line);)
        if (!line.empty() && line[0] != '#') paths.push_back(line);
    return paths;
}

int compare(int argc, char** argv) {
    if (argc != 4) throw std::runtime_error("usage: bench_large_photos compare A.npy B.npy");
    const pupembed::NpyArray a = pupembed::read_npy(argv[2]), b = pupembed::read_npy(argv[3]);
    if (a.shape != b.shape || a.shape.size() != 2) throw std::runtime_error("the two files differ in shape");
    if (table_paths(argv[2]) != table_paths(argv[3])) throw std::runtime_error("the two files list other photos");
    const int64_t rows = a.shape[0], columns = a.shape[1];
    std::vector<double> cosines;
    for (int64_t r = 0; r < rows; ++r) {
        const float* x = a.data.data() + r * columns;
        const float* y = b.data.data() + r * columns;
        double dot = 0, xx = 0, yy = 0;
        for (int64_t c = 0; c < columns; ++c) {
            dot += double(x[c]) * y[c];
            xx += double(x[c]) * x[c];
            yy += double(y[c]) * y[c];
        }
        cosines.push_back(dot / std::sqrt(xx * yy));
    }
    if (cosines.empty()) throw std::runtime_error("no rows");
    std::vector<double> sorted = cosines;
    std::sort(sorted.begin(), sorted.end());
    const double median = sorted.size() % 2 ? sorted[sorted.size() / 2]
                                            : (sorted[sorted.size() / 2 - 1] + sorted[sorted.size() / 2]) / 2;
    const double mean = std::accumulate(sorted.begin(), sorted.end(), 0.0) / double(sorted.size());
    std::printf("%s\n", nlohmann::json{{"photos", rows}, {"min", sorted.front()}, {"median", median}, {"mean", mean}}.dump().c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) try {
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "make") return make(argc, argv);
    if (mode == "compare") return compare(argc, argv);
    throw std::runtime_error("usage: bench_large_photos make OUT [...] | compare A.npy B.npy");
} catch (const std::exception& e) {
    std::fprintf(stderr, "bench_large_photos: %s\n", e.what());
    return 1;
}
