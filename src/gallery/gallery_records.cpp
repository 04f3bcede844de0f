#include "gallery/gallery_records.hpp"

#include <algorithm>

#include "pupembed/core/error.hpp"

namespace pupembed {

GalleryImage image_from(const SqliteStatement& row) {
    GalleryImage image;
    image.id = row.integer(0);
    image.path = row.text(1);
    image.content_hash = row.text(2);
    image.file_size = row.integer(3);
    image.width = int(row.integer(4));
    image.height = int(row.integer(5));
    image.added = row.text(6);
    image.breed = row.text(7);
    image.breed_probability = row.real(8);
    return image;
}

std::string meta_value(const SqliteDb& db, const std::string& key) {
    SqliteStatement query(db, "SELECT value FROM meta WHERE key = ?");
    query.bind(1, key);
    return query.step() ? query.text(0) : "";
}

void set_meta(const SqliteDb& db, const std::string& key, const std::string& value) {
    SqliteStatement update(db, "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value");
    update.bind(1, key).bind(2, value).run();
}

int64_t pragma(const SqliteDb& db, const char* sql) {
    SqliteStatement query(db, sql);
    return query.step() ? query.integer(0) : 0;
}

/// A count from a metadata record: the number, or -1 for anything but up to 6 digits.
int64_t count_record(const std::string& value) {
    const bool digits = value.size() <= 6 && value.find_first_not_of("0123456789") == std::string::npos;
    return digits && !value.empty() ? std::stoll(value) : -1;
}

GalleryModel model_record(const SqliteDb& db) {
    GalleryModel model;
    model.id = meta_value(db, "model_id");
    model.path = meta_value(db, "model_path");
    const std::string dimension = meta_value(db, "dimension");
    if (!dimension.empty()) {
        model.dimension = count_record(dimension);
        if (model.dimension < 1 || model.dimension > kMaxGalleryDimension)
            throw Error(db.path(), "damaged gallery (dimension record \"" + dimension.substr(0, 40) + "\")");
    }
    const std::string appearance = meta_value(db, "appearance_dimension");
    if (!appearance.empty()) {
        // Fewer columns than the vectors have; 0: all of them.
        model.appearance_dimension = count_record(appearance);
        if (model.appearance_dimension < 0 || model.appearance_dimension >= std::max<int64_t>(model.dimension, 1))
            throw Error(db.path(), "damaged gallery (appearance dimension record \"" + appearance.substr(0, 40) + "\")");
    }
    const std::string input = meta_value(db, "large_input_size");
    if (input == "mixed")
        model.large_input_size = GalleryModel::kInputSizesMixed;
    else if (!input.empty() && (model.large_input_size = int(count_record(input))) < 0)
        throw Error(db.path(), "damaged gallery (large input record \"" + input.substr(0, 40) + "\")");
    return model;
}

namespace {

std::string input_setting(int large_input_size) {
    return large_input_size > 0 ? "the large input (" + std::to_string(large_input_size) + " px)" : "the base input";
}

}  // namespace

std::string record_input_size(const SqliteDb& db, const GalleryModel& before, const GalleryModel& written, bool was_empty) {
    const int setting = written.large_input_size;
    if (setting < 0) return "";  // not known: the record stays as it is
    if (was_empty) {
        set_meta(db, "large_input_size", std::to_string(setting));
        return "";
    }
    // Rows of an unrecorded setting stay unrecorded; a mix is said once, when it begins.
    if (before.large_input_size == GalleryModel::kInputSizeUnrecorded || before.large_input_size == GalleryModel::kInputSizesMixed ||
        before.large_input_size == setting)
        return "";
    set_meta(db, "large_input_size", "mixed");
    return "the gallery's photos ran at " + input_setting(before.large_input_size) + " and these at " + input_setting(setting) +
           ": the vectors of large photos differ between the two, so searches mix them; embed them all one way "
           "(`pupembed index add --reembed`, or a job with the gallery's --large-input setting)";
}

int64_t generation_record(const SqliteDb& db) {
    const std::string value = meta_value(db, "generation");
    if (value.empty() || value.size() > 18 || value.find_first_not_of("0123456789") != std::string::npos)
        throw Error(db.path(), "damaged gallery (generation record \"" + value.substr(0, 40) + "\")");
    return std::stoll(value);
}

const float* vector_column(const SqliteDb& db, const SqliteStatement& row, int column, int64_t id, int64_t dimension) {
    size_t bytes = 0;
    const auto* data = static_cast<const float*>(row.blob(column, bytes));
    if (dimension <= 0 || bytes != size_t(dimension) * sizeof(float))
        throw Error(db.path(), "damaged gallery (vector of image " + std::to_string(id) + " has " + std::to_string(bytes) +
                                   " bytes, expected " + std::to_string(std::max<int64_t>(dimension, 0) * 4) + ")");
    return data;
}

void read_vectors(const SqliteDb& db, int64_t dimension, std::vector<int64_t>& ids, std::vector<float>& values) {
    const int64_t count = pragma(db, "SELECT count(*) FROM images");
    ids.clear();
    values.clear();
    ids.reserve(size_t(count));
    values.reserve(size_t(count * dimension));
    SqliteStatement query(db, "SELECT id, vector FROM images ORDER BY id");
    while (query.step()) {
        const float* data = vector_column(db, query, 1, query.integer(0), dimension);
        ids.push_back(query.integer(0));
        values.insert(values.end(), data, data + dimension);
    }
}

}  // namespace pupembed
