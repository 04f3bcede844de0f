// Small JPEG previews of gallery photos, made on demand and kept in a bounded cache.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "pupembed/io/image.hpp"

namespace pupembed {

/// The image shrunk so its longer side is at most `max_side` pixels, as JPEG bytes.
std::string encode_thumbnail(const Image& image, int max_side, int quality = 85);

/// A thread-safe least-recently-used cache of byte strings, bounded by their total size.
class ThumbnailCache {
public:
    explicit ThumbnailCache(int64_t max_bytes) : max_bytes_(max_bytes) {}
    std::shared_ptr<const std::string> find(const std::string& key);
    void put(const std::string& key, std::shared_ptr<const std::string> bytes);
    int64_t bytes() const;
    int64_t entries() const;

private:
    using Entry = std::pair<std::string, std::shared_ptr<const std::string>>;
    const int64_t max_bytes_;
    mutable std::mutex mutex_;
    std::list<Entry> order_;  ///< most recently used first
    std::unordered_map<std::string, std::list<Entry>::iterator> entries_;
    int64_t bytes_ = 0;
};

}  // namespace pupembed
