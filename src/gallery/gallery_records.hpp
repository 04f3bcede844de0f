// A gallery file's rows and metadata records, read and written with its connection already held
// (gallery.cpp holds it): what Gallery's methods are made of.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gallery/sqlite_db.hpp"
#include "pupembed/gallery/gallery.hpp"

namespace pupembed {

/// The columns of an image row, in the order image_from reads them.
constexpr char kColumns[] = "id, path, content_hash, file_size, width, height, added, breed, breed_probability";
GalleryImage image_from(const SqliteStatement& row);

/// A metadata record ("" when absent), and setting one.
std::string meta_value(const SqliteDb& db, const std::string& key);
void set_meta(const SqliteDb& db, const std::string& key, const std::string& value);

/// The first column of the first row of `sql` as an integer (0 for none).
int64_t pragma(const SqliteDb& db, const char* sql);

/// A count from a metadata record: the number, or -1 for anything but up to 6 digits.
int64_t count_record(const std::string& value);

/// The model the vectors come from; throws Error naming the file for a damaged record.
GalleryModel model_record(const SqliteDb& db);

/// Records how the rows a put wrote ran (`written.large_input_size`) beside the gallery's rows
/// before it (recorded as `before`; `was_empty`: there were none). Returns a warning when the
/// gallery now mixes the two settings, else "".
std::string record_input_size(const SqliteDb& db, const GalleryModel& before, const GalleryModel& written, bool was_empty);

/// The generation counter; throws Error naming the file for a damaged record.
int64_t generation_record(const SqliteDb& db);

/// The vector in column `column` of `row`, image `id`'s: `dimension` floats; throws Error naming
/// the file for a vector of another size.
const float* vector_column(const SqliteDb& db, const SqliteStatement& row, int column, int64_t id, int64_t dimension);

/// Every vector (by id) and the ids; throws Error naming the file for a vector of another size.
void read_vectors(const SqliteDb& db, int64_t dimension, std::vector<int64_t>& ids, std::vector<float>& values);

}  // namespace pupembed
