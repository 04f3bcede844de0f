#include "pupembed/gallery/query_json.hpp"

#include <openssl/evp.h>

#include <algorithm>

namespace pupembed {

std::string to_json_text(const nlohmann::json& value, int indent) {
    return value.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool is_valid_utf8(const std::string& text) {
    const auto* s = reinterpret_cast<const unsigned char*>(text.data());
    const size_t n = text.size();
    for (size_t i = 0; i < n;) {
        const unsigned c = s[i];
        size_t length = 0;
        unsigned minimum = 0, code = 0;
        if (c < 0x80) { ++i; continue; }
        if ((c & 0xe0) == 0xc0) { length = 2; minimum = 0x80; code = c & 0x1f; }
        else if ((c & 0xf0) == 0xe0) { length = 3; minimum = 0x800; code = c & 0x0f; }
        else if ((c & 0xf8) == 0xf0) { length = 4; minimum = 0x10000; code = c & 0x07; }
        else return false;
        if (i + length > n) return false;
        for (size_t k = 1; k < length; ++k) {
            if ((s[i + k] & 0xc0) != 0x80) return false;
            code = (code << 6) | (s[i + k] & 0x3f);
        }
        if (code < minimum || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return false;
        i += length;
    }
    return true;
}

void set_text(nlohmann::json& object, const std::string& key, const std::string& text) {
    if (is_valid_utf8(text)) {
        object[key] = text;
        return;
    }
    // Readable form: the same bytes through the replacing serialiser, parsed back.
    object[key] = nlohmann::json::parse(to_json_text(nlohmann::json(text)));
    std::string encoded(4 * ((text.size() + 2) / 3) + 1, '\0');
    const int length = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                                       reinterpret_cast<const unsigned char*>(text.data()), int(text.size()));
    encoded.resize(size_t(std::max(0, length)));
    object[key + "_base64"] = encoded;
}

nlohmann::json image_json(const GalleryImage& image) {
    nlohmann::json out = {{"id", image.id}};
    set_text(out, "path", image.path);
    out.update({{"content_hash", image.content_hash}, {"file_size", image.file_size}, {"width", image.width},
                {"height", image.height}, {"added", image.added}, {"breed", image.breed},
                {"breed_probability", image.breed_probability}});
    return out;
}

nlohmann::json neighbours_json(const std::vector<Neighbour>& neighbours) {
    nlohmann::json out = nlohmann::json::array();
    int rank = 1;
    for (const auto& n : neighbours) {
        nlohmann::json item = image_json(n.image);
        item["rank"] = rank++;
        item["similarity"] = n.similarity;
        item["distance"] = n.distance;
        out.push_back(item);
    }
    return out;
}

nlohmann::json photo_json(const QueryPhoto& photo) {
    nlohmann::json out = nlohmann::json::object();
    set_text(out, "query", photo.text);
    set_text(out, "path", photo.path);
    out["breed"] = photo.breed;
    out["breed_probability"] = photo.breed_probability;
    out["gallery_id"] = photo.gallery_id >= 0 ? nlohmann::json(photo.gallery_id) : nlohmann::json();
    return out;
}

}  // namespace pupembed
