#include "serve/routes.hpp"

#include <chrono>
#include <functional>
#include <limits>
#include <string>

#include <nlohmann/json.hpp>

#include "pupembed/core/error.hpp"
#include "pupembed/core/version.hpp"
#include "pupembed/io/file_io.hpp"
#include "pupembed/gallery/query_json.hpp"
#include "serve/request_fields.hpp"
#include "serve/web_assets.hpp"

using nlohmann::json;

namespace pupembed {
namespace {

using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;

void send_json(httplib::Response& res, const json& body, int status = 200) {
    res.status = status;
    res.set_content(to_json_text(body), "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message) {
    send_json(res, {{"error", message}, {"status", status}}, status);
}

/// Why httplib refused a request as it read it (it says no more than 400): for a multipart body,
/// where it broke off, since httplib keeps the parts it had read.
std::string bad_request_reason(const httplib::Request& req) {
    const std::string type = req.get_header_value("Content-Type");
    if (type.rfind("multipart/form-data", 0) != 0) return "bad request (the request line or headers could not be read)";
    if (type.find("boundary=") == std::string::npos)
        return "bad multipart body: its Content-Type has no boundary (multipart/form-data; boundary=...)";
    const std::string rule = "each part starts with --BOUNDARY and a header Content-Disposition: form-data; name=\"...\", "
                             "and the body ends with --BOUNDARY--";
    if (req.files.empty()) return "bad multipart body: its first part could not be read (" + rule + ")";
    std::string names;
    for (const auto& part : req.files) names += (names.empty() ? "\"" : ", \"") + part.first.substr(0, 40) + "\"";
    return "bad multipart body: it breaks off in or after the last of the " + std::to_string(req.files.size()) +
           " parts read (" + names + "; " + rule + ")";
}

int status_of(ErrorKind kind) {
    switch (kind) {
        case ErrorKind::BadInput: return 400;
        case ErrorKind::Forbidden: return 403;
        case ErrorKind::NotFound: return 404;
        case ErrorKind::Busy: return 503;
        case ErrorKind::Failure: break;
    }
    return 500;
}

/// Wraps a handler: RequestFailure and the service's Errors give their status; anything else
/// thrown is the server's fault (500).
httplib::Server::Handler guarded(Handler handler, std::atomic<int64_t>& requests) {
    return [handler = std::move(handler), &requests](const httplib::Request& req, httplib::Response& res) {
        end_receiving_request();
        ++requests;
        try {
            handler(req, res);
        } catch (const RequestFailure& failure) {
            send_error(res, failure.status, failure.message);
        } catch (const Error& e) {
            const int status = status_of(e.kind());
            send_error(res, status, status == 500 ? std::string("internal error: ") + e.what() : e.what());
        } catch (const std::exception& e) {
            send_error(res, 500, std::string("internal error: ") + e.what());
        }
    };
}

/// Field `name` as a photo: an uploaded file, or a gallery id.
PhotoArgument photo_field(const RequestFields& fields, const std::string& name, bool raw_fallback) {
    PhotoArgument photo;
    photo.upload = fields.upload(name, raw_fallback);
    if (photo.upload) return photo;
    const auto text = fields.text(name);
    if (!text) fail(400, "missing \"" + name + "\": send a photo file in a multipart field of that name, or a gallery id");
    photo.text = *text;
    photo.id = gallery_id_of(*text, name);
    return photo;
}

/// The type of a web page file the route admits (the built-in files' types: cmake/embed_web_assets.cmake).
std::string web_content_type(const std::string& name) {
    const std::string extension = name.substr(name.rfind('.') + 1);
    if (extension == "html") return "text/html; charset=utf-8";
    if (extension == "js") return "text/javascript; charset=utf-8";
    if (extension == "css") return "text/css; charset=utf-8";
    return "image/svg+xml";
}

Upload image_upload(const RequestFields& fields) {
    const auto upload = fields.upload("image", true);
    if (!upload) fail(400, "send a photo: a multipart file field \"image\", or the image as the request body");
    return *upload;
}

}  // namespace

void add_routes(GuardedHttpServer& http, GalleryService& service, std::atomic<int64_t>& requests) {
    GalleryService& s = service;
    const auto started = std::chrono::steady_clock::now();
    auto get = [&](const std::string& pattern, Handler handler) { http.Get(pattern, guarded(std::move(handler), requests)); };
    auto post = [&](const std::string& pattern, Handler handler) { http.Post(pattern, guarded(std::move(handler), requests)); };

    get("/healthz", [&s](const httplib::Request&, httplib::Response& res) { send_json(res, s.health()); });
    get("/api/version", [](const httplib::Request&, httplib::Response& res) {
        send_json(res, {{"pupembed", version()}, {"api", 1}});
    });
    get("/api/stats", [&s, &http, &requests, started](const httplib::Request&, httplib::Response& res) {
        json out = s.stats();
        out["server"]["uptime_seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        out["server"]["requests"] = requests.load();
        out["server"]["refused_connections"] = http.refused_connections();
        send_json(res, out);
    });

    get("/api/images", [&s](const httplib::Request& req, httplib::Response& res) {
        const RequestFields fields(req);
        const int offset = fields.integer("offset", 0, 0, std::numeric_limits<int>::max());
        const int limit = fields.integer("limit", 48, 1, 500);
        const std::string order = fields.text("order").value_or("newest");
        if (order != "newest" && order != "breed") fail(400, "order: newest or breed, got \"" + order + "\"");
        send_json(res, s.browse(offset, limit, order == "newest" ? ImageOrder::Newest : ImageOrder::Breed));
    });
    get(R"(/api/images/(\d{1,18}))", [&s](const httplib::Request& req, httplib::Response& res) {
        send_json(res, s.image(std::stoll(req.matches[1])));
    });
    get(R"(/api/images/(\d{1,18})/thumb)", [&s](const httplib::Request& req, httplib::Response& res) {
        const auto bytes = s.thumbnail(std::stoll(req.matches[1]));
        res.set_header("Cache-Control", "max-age=3600");
        res.set_content(*bytes, "image/jpeg");
    });
    get(R"(/api/images/(\d{1,18})/file)", [&s](const httplib::Request& req, httplib::Response& res) {
        const auto [bytes, type] = s.file(std::stoll(req.matches[1]));
        res.set_content(bytes, type);
    });
    get("/api/map", [&s](const httplib::Request& req, httplib::Response& res) {
        const std::string method = req.has_param("method") ? req.get_param_value("method") : "umap";
        if (method != "umap" && method != "pca") fail(400, "method: umap or pca, got \"" + method + "\"");
        res.set_content(s.map(method == "umap").get(), "application/json");
    });

    post("/api/embed", [&s](const httplib::Request& req, httplib::Response& res) {
        send_json(res, s.embed(image_upload(RequestFields(req))));
    });
    post("/api/search", [&s](const httplib::Request& req, httplib::Response& res) {
        const RequestFields fields(req);
        const int k = fields.integer("k", 10, 1, 1000);
        const bool by_upload = fields.upload("image", true) || fields.text("image");
        if (!by_upload && !fields.text("id"))
            fail(400, "missing photo: send a file in the multipart field \"image\" (or the image as the body), "
                      "or a gallery id in \"id\"");
        send_json(res, s.search(by_upload ? photo_field(fields, "image", true) : photo_field(fields, "id", false), k));
    });
    post("/api/similar", [&s](const httplib::Request& req, httplib::Response& res) {
        const RequestFields fields(req);
        const PhotoArgument a = photo_field(fields, "a", false);
        const PhotoArgument b = photo_field(fields, "b", false);
        send_json(res, s.similar(a, b));
    });
    post("/api/algebra", [&s](const httplib::Request& req, httplib::Response& res) {
        const RequestFields fields(req);
        const auto expression = fields.text("expression");
        if (!expression) fail(400, "missing \"expression\", e.g. \"#12 + #40 - #7\"");
        const int k = fields.integer("k", 5, 1, 1000);
        send_json(res, s.algebra(*expression, [&fields](const std::string& name) { return fields.upload(name, false); }, k));
    });
    post("/api/images", [&s](const httplib::Request& req, httplib::Response& res) {
        s.require_adding_allowed();  // before the request's fields are read
        bool created = false;
        const json out = s.add_image(image_upload(RequestFields(req)), created);
        send_json(res, out, created ? 201 : 200);
    });

    // The web page, from files built into the binary, or from --web-root (read on every request).
    // The route admits plain names only (no slash, one dot), so nothing outside the folder is reached.
    const std::string web_root = s.options().web_root;
    get(R"(/|/([a-z0-9_-]{1,40}\.(?:html|js|css|svg)))", [web_root](const httplib::Request& req, httplib::Response& res) {
        const std::string name = req.matches.size() > 1 && req.matches[1].matched ? std::string(req.matches[1]) : "index.html";
        if (web_root.empty()) {
            const WebAsset* asset = find_web_asset(name);
            if (!asset) fail(404, "no such page: " + req.path);
            res.set_content(reinterpret_cast<const char*>(asset->data), asset->size, asset->content_type);
            return;
        }
        std::string bytes;
        try {
            bytes = read_file(web_root + "/" + name);
        } catch (const Error&) {
            fail(404, "no such page: " + req.path + " (in --web-root " + web_root + ")");
        }
        res.set_header("Cache-Control", "no-store");
        res.set_content(bytes, web_content_type(name));
    });

    // Decided from the headers, before any of the body is read: a body over the limit, or one
    // of unknown length (chunked, which httplib would read without a limit), is refused.
    const int64_t limit = s.options().max_upload_bytes;
    const int64_t upload_rate = std::max<int64_t>(1, s.options().min_upload_bytes_per_second);
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
        if (res.status == 400) message = bad_request_reason(req);
        if (res.status == 404) message = "no such route: " + req.method + " " + req.path;
        if (res.status == 413) message = "the request is too large (the limit is set by --max-upload-mb)";
        send_error(res, res.status, message);
    });
}

}  // namespace pupembed
