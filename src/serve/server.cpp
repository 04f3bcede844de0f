#include "pupembed/serve/server.hpp"

#include <c10/util/Exception.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <numeric>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "gallery/gallery_map.hpp"
#include "inference/inference_queue.hpp"
#include "io/image_header.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/core/version.hpp"
#include "pupembed/gallery/algebra.hpp"
#include "pupembed/gallery/gallery.hpp"
#include "pupembed/gallery/ingest.hpp"
#include "pupembed/gallery/queries.hpp"
#include "pupembed/gallery/query_json.hpp"
#include "pupembed/io/file_io.hpp"
#include "pupembed/model/model.hpp"
#include "serve/http_transport.hpp"
#include "serve/request_fields.hpp"
#include "serve/thumbnail.hpp"
#include "serve/web_assets.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace pupembed {

namespace {

void send_json(httplib::Response& res, const json& body, int status = 200) {
    res.status = status;
    res.set_content(to_json_text(body), "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message) {
    send_json(res, {{"error", message}, {"status", status}}, status);
}

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

}  // namespace

struct Server::State {
    ServerOptions options;
    std::string upload_folder;
    Model model;
    GalleryModel identity;
    std::mutex gallery_mutex;  ///< one SQLite connection: one request at a time uses it
    Gallery gallery;
    std::unique_ptr<InferenceQueue> inference;
    ThumbnailCache thumbnails;
    Slots decoding;  ///< decodes at once
    GuardedHttpServer http;
    int port = 0;
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
    std::atomic<int64_t> requests{0};
    int64_t breed_count = 0, breed_count_generation = -1;  ///< distinct breed guesses (under gallery_mutex)
    std::mutex map_mutex;
    struct CachedMap {
        int64_t generation = -1;
        std::shared_future<std::string> body;
    } maps[2];  ///< [0] PCA, [1] UMAP-style; made on another thread, kept until the gallery changes

    /// The map's JSON for the gallery as it is now, computed once per gallery generation.
    std::shared_future<std::string> map_body(bool umap) {
        int64_t generation = 0;
        {
            std::lock_guard<std::mutex> lock(gallery_mutex);
            generation = gallery.generation();
        }
        std::lock_guard<std::mutex> lock(map_mutex);
        CachedMap& cached = maps[umap ? 1 : 0];
        if (cached.generation != generation || !cached.body.valid()) {
            cached.generation = generation;
            cached.body = std::async(std::launch::async, [this, umap] { return make_map(umap); }).share();
        }
        return cached.body;
    }

    std::string make_map(bool umap) {
        std::vector<int64_t> ids;
        std::vector<float> values;
        std::map<int64_t, std::string> breeds;
        {
            std::lock_guard<std::mutex> lock(gallery_mutex);
            gallery.vectors(ids, values);
            for (const auto& image : gallery.images()) breeds[image.id] = image.breed;
        }
        const auto start = std::chrono::steady_clock::now();
        const GalleryMap map = umap ? umap_layout(ids, values, 20000) : project_on_principal_plane(ids, values, 20000);
        json points = json::array();
        for (const auto& p : map.points) points.push_back({{"id", p.id}, {"x", p.x}, {"y", p.y}, {"breed", breeds[p.id]}});
        return json{{"method", umap ? "umap" : "pca"},
                    {"total", map.total},
                    {"shown", map.points.size()},
                    {"explained_variance", {map.explained[0], map.explained[1]}},
                    {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()},
                    {"points", points}}
            .dump(-1, ' ', false, json::error_handler_t::replace);
    }

    State(const ServerOptions& o, Gallery opened)
        : options(o),
          gallery(std::move(opened)),
          thumbnails(o.thumbnail_cache_bytes),
          decoding(o.decode_threads > 0 ? o.decode_threads : int(std::max(1u, std::thread::hardware_concurrency()))) {}

    /// An upload decoded (400 when it is not a readable photo); a few at a time, so that many
    /// large uploads at once cannot take all the memory.
    Image decode_upload(const std::string& bytes, const std::string& name) {
        const Slots::Held slot(decoding);
        try {
            // At the scale the network needs (a 12-megapixel JPEG decodes at 1/8 of each side).
            return decode_image(bytes, name, options.load, model.info.preprocessing.resize_shorter);
        } catch (const Error& e) {
            fail(400, e.what());
        } catch (const std::bad_alloc&) {
            fail(503, name + ": not enough memory to decode it now; try again");
        }
    }

