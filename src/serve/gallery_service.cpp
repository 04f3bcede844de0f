#include "serve/gallery_service.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "pupembed/gallery/search.hpp"
#include "pupembed/inference/embedding_map.hpp"
#include "inference/inference_queue.hpp"
#include "io/image_header.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/gallery/algebra.hpp"
#include "pupembed/gallery/query_json.hpp"
#include "pupembed/gallery/search.hpp"
#include "pupembed/io/file_io.hpp"
#include "pupembed/io/sha256.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace pupembed {
namespace {

/// What a photo file's header says it is: a MIME type and a file extension (the bytes must be a
/// readable image; anything else is "application/octet-stream" with no extension).
std::pair<std::string, std::string> image_type_of(const std::string& bytes) {
    try {
        switch (read_image_header(bytes, "").format) {
            case ImageFormat::Jpeg: return {"image/jpeg", ".jpg"};
            case ImageFormat::Png: return {"image/png", ".png"};
            case ImageFormat::Webp: return {"image/webp", ".webp"};
            case ImageFormat::Bmp: return {"image/bmp", ".bmp"};
        }
    } catch (const Error&) {
    }
    return {"application/octet-stream", ""};
}

std::string thumb_link(int64_t id) { return "/api/images/" + std::to_string(id) + "/thumb"; }

Gallery open_served_gallery(const ServerOptions& options) {
    if (options.model.empty()) throw Error("serve: no model file given");
    Gallery gallery = Gallery::open(options.gallery, false);
    if (gallery.model().id.empty() && !options.allow_upload_to_gallery)
        throw Error(options.gallery, "the gallery is empty; add photos with `pupembed index add PHOTOS --db " + options.gallery + "`");
    return gallery;
}

}  // namespace

GalleryService::GalleryService(const ServerOptions& options)
    : options_(options),
      upload_folder_(options.upload_folder.empty() ? options.gallery + ".uploads" : options.upload_folder),
      gallery_(open_served_gallery(options)),
      thumbnails_(options.thumbnail_cache_bytes),
      decoding_(options.decode_threads > 0 ? options.decode_threads : int(std::max(1u, std::thread::hardware_concurrency()))) {
    model_ = load_query_model(options.model, &gallery_);
    identity_ = gallery_model_of(options.model, model_);
    inference_ = std::make_unique<InferenceQueue>(model_, options.max_batch, options.load);
    // A large gallery's approximate index is read or built now rather than in the first search.
    if (const IndexKind kind = index_kind_for(gallery_, IndexChoice::Automatic); kind != IndexKind::Exact) gallery_.index(kind);
    map(true);  // start the map now: it takes a few seconds for a large gallery
}

GalleryService::~GalleryService() {
    // The maps' threads read the gallery: let them finish before it goes.
    for (auto& cached : maps_)
        if (cached.body.valid()) cached.body.wait();
}

json GalleryService::health() {
    return {{"status", "ok"}, {"images", gallery_.size()}};
}

json GalleryService::stats() {
    json out;
    {
        std::lock_guard<std::mutex> lock(breed_count_mutex_);
        const int64_t generation = gallery_.generation();
        if (generation != breed_count_generation_) {  // counted once per change of the gallery
            breed_count_ = 0;
            for (const auto& [breed, count] : gallery_.breed_counts()) breed_count_ += breed.empty() ? 0 : 1;
            breed_count_generation_ = generation;
        }
        const int64_t size = gallery_.size();
        out = {{"gallery", gallery_.path()},
               {"images", size},
               {"breeds", breed_count_},
               {"generation", generation},
               {"index", index_kind_name(index_kind_for(gallery_, IndexChoice::Automatic))}};
    }
    out["model"] = {{"path", options_.model},
                    {"id", identity_.id},
                    {"backbone", model_.info.backbone},
                    {"input_size", model_.info.preprocessing.input_size},
                    {"dimension", identity_.dimension},
                    {"classes", model_.info.class_names.size()}};
    out["server"] = {{"inference_batches", inference_->batches()},
                     {"inference_images", inference_->images()},
                     {"thumbnails_cached", thumbnails_.entries()},
                     {"thumbnail_cache_bytes", thumbnails_.bytes()},
                     {"uploads_to_gallery", options_.allow_upload_to_gallery}};
    return out;
}

GalleryImage GalleryService::image_or_404(int64_t id) {
    auto image = id >= 0 ? gallery_.find(id) : std::nullopt;
    if (!image) throw Error("no image with id " + std::to_string(id) + " in the gallery", ErrorKind::NotFound);
    return *image;
}

