#include "pupembed/serve/server.hpp"

#include <atomic>

#include "pupembed/core/error.hpp"
#include "serve/gallery_service.hpp"
#include "serve/http_transport.hpp"
#include "serve/routes.hpp"

namespace pupembed {

struct Server::State {
    explicit State(const ServerOptions& options) : service(options) {}
    GalleryService service;
    GuardedHttpServer http;
    std::atomic<int64_t> requests{0};
    int port = 0;
};

Server::Server(const ServerOptions& options) {
    state_ = std::make_unique<State>(options);
    State& s = *state_;
    s.http.set_payload_max_length(size_t(std::max<int64_t>(1, options.max_upload_bytes)));
    // One request per connection: a kept-alive connection would hold one of the workers
    // while idle, and after an upload refused from its headers the unread body must not be
    // taken for the next request (httplib 0.11 keeps a connection open whatever the answer).
    s.http.set_keep_alive_max_count(1);
    s.http.configure(std::max(1, options.request_seconds), std::max(1, options.timeout_seconds),
                     std::max(1, options.max_connections_per_client), std::max(1, options.workers));
    s.http.set_read_timeout(options.timeout_seconds, 0);
    s.http.set_write_timeout(options.timeout_seconds, 0);
    add_routes(s.http, s.service, s.requests);
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