    /// An upload decoded (400 when it is not a readable photo) and embedded.
    QueryPhoto photo_from_upload(const std::string& bytes, const std::string& name, std::vector<float>* probabilities = nullptr,
                                 Image* decoded = nullptr) {
        if (bytes.empty()) fail(400, name + ": the upload is empty");
        Image image = decode_upload(bytes, name);
        DecodedEmbedding embedded = inference->embed(image);
        QueryPhoto photo;
        photo.text = name;
        photo.vector = std::move(embedded.vector);
        if (!embedded.probabilities.empty()) {
            const auto best = std::max_element(embedded.probabilities.begin(), embedded.probabilities.end());
            photo.breed = model.info.class_names.at(size_t(best - embedded.probabilities.begin()));
            photo.breed_probability = *best;
        }
        if (probabilities) *probabilities = std::move(embedded.probabilities);
        if (decoded) *decoded = std::move(image);
        return photo;
    }

    /// A gallery image as a query photo (404 for an unknown id). Caller holds gallery_mutex.
    QueryPhoto photo_from_gallery(int64_t id, const std::string& text) {
        auto photo = gallery_photo(gallery, id, text);
        if (!photo) fail(404, text + ": no image with id " + std::to_string(id) + " in the gallery");
        return std::move(*photo);
    }

    /// Field `name` as a photo: an uploaded file, or a gallery id.
    QueryPhoto photo_field(const RequestFields& fields, const std::string& name, bool raw_fallback) {
        if (const auto upload = fields.upload(name, raw_fallback)) return photo_from_upload(*upload->bytes, upload->name);
        const auto text = fields.text(name);
        if (!text) fail(400, "missing \"" + name + "\": send a photo file in a multipart field of that name, or a gallery id");
        const int64_t id = gallery_id_of(*text, name);
        std::lock_guard<std::mutex> lock(gallery_mutex);
        return photo_from_gallery(id, *text);
    }

    json results_json(const std::vector<Neighbour>& neighbours) {
        json results = neighbours_json(neighbours);
        for (auto& item : results) item["thumb"] = "/api/images/" + std::to_string(item["id"].get<int64_t>()) + "/thumb";
        return results;
    }

    std::vector<Neighbour> nearest(const std::vector<float>& vector, int k, const std::vector<int64_t>& exclude) {
        std::lock_guard<std::mutex> lock(gallery_mutex);
        auto found = search_gallery(gallery, vector, k, exclude);
        for (const auto& warning : gallery.take_warnings()) std::fprintf(stderr, "pupembed: warning: %s\n", warning.c_str());
        return found;
    }

    GalleryImage image_or_404(const std::string& id_text) {
        int64_t id = -1;
        try {
            id = std::stoll(id_text);
        } catch (const std::exception&) {
        }
        std::lock_guard<std::mutex> lock(gallery_mutex);
        auto image = id >= 0 ? gallery.find(id) : std::nullopt;
        if (!image) fail(404, "no image with id " + id_text + " in the gallery");
        return *image;
    }

