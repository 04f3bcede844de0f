#include "serve/thumbnail.hpp"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <vector>

#include "pupembed/core/error.hpp"

namespace pupembed {

std::string encode_thumbnail(const Image& image, int max_side, int quality) {
    if (image.width < 1 || image.height < 1) throw Error("cannot make a thumbnail of an empty image");
    cv::Mat rgb(image.height, image.width, CV_8UC3, const_cast<uint8_t*>(image.rgb.data()));
    cv::Mat bgr;
    cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
    const double scale = double(max_side) / double(std::max(image.width, image.height));
    if (scale < 1) {
        cv::Mat small;
        const cv::Size size(std::max(1, int(image.width * scale + 0.5)), std::max(1, int(image.height * scale + 0.5)));
        cv::resize(bgr, small, size, 0, 0, cv::INTER_AREA);
        bgr = small;
    }
    std::vector<uint8_t> bytes;
    if (!cv::imencode(".jpg", bgr, bytes, {cv::IMWRITE_JPEG_QUALITY, quality}))
        throw Error("cannot encode a JPEG thumbnail");
    return std::string(bytes.begin(), bytes.end());
}

std::shared_ptr<const std::string> ThumbnailCache::find(const std::string& key) {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = entries_.find(key);
    if (it == entries_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second);
    return it->second->second;
}

void ThumbnailCache::put(const std::string& key, std::shared_ptr<const std::string> bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (entries_.count(key) || int64_t(bytes->size()) > max_bytes_) return;
    bytes_ += int64_t(bytes->size());
    order_.emplace_front(key, std::move(bytes));
    entries_[key] = order_.begin();
    while (bytes_ > max_bytes_) {
        bytes_ -= int64_t(order_.back().second->size());
        entries_.erase(order_.back().first);
        order_.pop_back();
    }
}

int64_t ThumbnailCache::bytes() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return bytes_;
}

int64_t ThumbnailCache::entries() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return int64_t(entries_.size());
}

}  // namespace pupembed