json GalleryService::browse(int64_t offset, int limit, ImageOrder order) {
    json images = json::array();
    for (const auto& image : gallery_.images(offset, limit, order)) {
        images.push_back(image_json(image));
        images.back()["thumb"] = thumb_link(image.id);
    }
    return {{"total", gallery_.size()},
            {"offset", offset},
            {"limit", limit},
            {"order", order == ImageOrder::Newest ? "newest" : "breed"},
            {"images", images}};
}

json GalleryService::image(int64_t id) {
    json out = image_json(image_or_404(id));
    out["thumb"] = thumb_link(id);
    out["file"] = "/api/images/" + std::to_string(id) + "/file";
    return out;
}

std::shared_ptr<const std::string> GalleryService::thumbnail(int64_t id) {
    const GalleryImage image = image_or_404(id);
    const std::string key = std::to_string(image.id) + ":" + image.content_hash;
    auto bytes = thumbnails_.find(key);
    if (bytes) return bytes;
    Image decoded;
    try {
        const Slots::Held slot(decoding_);
        decoded = load_image(image.path, options_.load, options_.thumbnail_size);
    } catch (const Error& e) {
        throw Error("the photo of image " + std::to_string(image.id) + " cannot be read", e.what(), ErrorKind::NotFound);
    }
    bytes = std::make_shared<const std::string>(encode_thumbnail(decoded, options_.thumbnail_size));
    thumbnails_.put(key, bytes);
    return bytes;
}

std::pair<std::string, std::string> GalleryService::file(int64_t id) {
    const GalleryImage image = image_or_404(id);
    std::string bytes;
    try {
        bytes = read_file(image.path);
    } catch (const Error& e) {
        throw Error("the photo of image " + std::to_string(image.id) + " cannot be read", e.what(), ErrorKind::NotFound);
    }
    std::string type = image_type_of(bytes).first;
    return {std::move(bytes), std::move(type)};
}

std::shared_future<std::string> GalleryService::map(bool umap) {
    const int64_t generation = gallery_.generation();
    std::lock_guard<std::mutex> lock(map_mutex_);
    CachedMap& cached = maps_[umap ? 1 : 0];
    if (cached.generation != generation || !cached.body.valid()) {
        cached.generation = generation;
        cached.body = std::async(std::launch::async, [this, umap] { return make_map(umap); }).share();
    }
    return cached.body;
}

namespace {
constexpr int64_t kMapPoints = 20000;
}  // namespace

std::string GalleryService::make_map(bool umap) {
    // The map shows at most kMapPoints photos: only those are read (a gallery of millions is never
    // held whole in memory), the same ones for the same gallery.
    std::vector<int64_t> ids;
    std::vector<float> values;
    std::vector<std::string> breed_of_row;
    const int64_t total = gallery_.size();
    gallery_.sample(kMapPoints, uint64_t(gallery_.generation()), ids, values, breed_of_row);
    std::map<int64_t, std::string> breeds;
    for (size_t i = 0; i < ids.size(); ++i) breeds[ids[i]] = breed_of_row[i];
    const auto start = std::chrono::steady_clock::now();
    const GalleryMap map = umap ? umap_layout(ids, values, kMapPoints) : project_on_principal_plane(ids, values, kMapPoints);
    json points = json::array();
    for (const auto& p : map.points) points.push_back({{"id", p.id}, {"x", p.x}, {"y", p.y}, {"breed", breeds[p.id]}});
    return json{{"method", umap ? "umap" : "pca"},
                {"total", std::max<int64_t>(total, map.total)},
                {"shown", map.points.size()},
                {"explained_variance", {map.explained[0], map.explained[1]}},
                {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()},
                {"points", points}}
        .dump(-1, ' ', false, json::error_handler_t::replace);
}

Image GalleryService::decode_upload(const Upload& upload) {
    if (upload.bytes->empty()) throw Error(upload.name, "the upload is empty", ErrorKind::BadInput);
    // A few at a time, so that many large uploads at once cannot take all the memory.
    const Slots::Held slot(decoding_);
    try {
        // At the scale the network needs (a 12-megapixel JPEG decodes at 1/8 of each side).
        return decode_image(*upload.bytes, upload.name, options_.load, decode_shorter_side(model_.info.preprocessing));
    } catch (const Error& e) {
        throw Error(e.what(), ErrorKind::BadInput);
    } catch (const std::bad_alloc&) {
        throw Error(upload.name, "not enough memory to decode it now; try again", ErrorKind::Busy);
    }
}

PhotoInput GalleryService::photo_input(const PhotoArgument& photo, std::deque<Image>& decoded) {
    if (photo.upload) {
        decoded.push_back(decode_upload(*photo.upload));
        return PhotoInput::decoded(photo.upload->name, decoded.back());
    }
    return PhotoInput::gallery_image(photo.id, photo.text);
}

