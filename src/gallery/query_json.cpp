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

nlohmann::json algebra_terms_json(const std::vector<QueryPhoto>& photos, const std::vector<double>& weights) {
    nlohmann::json terms = nlohmann::json::array();
    for (size_t i = 0; i < photos.size(); ++i) {
        nlohmann::json item = photo_json(photos[i]);
        item["weight"] = weights.at(i);
        terms.push_back(item);
    }
    return terms;
}

nlohmann::json job_import_json(const JobImportReport& report, const std::string& job, const Gallery& gallery) {
    nlohmann::json out = {{"shards", report.shards},
                          {"missing_shards", report.missing_shards},
                          {"rows", report.rows},
                          {"added", report.added},
                          {"updated", report.updated},
                          {"unchanged", report.unchanged},
                          {"seconds", report.seconds},
                          {"rows_per_second", double(report.rows) / std::max(report.seconds, 1e-9)},
                          {"size", gallery.size()},
                          {"warnings", report.warnings}};
    set_text(out, "job", job);
    return out;
}

nlohmann::json index_shards_plan_json(const IndexShardsPlan& plan) {
    nlohmann::json out = {{"photos", plan.photos},
                          {"shards", plan.shards},
                          {"lists", plan.lists},
                          {"sub_quantizers", plan.sub_quantizers},
                          {"training_rows", plan.training_rows},
                          {"writing_seconds", plan.writing_seconds},
                          {"training_seconds", plan.training_seconds},
                          {"kept", plan.kept}};
    set_text(out, "folder", plan.folder);
    return out;
}

nlohmann::json index_shard_json(const IndexShardReport& report) {
    nlohmann::json out = {{"shard", report.shard}, {"shards", report.shards}, {"first_row", report.first_row},
                          {"rows", report.rows},   {"skipped", report.skipped}, {"seconds", report.seconds}};
    set_text(out, "path", report.path);
    return out;
}

nlohmann::json index_shards_merge_json(const IndexShardsMerge& merged) {
    return {{"photos", merged.photos}, {"shards", merged.shards}, {"index", index_kind_name(IndexKind::IvfPq)},
            {"memory_bytes", merged.memory_bytes}, {"seconds", merged.seconds}};
}

nlohmann::json ingest_json(const IngestReport& report, const GalleryModel& model, const Gallery& gallery) {
    const double rate = report.embed_seconds > 0 ? double(report.embedded) / report.embed_seconds : 0.0;
    return {{"model", model.path},          {"model_id", model.id},
            {"added", report.added},        {"updated", report.updated},
            {"unchanged", report.unchanged}, {"failed", report.failures.size()},
            {"failures", report.failures},  {"embedded", report.embedded},
            {"embed_seconds", report.embed_seconds}, {"images_per_second", rate},
            {"seconds", report.seconds},    {"size", gallery.size()},
            {"warnings", report.warnings}};
}

nlohmann::json prediction_json(const Prediction& prediction) {
    nlohmann::json top = nlohmann::json::array();
    for (const auto& score : prediction.top)
        top.push_back({{"index", score.index}, {"id", score.id}, {"name", score.name}, {"probability", score.probability}});
    nlohmann::json item = {{"top", top}};
    set_text(item, "path", prediction.path);
    return item;
}

nlohmann::json duplicate_groups_json(const Gallery& gallery, const std::vector<std::vector<int64_t>>& groups) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& group : groups) {
        nlohmann::json members = nlohmann::json::array();
        for (const int64_t id : group)
            if (const auto image = gallery.find(id)) members.push_back(image_json(*image));
        out.push_back(members);
    }
    return out;
}

namespace {

/// How a gallery's photos ran, for stats: the large input's size, 0 (the base input), "mixed", or null.
nlohmann::json large_input_json(int large_input_size) {
    if (large_input_size == GalleryModel::kInputSizesMixed) return "mixed";
    if (large_input_size == GalleryModel::kInputSizeUnrecorded) return nullptr;
    return large_input_size;
}

}  // namespace

nlohmann::json stats_json(const GalleryStats& stats) {
    nlohmann::json by_breed = nlohmann::json::object();
    for (const auto& [breed, count] : stats.breeds) by_breed[breed] = count;
    nlohmann::json index_files = nlohmann::json::array();
    for (const auto& [path, bytes] : stats.index_files) index_files.push_back({{"path", path}, {"bytes", bytes}});
    const nlohmann::json missing = stats.missing_files >= 0 ? nlohmann::json(stats.missing_files) : nlohmann::json(nullptr);
    return {{"photos", stats.photos},         {"missing_files", missing}, {"model", stats.model.path},
            {"model_id", stats.model.id},     {"dimension", stats.model.dimension},   {"generation", stats.generation},
            {"file_bytes", stats.file_bytes}, {"breeds", by_breed},
            {"large_input", large_input_json(stats.model.large_input_size)},
            {"index", stats.index}, {"index_chosen", stats.index_chosen}, {"index_files", index_files}};
}

}  // namespace pupembed
