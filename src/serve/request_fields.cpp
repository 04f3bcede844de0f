#include "serve/request_fields.hpp"

#include <cctype>

#include "core/json_input.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/gallery/algebra.hpp"

namespace pupembed {
namespace {

/// `text` in quotes for an error message, cut short when long (it comes from the client).
std::string quoted(const std::string& text) {
    constexpr size_t kShown = 80;
    return "\"" + (text.size() <= kShown ? text : text.substr(0, kShown) + "...") + "\"";
}

}  // namespace

void fail(int status, std::string message) { throw RequestFailure{status, std::move(message)}; }

std::pair<int, std::string> refusal_from_headers(const httplib::Request& req, int64_t limit) {
    const std::string length = req.get_header_value("Content-Length");
    for (size_t i = 1; i < req.get_header_value_count("Content-Length"); ++i)
        if (req.get_header_value("Content-Length", i) != length) return {400, "conflicting Content-Length headers"};
    if (req.method != "POST" && req.method != "PUT" && req.method != "PATCH") return {0, ""};
    const std::string encoding = req.get_header_value("Transfer-Encoding");
    if (!encoding.empty() && encoding != "identity")
        return {411, "send the request with a Content-Length (chunked bodies are not accepted)"};
    if (length.empty()) return {0, ""};
    if (length.find_first_not_of("0123456789") != std::string::npos || length.size() > 19)
        return {400, "bad Content-Length " + quoted(length)};
    const uint64_t bytes = std::stoull(length);
    if (bytes > uint64_t(limit))
        return {413, "the request is too large: " + std::to_string(bytes) + " bytes, the limit is " + std::to_string(limit) +
                         " (--max-upload-mb)"};
    return {0, ""};
}

int64_t gallery_id_of(const std::string& text, const std::string& field) {
    long long id = 0;
    if (parse_gallery_id(text, id) || parse_gallery_id("#" + text, id)) return id;
    fail(400, field + ": " + quoted(text) + " is not a gallery id (#12) or an uploaded photo");
}

RequestFields::RequestFields(const httplib::Request& req) : req_(req) {
    const std::string type = req.get_header_value("Content-Type");
    if (type.rfind("application/json", 0) == 0) {
        try {
            body_ = parse_json_bounded(req.body, "the request body", kMaxRequestJsonDepth);
        } catch (const Error& e) {
            fail(400, e.what());
        }
        if (!body_.is_object()) fail(400, "the request body must be a JSON object");
    } else if (type.rfind("image/", 0) == 0 || type == "application/octet-stream") {
        raw_image_ = true;
    }
}

bool RequestFields::is_upload(const std::string& name) const {
    const auto file = req_.files.find(name);
    if (file == req_.files.end()) return false;
    const auto& type = file->second.content_type;
    return !file->second.filename.empty() || type.rfind("image/", 0) == 0 || type == "application/octet-stream";
}

std::optional<Upload> RequestFields::upload(const std::string& name, bool raw_fallback) const {
    if (is_upload(name)) {
        const auto& file = req_.files.find(name)->second;
        return Upload{&file.content, file.filename.empty() ? name : file.filename};
    }
    if (raw_fallback && raw_image_) return Upload{&req_.body, "request body"};
    return std::nullopt;
}

std::optional<std::string> RequestFields::text(const std::string& name) const {
    if (body_.is_object() && body_.contains(name)) {
        const nlohmann::json& value = body_[name];
        if (value.is_string()) return value.get<std::string>();
        if (value.is_number_integer()) return std::to_string(value.get<long long>());
        fail(400, name + ": expected a string or an integer");
    }
    if (req_.has_file(name) && !is_upload(name)) return req_.get_file_value(name).content;
    if (req_.has_param(name)) return req_.get_param_value(name);
    return std::nullopt;
}

int RequestFields::integer(const std::string& name, int fallback, int low, int high) const {
    const auto value = text(name);
    if (!value) return fallback;
    try {
        // Digits alone (std::stoll would pass over leading blanks, so " 5" passed and "5 " not).
        size_t used = 0;
        const bool digits = !value->empty() && (std::isdigit(static_cast<unsigned char>((*value)[0])) || (*value)[0] == '-');
        const long long number = digits ? std::stoll(*value, &used) : 0;
        if (digits && used == value->size() && number >= low && number <= high) return int(number);
    } catch (const std::exception&) {
    }
    fail(400, name + ": expected a whole number from " + std::to_string(low) + " to " + std::to_string(high) + ", got " +
                  quoted(*value));
}

}  // namespace pupembed
