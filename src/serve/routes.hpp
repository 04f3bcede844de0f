// The HTTP API's routes: each reads its request's fields, asks the gallery service and writes
// the JSON answer; errors become JSON with the status their kind calls for.
#pragma once

#include <atomic>
#include <cstdint>

#include "serve/gallery_service.hpp"
#include "serve/http_transport.hpp"

namespace pupembed {

/// Adds every route of the API and the web page to `http`, answered by `service`; `requests`
/// counts the requests routed.
void add_routes(GuardedHttpServer& http, GalleryService& service, std::atomic<int64_t>& requests);

}  // namespace pupembed
