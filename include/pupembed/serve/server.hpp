// `pupembed serve`: a gallery and a model behind an HTTP JSON API, with a web page at `/`.
//
// Routes (every answer is JSON, errors too: {"error": "..."} with the status):
//   GET  /healthz, /api/version, /api/stats, /api/map (a 2-D layout of the gallery: ?method=umap|pca)
//   GET  /api/images/{id}, /api/images/{id}/thumb (JPEG), /api/images/{id}/file
//   POST /api/embed, /api/search, /api/similar, /api/algebra, /api/images (add; off by default)
// A photo is sent as a multipart/form-data file field, or named by gallery id ("#12" or 12).
// Request paths never reach the file system: files are found through gallery ids only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "pupembed/io/image.hpp"

namespace pupembed {

struct ServerOptions {
    std::string gallery;                   ///< gallery file (must exist)
    std::string model;                     ///< model file the gallery was built with
    std::string host = "127.0.0.1";
    int port = 8080;                       ///< 0: any free port (see Server::port())
    int64_t max_upload_bytes = 20 << 20;   ///< larger requests get 413 unread
    ImageLoadOptions load;                 ///< decoded-pixel limit for uploads and thumbnails
    int workers = 16;                      ///< threads serving requests whose headers have arrived
    int timeout_seconds = 30;              ///< socket read and write timeouts
    /// A client has this long from connecting to finish sending a request's headers, and the
    /// body gets one more second for each `min_upload_bytes_per_second` bytes it declares;
    /// slower requests are cut off, so a slow client cannot hold a worker for long.
    int request_seconds = 10;
    int64_t min_upload_bytes_per_second = 64 << 10;
    /// Connections one client address may have open at once while still sending their
    /// requests; more are answered 503 at once (a connection whose request has arrived no longer
    /// counts). Slow senders hold no worker while their headers arrive, whatever their number
    /// of addresses, and uploads whose body is still arriving hold at most three quarters of them.
    int max_connections_per_client = 8;
    bool allow_upload_to_gallery = false;  ///< POST /api/images adds uploads to the gallery
    std::string upload_folder;             ///< where added uploads are kept ("": GALLERY.uploads/)
    /// A folder to serve the web page's files from, read on every request (for developing the
    /// page without a rebuild); "": the copy built into the binary.
    std::string web_root;
    int thumbnail_size = 192;              ///< longer side of thumbnails, pixels
    int64_t thumbnail_cache_bytes = 64 << 20;
    int max_batch = 16;                    ///< uploads embedded together when requests overlap
    /// Uploads (and thumbnails) decoded at once, beside the network's threads; 0: one per core.
    int decode_threads = 0;
};

class Server {
public:
    /// Opens the gallery, loads the model (checking the gallery was built with it) and binds the
    /// socket. Throws Error naming the file or address on failure.
    explicit Server(const ServerOptions& options);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    /// The port bound (the one chosen when options.port was 0).
    int port() const;
    /// Serves until stop() is called (from another thread or a signal handler's thread).
    void run();
    void stop();

private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace pupembed
