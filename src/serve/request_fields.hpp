// What the server reads from a request, apart from the route: the refusals decided from the
// headers alone, and the fields of a request whichever way they came (JSON body, multipart form,
// query string). Its own file so that it can be tested and fuzzed without a model or a socket.
#pragma once

#include <httplib.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "serve/upload.hpp"

namespace pupembed {

/// Ends a request with an HTTP status and a message (caught by the server's route wrapper).
struct RequestFailure {
    int status;
    std::string message;
};

[[noreturn]] void fail(int status, std::string message);

/// Deepest JSON nesting a request body may have.
constexpr int kMaxRequestJsonDepth = 16;

/// The status and message that refuse a request from its headers alone (0 when it may be read):
/// conflicting Content-Length headers (400), a body of unknown length (chunked, which httplib
/// would read without a limit: 411), a bad length (400) or one over `limit` bytes (413).
std::pair<int, std::string> refusal_from_headers(const httplib::Request& req, int64_t limit);

/// A gallery id from "#12" or "12"; fails with 400 for anything else.
int64_t gallery_id_of(const std::string& text, const std::string& field);

/// The fields of a request, whichever way they came: a JSON body, multipart form fields or the
/// URL's query string. Uploaded files are multipart fields with a file name or an image type.
/// Bad input fails with 400 (RequestFailure).
class RequestFields {
public:
    explicit RequestFields(const httplib::Request& req);

    bool is_upload(const std::string& name) const;
    /// The bytes and name of upload `name`; with `raw_fallback`, the whole body when it is an image.
    std::optional<Upload> upload(const std::string& name, bool raw_fallback) const;
    /// A text field (a JSON string or integer, a form field, a query parameter).
    std::optional<std::string> text(const std::string& name) const;
    /// A whole number from `low` to `high`; `fallback` when absent.
    int integer(const std::string& name, int fallback, int low, int high) const;

private:
    const httplib::Request& req_;
    nlohmann::json body_;
    bool raw_image_ = false;
};

}  // namespace pupembed