    void routes();
};

namespace {

/// Wraps a handler: RequestFailure gives its status, anything else thrown is the server's fault (500).
httplib::Server::Handler guarded(std::function<void(const httplib::Request&, httplib::Response&)> handler,
                                 std::atomic<int64_t>& requests) {
    return [handler = std::move(handler), &requests](const httplib::Request& req, httplib::Response& res) {
        end_receiving_request();
        ++requests;
        try {
            handler(req, res);
        } catch (const RequestFailure& failure) {
            send_error(res, failure.status, failure.message);
        } catch (const c10::Error& e) {
            send_error(res, 500, std::string("internal error: ") + e.what_without_backtrace());
        } catch (const std::exception& e) {
            send_error(res, 500, std::string("internal error: ") + e.what());
        }
    };
}

}  // namespace

void Server::State::routes() {
    auto& s = *this;
    auto get = [&](const std::string& pattern, std::function<void(const httplib::Request&, httplib::Response&)> handler) {
        http.Get(pattern, guarded(std::move(handler), requests));
    };
    auto post = [&](const std::string& pattern, std::function<void(const httplib::Request&, httplib::Response&)> handler) {
        http.Post(pattern, guarded(std::move(handler), requests));
    };

    get("/healthz", [&s](const httplib::Request&, httplib::Response& res) {
        std::lock_guard<std::mutex> lock(s.gallery_mutex);
        send_json(res, {{"status", "ok"}, {"images", s.gallery.size()}});
    });
    get("/api/version", [](const httplib::Request&, httplib::Response& res) {
        send_json(res, {{"pupembed", version()}, {"api", 1}});
    });
    get("/api/stats", [&s](const httplib::Request&, httplib::Response& res) {
        json out;
        {
            std::lock_guard<std::mutex> lock(s.gallery_mutex);
            const int64_t generation = s.gallery.generation();
            if (generation != s.breed_count_generation) {  // counted once per change of the gallery
                std::set<std::string> breeds;
                for (const auto& image : s.gallery.images())
                    if (!image.breed.empty()) breeds.insert(image.breed);
                s.breed_count = int64_t(breeds.size());
                s.breed_count_generation = generation;
            }
            const int64_t size = s.gallery.size();
            out = {{"gallery", s.gallery.path()},
                   {"images", size},
                   {"breeds", s.breed_count},
                   {"generation", generation},
                   {"index", size >= kApproximateSearchFrom ? "hnsw" : "exact"}};
        }
        out["model"] = {{"path", s.options.model},
                        {"id", s.identity.id},
                        {"backbone", s.model.info.backbone},
                        {"input_size", s.model.info.preprocessing.input_size},
                        {"dimension", s.identity.dimension},
                        {"classes", s.model.info.class_names.size()}};
        out["server"] = {{"uptime_seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - s.started).count()},
                         {"requests", s.requests.load()},
                         {"inference_batches", s.inference->batches()},
                         {"inference_images", s.inference->images()},
                         {"thumbnails_cached", s.thumbnails.entries()},
                         {"refused_connections", s.http.refused_connections()},
                         {"thumbnail_cache_bytes", s.thumbnails.bytes()},
                         {"uploads_to_gallery", s.options.allow_upload_to_gallery}};
        send_json(res, out);
    });

    get(R"(/api/images/(\d{1,18}))", [&s](const httplib::Request& req, httplib::Response& res) {
        json out = image_json(s.image_or_404(req.matches[1]));
        out["thumb"] = "/api/images/" + std::string(req.matches[1]) + "/thumb";
        out["file"] = "/api/images/" + std::string(req.matches[1]) + "/file";
        send_json(res, out);
    });
    get(R"(/api/images/(\d{1,18})/thumb)", [&s](const httplib::Request& req, httplib::Response& res) {
        const GalleryImage image = s.image_or_404(req.matches[1]);
        const std::string key = std::to_string(image.id) + ":" + image.content_hash;
        auto bytes = s.thumbnails.find(key);
        if (!bytes) {
            Image decoded;
            try {
                const Slots::Held slot(s.decoding);
                decoded = load_image(image.path, s.options.load, s.options.thumbnail_size);
            } catch (const Error& e) {
                fail(404, "the photo of image " + std::to_string(image.id) + " cannot be read: " + e.what());
            }
            bytes = std::make_shared<const std::string>(encode_thumbnail(decoded, s.options.thumbnail_size));
            s.thumbnails.put(key, bytes);
        }
        res.set_header("Cache-Control", "max-age=3600");
        res.set_content(*bytes, "image/jpeg");
    });
    get(R"(/api/images/(\d{1,18})/file)", [&s](const httplib::Request& req, httplib::Response& res) {
        const GalleryImage image = s.image_or_404(req.matches[1]);
        std::string bytes;
        try {
            bytes = read_file(image.path);
        } catch (const Error& e) {
            fail(404, "the photo of image " + std::to_string(image.id) + " cannot be read: " + e.what());
        }
        res.set_content(bytes, image_type_of(bytes).first);
    });
    get("/api/map", [&s](const httplib::Request& req, httplib::Response& res) {
        const std::string method = req.has_param("method") ? req.get_param_value("method") : "umap";
        if (method != "umap" && method != "pca") fail(400, "method: umap or pca, got \"" + method + "\"");
        res.set_content(s.map_body(method == "umap").get(), "application/json");
    });

    post("/api/embed", [&s](const httplib::Request& req, httplib::Response& res) {
        const RequestFields fields(req);
        const auto upload = fields.upload("image", true);
        if (!upload) fail(400, "send a photo: a multipart file field \"image\", or the image as the request body");
        std::vector<float> probabilities;
        Image image;
        const QueryPhoto photo = s.photo_from_upload(*upload->bytes, upload->name, &probabilities, &image);
        json top = json::array();
        std::vector<size_t> order(probabilities.size());
        std::iota(order.begin(), order.end(), 0);
        const size_t shown = std::min<size_t>(5, order.size());
        std::partial_sort(order.begin(), order.begin() + long(shown), order.end(),
                          [&](size_t a, size_t b) { return probabilities[a] > probabilities[b]; });
        for (size_t i = 0; i < shown; ++i)
            top.push_back({{"breed", s.model.info.class_names[order[i]]}, {"probability", probabilities[order[i]]}});
        json out = {{"width", image.photo_width},
                    {"height", image.photo_height},
                    {"dimension", photo.vector.size()},
                    {"vector", photo.vector},
                    {"breed", photo.breed},
                    {"breed_probability", photo.breed_probability},
                    {"top", top}};
        set_text(out, "name", upload->name);
        send_json(res, out);
    });
    post("/api/search", [&s](const httplib::Request& req, httplib::Response& res) {
        const RequestFields fields(req);
        const int k = fields.integer("k", 10, 1, 1000);
        const bool by_upload = fields.upload("image", true) || fields.text("image");
        if (!by_upload && !fields.text("id"))
            fail(400, "missing photo: send a file in the multipart field \"image\" (or the image as the body), "
                      "or a gallery id in \"id\"");
        const QueryPhoto photo = by_upload ? s.photo_field(fields, "image", true) : s.photo_field(fields, "id", false);
        std::vector<int64_t> exclude;
        if (photo.gallery_id >= 0) exclude.push_back(photo.gallery_id);
        send_json(res, {{"query", photo_json(photo)}, {"results", s.results_json(s.nearest(photo.vector, k, exclude))}});
    });
    post("/api/similar", [&s](const httplib::Request& req, httplib::Response& res) {
        const RequestFields fields(req);
        const QueryPhoto a = s.photo_field(fields, "a", false);
        const QueryPhoto b = s.photo_field(fields, "b", false);
        const float similarity = cosine_similarity(a.vector, b.vector);
        send_json(res, {{"a", photo_json(a)}, {"b", photo_json(b)}, {"similarity", similarity}, {"distance", 1.0f - similarity}});
    });
    post("/api/algebra", [&s](const httplib::Request& req, httplib::Response& res) {
        const RequestFields fields(req);
        const auto expression = fields.text("expression");
        if (!expression) fail(400, "missing \"expression\", e.g. \"#12 + #40 - #7\"");
        const int k = fields.integer("k", 5, 1, 1000);
        std::vector<AlgebraTerm> terms;
        try {
            terms = parse_algebra(*expression);
        } catch (const Error& e) {
            fail(400, e.what());
        }
        std::vector<QueryPhoto> photos;
        std::vector<double> weights;
        std::vector<int64_t> exclude;
        for (const auto& term : terms) {
            long long id = 0;
            if (parse_gallery_id(term.operand, id)) {
                std::lock_guard<std::mutex> lock(s.gallery_mutex);
                photos.push_back(s.photo_from_gallery(id, term.operand));
                exclude.push_back(id);
            } else if (const auto upload = fields.upload(term.operand, false)) {
                photos.push_back(s.photo_from_upload(*upload->bytes, term.operand));
            } else {
                fail(400, "column " + std::to_string(term.column) + ": \"" + term.operand +
                              "\" is neither a gallery id (#12) nor the name of an uploaded photo field");
            }
            weights.push_back(term.weight);
        }
        std::vector<float> combined;
        try {
            combined = combine(photos, weights);
        } catch (const Error& e) {
            fail(400, e.what());
        }
        json inputs = json::array();
        for (size_t i = 0; i < photos.size(); ++i) {
            json item = photo_json(photos[i]);
            item["weight"] = weights[i];
            inputs.push_back(item);
        }
        send_json(res, {{"expression", *expression}, {"inputs", inputs}, {"results", s.results_json(s.nearest(combined, k, exclude))}});
    });
    post("/api/images", [&s](const httplib::Request& req, httplib::Response& res) {
        if (!s.options.allow_upload_to_gallery)
            fail(403, "adding photos to the gallery is off; start the server with --allow-upload-to-gallery");
        const RequestFields fields(req);
        const auto upload = fields.upload("image", true);
        if (!upload) fail(400, "send a photo: a multipart file field \"image\", or the image as the request body");
        s.decode_upload(*upload->bytes, upload->name);
        // The file name comes from the content, never from the request.
        const std::string path =
            (fs::path(s.upload_folder) / (sha256_hex(*upload->bytes).substr(0, 24) + image_type_of(*upload->bytes).second)).string();
        std::error_code error;
        fs::create_directories(s.upload_folder, error);
        if (!fs::exists(path, error)) write_file_atomically(path, *upload->bytes);
        std::lock_guard<std::mutex> lock(s.gallery_mutex);
        const bool known = s.gallery.find_path(path).has_value();
        IndexingOptions indexing;
        indexing.skip_bad = false;
        add_to_gallery(s.gallery, s.model, s.identity, {path}, indexing);
        const auto image = s.gallery.find_path(path);
        if (!image) throw Error(path, "was not added to the gallery");
        json out = image_json(*image);
        out["thumb"] = "/api/images/" + std::to_string(image->id) + "/thumb";
        send_json(res, out, known ? 200 : 201);
    });

    // The web page, from files built into the binary.
    get(R"(/|/([a-z0-9_-]{1,40}\.(?:html|js|css|svg)))", [](const httplib::Request& req, httplib::Response& res) {
        const std::string name = req.matches.size() > 1 && req.matches[1].matched ? std::string(req.matches[1]) : "index.html";
        const WebAsset* asset = find_web_asset(name);
        if (!asset) fail(404, "no such page: " + req.path);
        res.set_content(reinterpret_cast<const char*>(asset->data), asset->size, asset->content_type);
    });

    // Decided from the headers, before any of the body is read: a body over the limit, or one
    // of unknown length (chunked, which httplib would read without a limit), is refused.
    const int64_t limit = options.max_upload_bytes;
    const int64_t upload_rate = std::max<int64_t>(1, options.min_upload_bytes_per_second);
    http.set_pre_routing_handler([limit, upload_rate](const httplib::Request& req, httplib::Response& res) {
        const auto [status, message] = refusal_from_headers(req, limit);
        if (status != 0) {
            send_error(res, status, message);  // the connection then closes (see set_keep_alive_max_count)
            return httplib::Server::HandlerResponse::Handled;
        }
        // The body may take one more second per `upload_rate` bytes it declares.
        const std::string length = req.get_header_value("Content-Length");
        if (!length.empty()) extend_request_deadline(std::chrono::seconds(int64_t(std::stoull(length)) / upload_rate + 1));
        return httplib::Server::HandlerResponse::Unhandled;
    });

    http.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return;  // a handler's own JSON error
        std::string message = "HTTP status " + std::to_string(res.status);
        if (res.status == 400) message = "bad request";
        if (res.status == 404) message = "no such route: " + req.method + " " + req.path;
        if (res.status == 413) message = "the request is too large (the limit is set by --max-upload-mb)";
        send_error(res, res.status, message);
    });
}

