// The JSON shapes of gallery images, query photos and search results, shared by the commands'
// --json output and the HTTP API so that a program reads both the same way.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pupembed/gallery/gallery.hpp"
#include "pupembed/gallery/index_shards.hpp"
#include "pupembed/gallery/ingest.hpp"
#include "pupembed/gallery/job_import.hpp"
#include "pupembed/gallery/queries.hpp"
#include "pupembed/gallery/search.hpp"

namespace pupembed {

/// `value` as JSON text (`indent` < 0: one line). JSON text is UTF-8: bytes that are not valid
/// UTF-8 (possible in file names, which are bytes on Linux) become U+FFFD instead of failing.
std::string to_json_text(const nlohmann::json& value, int indent = -1);

/// Sets `object[key]` to `text`. Text that is not valid UTF-8 is written with U+FFFD for each
/// bad byte, and its exact bytes go base64-encoded into `object[key + "_base64"]`, so a path
/// survives the trip through JSON unchanged.
void set_text(nlohmann::json& object, const std::string& key, const std::string& text);

/// Whether `text` is valid UTF-8 (no overlong forms, no surrogates).
bool is_valid_utf8(const std::string& text);

/// id, path, content_hash, file_size, width, height, added, breed, breed_probability.
nlohmann::json image_json(const GalleryImage& image);
/// image_json of each neighbour plus rank (from 1), similarity and distance.
nlohmann::json neighbours_json(const std::vector<Neighbour>& neighbours);
/// query (as given), path, breed, breed_probability, gallery_id (null when not in the gallery).
nlohmann::json photo_json(const QueryPhoto& photo);

/// photo_json of each algebra operand, with its weight.
nlohmann::json algebra_terms_json(const std::vector<QueryPhoto>& photos, const std::vector<double>& weights);

/// What adding photos did: model, model_id, added, updated, unchanged, failed, failures, embedded,
/// embed_seconds, images_per_second, seconds, size (the gallery's photos now) and warnings.
nlohmann::json ingest_json(const IngestReport& report, const GalleryModel& model, const Gallery& gallery);

/// What importing a job did: job, shards, missing_shards, rows, added, updated, unchanged, seconds,
/// rows_per_second, size (the gallery's photos now) and warnings.
nlohmann::json job_import_json(const JobImportReport& report, const std::string& job, const Gallery& gallery);

/// path and top (index, id, name, probability, most probable first) of one photo's breeds.
nlohmann::json prediction_json(const Prediction& prediction);

/// Each group of near-duplicates (find_duplicates) as the image_json of its members.
nlohmann::json duplicate_groups_json(const Gallery& gallery, const std::vector<std::vector<int64_t>>& groups);

/// photos, missing_files, model, model_id, dimension, generation, file_bytes, breeds (photos per
/// breed) and large_input (the large input's size photos ran at, 0 for the base input, "mixed", or
/// null when not recorded).
nlohmann::json stats_json(const GalleryStats& stats);

/// A build in shards, step by step: folder, photos, shards, lists, sub_quantizers, training_rows,
/// writing_seconds, training_seconds, kept; shard, shards, first_row, rows, skipped, seconds, path;
/// photos, shards, index ("ivfpq"), memory_bytes, seconds.
nlohmann::json index_shards_plan_json(const IndexShardsPlan& plan);
nlohmann::json index_shard_json(const IndexShardReport& report);
nlohmann::json index_shards_merge_json(const IndexShardsMerge& merged);

}  // namespace pupembed