void GalleryService::print_warnings() {
    for (const auto& warning : gallery_.take_warnings()) std::fprintf(stderr, "pupembed: warning: %s\n", warning.c_str());
}

json GalleryService::results_json(const std::vector<Neighbour>& neighbours) {
    json results = neighbours_json(neighbours);
    for (auto& item : results) item["thumb"] = thumb_link(item["id"].get<int64_t>());
    return results;
}

json GalleryService::embed(const Upload& upload) {
    const Image image = decode_upload(upload);
    EmbeddedPhoto embedded = inference_->embed_image(image);
    json top = json::array();
    for (const auto& score : top_classes(model_, embedded.probabilities, 5))
        top.push_back({{"breed", score.name}, {"probability", score.probability}});
    QueryPhoto photo;
    set_embedding(photo, std::move(embedded), model_);
    json out = {{"width", image.photo_width},
                {"height", image.photo_height},
                {"dimension", photo.vector.size()},
                {"vector", photo.vector},
                {"breed", photo.breed},
                {"breed_probability", photo.breed_probability},
                {"top", top}};
    set_text(out, "name", upload.name);
    return out;
}

json GalleryService::search(const PhotoArgument& argument, int k) {
    std::deque<Image> decoded;
    SearchParameters parameters;
    parameters.k = k;
    const PhotoSearch found = search_photos(gallery_, inference_.get(), {photo_input(argument, decoded)}, parameters);
    print_warnings();
    return {{"query", photo_json(found.queries.at(0))}, {"results", results_json(neighbours_of(gallery_, found.nearest, 0))}};
}

json GalleryService::similar(const PhotoArgument& a_argument, const PhotoArgument& b_argument) {
    std::deque<Image> decoded;
    const auto photos =
        resolve_photos(inference_.get(), {photo_input(a_argument, decoded), photo_input(b_argument, decoded)}, &gallery_);
    const float similarity = cosine_similarity(photos[0].vector, photos[1].vector);
    return {{"a", photo_json(photos[0])}, {"b", photo_json(photos[1])}, {"similarity", similarity}, {"distance", 1.0f - similarity}};
}

json GalleryService::algebra(const std::string& expression,
                             const std::function<std::optional<Upload>(const std::string&)>& upload_named, int k) {
    std::deque<Image> decoded;
    const AlgebraQuery query = algebra_query(expression, [&](const AlgebraTerm& term) {
        const auto upload = upload_named(term.operand);
        if (!upload)
            throw Error("column " + std::to_string(term.column) + ": \"" + term.operand +
                            "\" is neither a gallery id (#12) nor the name of an uploaded photo field",
                        ErrorKind::BadInput);
        PhotoArgument argument;
        argument.upload = Upload{upload->bytes, term.operand};
        return photo_input(argument, decoded);
    });
    SearchParameters parameters;
    parameters.k = k;
    const AlgebraSearch found = search_algebra(gallery_, inference_.get(), query, parameters);
    print_warnings();
    const json terms = algebra_terms_json(found.terms, found.weights);
    // "inputs": the name of "terms" before 0.9, kept for one release (README, HTTP API).
    return {{"expression", expression},
            {"terms", terms},
            {"inputs", terms},
            {"results", results_json(neighbours_of(gallery_, found.nearest, 0))}};
}

void GalleryService::require_adding_allowed() const {
    if (!options_.allow_upload_to_gallery)
        throw Error("adding photos to the gallery is off; start the server with --allow-upload-to-gallery",
                    ErrorKind::Forbidden);
}

json GalleryService::add_image(const Upload& upload, bool& created) {
    require_adding_allowed();
    decode_upload(upload);  // a photo that cannot be read is refused before it is stored
    // The file name comes from the content, never from the request.
    const std::string path =
        (fs::path(upload_folder_) / (sha256_hex(*upload.bytes).substr(0, 24) + image_type_of(*upload.bytes).second)).string();
    std::error_code error;
    fs::create_directories(upload_folder_, error);
    if (!fs::exists(path, error)) write_file_atomically(path, *upload.bytes);
    // One upload added at a time, so that `created` is true for one of two equal uploads; the
    // gallery keeps answering queries meanwhile.
    std::lock_guard<std::mutex> lock(adding_mutex_);
    created = !gallery_.find_path(path).has_value();
    IngestOptions ingest;
    ingest.skip_bad = false;
    for (const auto& warning : add_to_gallery(gallery_, *inference_, identity_, {path}, ingest).warnings)
        std::fprintf(stderr, "pupembed: warning: %s\n", warning.c_str());
    const auto image = gallery_.find_path(path);
    if (!image) throw Error(path, "was not added to the gallery");
    json out = image_json(*image);
    out["thumb"] = thumb_link(image->id);
    return out;
}

}  // namespace pupembed
