// What `pupembed serve` answers, with no HTTP in it: a gallery and its model, the inference queue
// every forward pass goes through, thumbnails and the gallery's map. Each question takes decoded
// arguments and gives the JSON the API returns; bad input is an Error of kind BadInput, unknown
// ids NotFound, turned-off features Forbidden, a lack of memory Busy (routes.cpp maps them to
// HTTP statuses). Thread-safe: the routes call it from many request threads at once.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "pupembed/gallery/gallery.hpp"
#include "pupembed/gallery/ingest.hpp"
#include "pupembed/gallery/queries.hpp"
#include "pupembed/gallery/search.hpp"
#include "pupembed/model/model.hpp"
#include "pupembed/serve/server.hpp"
#include "serve/slots.hpp"
#include "serve/thumbnail.hpp"
#include "serve/upload.hpp"

namespace pupembed {

class InferenceQueue;

/// A photo as a request names it: an upload, or a gallery id ("#12" or 12).
struct PhotoArgument {
    std::optional<Upload> upload;
    int64_t id = -1;
    std::string text;  ///< the id as the request wrote it
};

class GalleryService {
public:
    /// Opens the gallery and loads the model, checking the gallery was built with it. Throws
    /// Error naming the file.
    explicit GalleryService(const ServerOptions& options);
    ~GalleryService();
    GalleryService(const GalleryService&) = delete;
    GalleryService& operator=(const GalleryService&) = delete;

    /// {"status": "ok", "images": N}
    nlohmann::json health();
    /// The gallery, the model and the service's counters (inference batches, thumbnails).
    nlohmann::json stats();

    /// A page of the gallery for browsing: {"total", "offset", "limit", "order", "images"}, each
    /// image's row with its thumbnail link.
    nlohmann::json browse(int64_t offset, int limit, ImageOrder order);
    /// Image `id`'s row, with the links to its thumbnail and file.
    nlohmann::json image(int64_t id);
    /// A JPEG of image `id` at most thumbnail_size on its longer side (made once, then cached).
    std::shared_ptr<const std::string> thumbnail(int64_t id);
    /// The bytes of image `id`'s file and their MIME type.
    std::pair<std::string, std::string> file(int64_t id);
    /// The gallery's 2-D map as JSON text, computed once per gallery generation on another thread.
    std::shared_future<std::string> map(bool umap);

    /// An upload's embedding, size and five most probable breeds.
    nlohmann::json embed(const Upload& upload);
    /// The `k` gallery images nearest to `photo` (itself left out when it is a gallery image).
    nlohmann::json search(const PhotoArgument& photo, int k);
    /// Two photos' cosine similarity and distance.
    nlohmann::json similar(const PhotoArgument& a, const PhotoArgument& b);
    /// Puppy algebra: `expression` over gallery ids and the uploads `upload_named` finds by name.
    nlohmann::json algebra(const std::string& expression, const std::function<std::optional<Upload>(const std::string&)>& upload_named,
                           int k);
    /// Adds an upload to the gallery (Forbidden unless allow_upload_to_gallery); `created` says
    /// whether it is new. The file is kept in the upload folder under its content's hash.
    nlohmann::json add_image(const Upload& upload, bool& created);
    /// Throws the Forbidden Error add_image gives when adding is off.
    void require_adding_allowed() const;

    const ServerOptions& options() const { return options_; }

private:
    Image decode_upload(const Upload& upload);
    /// `photo` as the library's PhotoInput; an upload is decoded into `decoded`, which must
    /// outlive the input.
    PhotoInput photo_input(const PhotoArgument& photo, std::deque<Image>& decoded);
    /// Prints the gallery's warnings (an index file it could not save) on stderr.
    void print_warnings();
    GalleryImage image_or_404(int64_t id);
    nlohmann::json results_json(const std::vector<Neighbour>& neighbours);
    std::string make_map(bool umap);

    const ServerOptions options_;
    std::string upload_folder_;
    Model model_;
    GalleryModel identity_;
    Gallery gallery_;  ///< safe to share between request threads
    std::mutex adding_mutex_;  ///< one add_image at a time
    std::unique_ptr<InferenceQueue> inference_;
    ThumbnailCache thumbnails_;
    Slots decoding_;  ///< uploads and thumbnails decoded at once
    std::mutex breed_count_mutex_;
    int64_t breed_count_ = 0, breed_count_generation_ = -1;  ///< distinct breed guesses (under breed_count_mutex_)
    std::mutex map_mutex_;
    struct CachedMap {
        int64_t generation = -1;
        std::shared_future<std::string> body;
    } maps_[2];  ///< [0] PCA, [1] UMAP-style; kept until the gallery changes
};

}  // namespace pupembed