Server::Server(const ServerOptions& options) {
    if (options.model.empty()) throw Error("serve: no model file given");
    Gallery gallery = Gallery::open(options.gallery, false);
    if (gallery.model().id.empty() && !options.allow_upload_to_gallery)
        throw Error(options.gallery, "the gallery is empty; add photos with `pupembed index add PHOTOS --db " + options.gallery + "`");
    state_ = std::make_unique<State>(options, std::move(gallery));
    State& s = *state_;
    s.model = load_query_model(options.model, &s.gallery);
    s.identity = gallery_model_of(options.model, s.model);
    s.upload_folder = options.upload_folder.empty() ? options.gallery + ".uploads" : options.upload_folder;
    s.inference = std::make_unique<InferenceQueue>(s.model, options.max_batch);
    s.http.new_task_queue = [workers = options.workers] {
        return new BoundedThreadPool(size_t(std::max(1, workers)), size_t(std::max(1, workers)) * 4);
    };
    s.http.set_payload_max_length(size_t(std::max<int64_t>(1, options.max_upload_bytes)));
    // One request per connection: a kept-alive connection would hold one of the bounded workers
    // while idle, and after an upload refused from its headers the unread body must not be
    // taken for the next request (httplib 0.11 keeps a connection open whatever the answer).
    s.http.set_keep_alive_max_count(1);
    s.http.configure(std::max(1, options.request_seconds), std::max(1, options.timeout_seconds),
                     std::max(1, options.max_connections_per_client));
    s.http.set_read_timeout(options.timeout_seconds, 0);
    s.http.set_write_timeout(options.timeout_seconds, 0);
    s.routes();
    // A large gallery's HNSW graph is read or built now rather than in the first search.
    if (s.gallery.size() >= kApproximateSearchFrom) s.gallery.index(IndexKind::Hnsw);
    s.map_body(true);  // start the map now: it takes a few seconds for a large gallery
    if (options.port == 0) {
        s.port = s.http.bind_to_any_port(options.host);
    } else {
        s.port = s.http.bind_to_port(options.host, options.port) ? options.port : -1;
    }
    if (s.port <= 0)
        throw Error(options.host + ":" + std::to_string(options.port), "cannot listen there (in use, or not an address of this machine)");
    s.http.widen_backlog();
}

Server::~Server() = default;

int Server::port() const { return state_->port; }

void Server::run() { state_->http.listen_after_bind(); }

void Server::stop() { state_->http.stop(); }

}  // namespace pupembed
