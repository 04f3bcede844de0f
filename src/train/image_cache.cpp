#include "train/image_cache.hpp"

#include <ATen/Parallel.h>
#include <torch/torch.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "model/tensor_archive.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/io/file_io.hpp"

namespace fs = std::filesystem;

namespace pupembed {
namespace {

const char kCacheMagic[] = "PUPCACHE";
constexpr uint32_t kCacheVersion = 1;

/// FNV-1a, 64 bits.
class Hash64 {
public:
    void add(const void* data, size_t size) {
        const auto* bytes = static_cast<const unsigned char*>(data);
        for (size_t i = 0; i < size; ++i) value_ = (value_ ^ bytes[i]) * 0x100000001b3ULL;
    }
    void add(const std::string& text) {
        add(text.data(), text.size());
        add("\0", 1);
    }
    void add(uint64_t number) { add(&number, sizeof(number)); }
    std::string hex() const {
        char text[17];
        std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(value_));
        return text;
    }

private:
    uint64_t value_ = 0xcbf29ce484222325ULL;
};

/// A key naming the cache: every image's path, label and content CRC, the size, and how JPEGs
/// larger than that size were decoded (reduced scale or in full).
std::string cache_key(const Dataset& dataset, int size, bool full_decode) {
    Hash64 hash;
    hash.add(uint64_t{kCacheVersion});
    hash.add(uint64_t(size));
    hash.add(std::string(full_decode ? "full decode" : "reduced decode"));
    for (const Sample& sample : dataset.samples) {
        hash.add(sample.path);
        hash.add(dataset.class_names.at(sample.label));
        std::string bytes;
        try {
            bytes = read_file(sample.path);
        } catch (const Error&) {
            bytes = "<unreadable>";  // decoding will report it
        }
        hash.add(uint64_t(crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(bytes.data()), uInt(bytes.size()))));
        hash.add(uint64_t(bytes.size()));
    }
    return hash.hex();
}

CachedImages build(const Dataset& dataset, const ImageCacheOptions& options) {
    const int64_t count = int64_t(dataset.samples.size());
    const int64_t size = options.size;
    torch::Tensor pixels = torch::empty({count, size, size, 3}, torch::kUInt8);
    std::vector<std::string> failures(static_cast<size_t>(count));
    constexpr int64_t kChunk = 256;
    for (int64_t begin = 0; begin < count; begin += kChunk) {
        const int64_t end = std::min(count, begin + kChunk);
        at::parallel_for(begin, end, 8, [&](int64_t first, int64_t last) {
            for (int64_t i = first; i < last; ++i) {
                try {
                    const Image image = center_crop(
                        resize_shorter_side(load_image(dataset.samples[size_t(i)].path, options.load, options.size), options.size),
                        options.size);
                    std::memcpy(pixels[i].data_ptr(), image.rgb.data(), image.rgb.size());
                } catch (const std::exception& e) {
                    failures[size_t(i)] = e.what();
                }
            }
        });
        if (options.on_progress) options.on_progress(end, count);
    }
    CachedImages cached;
    std::vector<int64_t> keep, labels;
    for (int64_t i = 0; i < count; ++i) {
        if (failures[size_t(i)].empty()) {
            keep.push_back(i);
            labels.push_back(dataset.samples[size_t(i)].label);
        } else {
            cached.skipped.push_back(failures[size_t(i)]);
        }
    }
    if (keep.empty()) throw Error("none of the " + std::to_string(count) + " images could be read");
    cached.pixels = int64_t(keep.size()) == count ? pixels : pixels.index_select(0, torch::tensor(keep));
    cached.labels = torch::tensor(labels, torch::kInt64);
    return cached;
}

}  // namespace

std::string default_cache_dir() {
    if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return (fs::path(xdg) / "pupembed").string();
    if (const char* home = std::getenv("HOME"); home && *home) return (fs::path(home) / ".cache" / "pupembed").string();
    return (fs::temp_directory_path() / "pupembed-cache").string();
}

CachedImages load_image_cache(const Dataset& dataset, const ImageCacheOptions& options) {
    if (options.size < 16 || options.size > 1024)
        throw Error("cache image size", "must be 16 to 1024 pixels, got " + std::to_string(options.size));
    if (dataset.samples.empty()) throw Error("no images to cache");
    const std::string dir = options.dir.empty() ? default_cache_dir() : options.dir;
    const std::string key = cache_key(dataset, options.size, options.load.full_decode);
    const std::string file = (fs::path(dir) / ("images-" + key + "-" + std::to_string(options.size) + ".cache")).string();

    CachedImages cached;
    std::error_code error;
    if (fs::exists(file, error)) {
        TensorArchive archive = read_tensor_archive(file, kCacheMagic, kCacheVersion, "pupembed image cache");
        if (archive.meta.value("key", "") != key || !archive.tensors.count("pixels") || !archive.tensors.count("labels"))
            throw Error(file, "image cache does not match its name; delete it to rebuild it");
        cached.pixels = archive.tensors.at("pixels");
        cached.labels = archive.tensors.at("labels");
        cached.skipped = archive.meta.value("skipped", std::vector<std::string>{});
        cached.reused = true;
    } else {
        cached = build(dataset, options);
        fs::create_directories(dir, error);
        if (error) throw Error(dir, "cannot create cache folder: " + error.message());
        write_tensor_archive(file, kCacheMagic, kCacheVersion,
                             {{"key", key}, {"size", options.size}, {"images", dataset.samples.size()}, {"skipped", cached.skipped}},
                             {{"pixels", cached.pixels}, {"labels", cached.labels}});
    }
    cached.file = file;
    if (options.strict && !cached.skipped.empty())
        throw Error(cached.skipped.front() + " (and " + std::to_string(cached.skipped.size() - 1) +
                    " more unreadable images; without --strict they are skipped)");
    return cached;
}

}  // namespace pupembed
