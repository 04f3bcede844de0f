#include "pupembed/inference/embedding_job.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "core/json_input.hpp"
#include "io/file_lock.hpp"
#include "pupembed/core/clock.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/core/version.hpp"
#include "pupembed/inference/classify.hpp"
#include "pupembed/inference/embedder.hpp"
#include "pupembed/io/file_io.hpp"
#include "pupembed/io/npy.hpp"
#include "pupembed/io/sha256.hpp"
#include "pupembed/model/model.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace pupembed {
namespace {

const char kJobFormat[] = "pupembed-embedding-job";
const char kShardTableHeader[] = "# pupembed shard v1\tpath\tsha256\tbytes\twidth\theight\tbreed\tbreed_probability";
const char kFailureTableHeader[] = "# pupembed failures v1\tpath\treason";

std::string shard_name(int64_t shard) {
    char name[32];
    std::snprintf(name, sizeof(name), "shard-%05lld", static_cast<long long>(shard));
    return name;
}

std::string manifest_path(const std::string& folder) { return (fs::path(folder) / "manifest.json").string(); }

std::string shard_inputs_path(const std::string& folder, int64_t shard) {
    return (fs::path(folder) / "inputs" / (shard_name(shard) + ".txt")).string();
}

int64_t shards_for(int64_t photos, int64_t shard_size) { return (photos + shard_size - 1) / shard_size; }

/// Writes the photos [begin, end) as shards of `shard_size` from shard `first` into folder/inputs.
void write_shard_inputs(const std::string& folder, int64_t first, std::vector<std::string>::const_iterator begin,
                        std::vector<std::string>::const_iterator end, int64_t shard_size) {
    for (int64_t shard = first; begin != end; ++shard) {
        std::string list;
        for (int64_t i = 0; i < shard_size && begin != end; ++i, ++begin) list += *begin + "\n";
        write_file_atomically(shard_inputs_path(folder, shard), list);
    }
}

json manifest_json(const EmbeddingJob& job) {
    return {{"format", kJobFormat},
            {"version", kEmbeddingJobVersion},
            {"pupembed", job.pupembed_version},
            {"created", utc_timestamp()},
            {"model",
             {{"path", job.model_path},
              {"sha256", job.model_sha256},
              {"backbone", job.backbone},
              {"dimension", job.dimension},
              {"appearance_dimension", job.appearance_dimension},
              {"input_size", job.input_size},
              {"large_input_size", job.large_input_size}}},
            {"large_input", job.large_input},
            {"photos", job.photos},
            {"photos_sha256", job.photos_sha256},
            {"shard_size", job.shard_size},
            {"shard_count", job.shard_count},
            {"segments", job.segments}};
}

EmbeddingJob job_from_json(const std::string& folder, const json& j) {
    EmbeddingJob job;
    job.folder = folder;
    const json& model = j.at("model");
    job.model_path = model.at("path");
    job.model_sha256 = model.at("sha256");
    job.backbone = model.at("backbone");
    job.dimension = model.at("dimension");
    job.appearance_dimension = model.at("appearance_dimension");
    job.input_size = model.at("input_size");
    job.large_input_size = model.at("large_input_size");
    job.large_input = j.at("large_input");
    job.photos = j.at("photos");
    job.photos_sha256 = j.at("photos_sha256");
    job.shard_size = j.at("shard_size");
    job.shard_count = j.at("shard_count");
    job.pupembed_version = j.at("pupembed");
    if (j.contains("segments"))
        job.segments = j.at("segments").get<std::vector<int64_t>>();
    else if (job.photos > 0)
        job.segments = {job.photos};  // version 1: one list
    int64_t photos = 0, shards = 0;
    bool valid = job.shard_size >= 1 && job.dimension >= 1;
    for (const int64_t segment : job.segments) {
        valid = valid && segment > 0;
        photos += segment;
        if (valid) shards += shards_for(segment, job.shard_size);
    }
    if (!valid || photos != job.photos || shards != job.shard_count)
        throw Error(manifest_path(folder), "damaged job manifest (shard size, count, segments or dimension)");
    return job;
}

/// The first difference between the job found and the one asked for, with what to do; "" for none.
std::string difference(const EmbeddingJob& found, const EmbeddingJob& wanted) {
    if (found.model_sha256 != wanted.model_sha256)
        return "was made with another model file (" + found.model_path + ", SHA-256 " + found.model_sha256.substr(0, 16) +
               "...) than " + wanted.model_path;
    if (found.shard_size != wanted.shard_size)
        return "has shards of " + std::to_string(found.shard_size) + " photos, not " + std::to_string(wanted.shard_size);
    if (found.large_input != wanted.large_input)
        return std::string("runs large photos at ") + (found.large_input ? "the large input" : "the base input") +
               "; this run asks for the other";
    return "";
}

/// Creates `folder` holding `job`'s manifest and shard inputs, atomically: they are written in a
/// folder of their own that is then renamed to `folder`. Returns false when `folder` appeared
/// meanwhile (another process made it).
bool create_job_folder(const std::string& folder, const EmbeddingJob& job, const std::vector<std::string>& photos) {
    const fs::path target = fs::absolute(folder).lexically_normal();
    const fs::path staging = target.parent_path() / ("." + target.filename().string() + ".making." + std::to_string(::getpid()));
    std::error_code error;
    fs::remove_all(staging, error);
    if (!fs::create_directories(staging / "inputs", error) && error)
        throw Error(folder, "cannot make the job folder: " + error.message());
    try {
        write_shard_inputs(staging.string(), 0, photos.begin(), photos.end(), job.shard_size);
        write_file_atomically((staging / "manifest.json").string(), manifest_json(job).dump(2) + "\n");
    } catch (...) {
        fs::remove_all(staging, error);
        throw;
    }
    if (::rename(staging.c_str(), target.c_str()) == 0) return true;
    const int reason = errno;
    fs::remove_all(staging, error);
    if (reason == ENOTEMPTY || reason == EEXIST) return false;
    throw Error(folder, std::string("cannot make the job folder: ") + std::strerror(reason));
}

/// Adds to the job in `folder` the photos of `listed` it lacks, as new shards after its last, and
/// returns the job as it is then. One process at a time (JOB/.grow.lock): a second finds the job
/// grown and adds nothing.
EmbeddingJob grow_job(const std::string& folder, const std::vector<std::string>& listed) {
    const FileLock lock((fs::path(folder) / ".grow.lock").string(), FileLock::Wait::yes);
    EmbeddingJob job = read_embedding_job(folder);
    std::unordered_set<std::string> known;
    known.reserve(size_t(job.photos));
    std::string list;  // the job's photos, then the new ones
    for (int64_t shard = 0; shard < job.shard_count; ++shard)
        for (auto& photo : job.shard_photos(shard)) {
            list += photo + "\n";
            known.insert(std::move(photo));
        }
    std::vector<std::string> added;
    for (const auto& photo : listed)
        if (known.insert(photo).second) {
            added.push_back(photo);
            list += photo + "\n";
        }
    if (added.empty()) return job;
    write_shard_inputs(folder, job.shard_count, added.begin(), added.end(), job.shard_size);
    job.segments.push_back(int64_t(added.size()));
    job.photos += int64_t(added.size());
    job.shard_count += shards_for(int64_t(added.size()), job.shard_size);
    job.photos_sha256 = sha256_hex(list);
    job.added_photos = int64_t(added.size());
    // Last: until the manifest names them, the new shards' inputs are not part of the job.
    write_file_atomically(manifest_path(folder), manifest_json(job).dump(2) + "\n");
    return job;
}

}  // namespace

std::string EmbeddingJob::shard_file(int64_t shard, const std::string& suffix) const {
    return (fs::path(folder) / (shard_name(shard) + suffix)).string();
}

bool EmbeddingJob::shard_done(int64_t shard) const {
    std::error_code error;
    return fs::is_regular_file(shard_file(shard, ".npy"), error);
}

std::vector<int64_t> EmbeddingJob::unfinished_shards(int64_t part, int64_t parts) const {
    if (parts < 1 || part < 0 || part >= parts)
        throw Error("--shard " + std::to_string(part) + "/" + std::to_string(parts), "must be I/N with 0 <= I < N",
                    ErrorKind::BadInput);
    std::vector<int64_t> shards;
    for (int64_t shard = part; shard < shard_count; shard += parts)
        if (!shard_done(shard)) shards.push_back(shard);
    return shards;
}

int64_t EmbeddingJob::shard_length(int64_t shard) const {
    if (shard < 0 || shard >= shard_count) throw Error("shard " + std::to_string(shard), "is not a shard of " + folder);
    int64_t first = 0;  // the segment's first shard
    for (const int64_t segment : segments) {
        const int64_t shards = shards_for(segment, shard_size);
        if (shard < first + shards) return std::min(shard_size, segment - (shard - first) * shard_size);
        first += shards;
    }
    throw Error(manifest_path(folder), "damaged job manifest (segments)");
}

std::vector<std::string> EmbeddingJob::shard_photos(int64_t shard) const {
    const int64_t expected = shard_length(shard);
    const std::string path = shard_inputs_path(folder, shard);
    std::istringstream in(read_file(path));
    std::vector<std::string> listed;
    for (std::string line; std::getline(in, line);) listed.push_back(line);
    if (int64_t(listed.size()) != expected)
        throw Error(path, "damaged job: " + std::to_string(listed.size()) + " photos, expected " + std::to_string(expected));
    return listed;
}

EmbeddingJob open_embedding_job(const std::string& folder, const std::vector<std::string>& photos, const std::string& model_path,
                                const Model& model, const JobSettings& settings, std::vector<std::string>* refused) {
    if (settings.shard_size && *settings.shard_size < 1) throw Error("--shard-size", "must be at least 1", ErrorKind::BadInput);
    std::vector<std::string> listed;
    std::string list;
    for (const auto& photo : photos) {
        if (photo.find_first_of("\t\n") != std::string::npos) {
            if (refused) refused->push_back(photo);
            continue;
        }
        // Absolute, as a gallery files a photo: the job's workers and its import may run elsewhere.
        std::error_code error;
        const fs::path absolute = fs::absolute(photo, error);
        listed.push_back((error ? fs::path(photo) : absolute).lexically_normal().string());
        list += listed.back() + "\n";
    }
    EmbeddingJob job;
    job.folder = folder;
    job.model_path = fs::absolute(model_path).lexically_normal().string();
    job.model_sha256 = sha256_hex(read_file(model_path));
    job.backbone = model.info.backbone;
    job.dimension = model.embedding_size();
    job.appearance_dimension = model.appearance_size();
    job.input_size = model.info.preprocessing.input_size;
    job.photos = int64_t(listed.size());
    if (job.photos > 0) job.segments = {job.photos};
    job.photos_sha256 = sha256_hex(list);
    job.pupembed_version = version();
    std::error_code error;
    if (fs::exists(manifest_path(folder), error)) {
        // Settings not given are the job's.
        const EmbeddingJob found = read_embedding_job(folder);
        job.large_input = settings.large_input.value_or(found.large_input);
        job.shard_size = settings.shard_size.value_or(found.shard_size);
    } else {
        job.large_input = settings.large_input.value_or(true);
        job.shard_size = settings.shard_size.value_or(kDefaultShardSize);
    }
    job.large_input_size = job.large_input ? model.info.preprocessing.large_input_size : 0;
    job.shard_count = (job.photos + job.shard_size - 1) / job.shard_size;

    if (fs::is_directory(folder, error) && fs::is_empty(folder, error)) fs::remove(folder, error);  // made by the user
    if (!fs::exists(folder, error)) {
        if (create_job_folder(folder, job, listed)) {
            job.added_photos = job.photos;
            return job;
        }
        // Another process made it first: it must be the same job.
    } else if (!fs::exists(manifest_path(folder), error)) {
        throw Error(folder, "exists and is not a job folder (no manifest.json); give a new folder for the job",
                    ErrorKind::BadInput);
    }
    const EmbeddingJob found = read_embedding_job(folder);
    const std::string differs = difference(found, job);
    if (!differs.empty())
        throw Error(folder, differs + "; give a new folder for this job (a job folder holds one model's embeddings)",
                    ErrorKind::BadInput);
    return found.photos_sha256 == job.photos_sha256 ? found : grow_job(folder, listed);
}

EmbeddingJob read_embedding_job(const std::string& folder) {
    const std::string path = manifest_path(folder);
    std::error_code error;
    if (!fs::exists(path, error)) throw Error(folder, "is not a job folder (no manifest.json)", ErrorKind::BadInput);
    const json j = parse_json_bounded(read_file(path), path, 8);
    try {
        if (j.value("format", "") != kJobFormat) throw Error(path, "not a pupembed job manifest");
        if (j.value("version", 0) > kEmbeddingJobVersion)
            throw Error(path, "job version " + std::to_string(j.value("version", 0)) + " is newer than this build reads (" +
                                  std::to_string(kEmbeddingJobVersion) + "); update pupembed");
        return job_from_json(folder, j);
    } catch (const json::exception& e) {
        throw Error(path, std::string("damaged job manifest (") + e.what() + ")");
    }
}

void require_job_model(const EmbeddingJob& job, const std::string& model_path) {
    if (sha256_hex(read_file(model_path)) != job.model_sha256)
        throw Error(job.folder, "was made with the model file " + job.model_path + ", not " + model_path, ErrorKind::BadInput);
}

void job_model_settings(const EmbeddingJob& job, Model& model) {
    if (!job.large_input) model.info.preprocessing.large_input_size = 0;
}

ShardReport embed_job_shard(const EmbeddingJob& job, int64_t shard, Embedder& embedder) {
    const auto start = Clock::now();
    ShardReport report;
    report.shard = shard;
    if (job.shard_done(shard)) {
        report.skipped = true;
        return report;
    }
    const std::vector<std::string> photos = job.shard_photos(shard);
    // What a run of this shard killed while writing left behind.
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(job.folder, error)) {
        const std::string name = entry.path().filename().string();
        if (name.rfind(shard_name(shard) + ".", 0) == 0 && name.find(".tmp.") != std::string::npos) fs::remove(entry.path(), error);
    }
    const size_t n = photos.size();
    std::vector<std::string> hashes(n), breeds(n);
    std::vector<int64_t> sizes(n, 0);
    std::vector<int> widths(n, 0), heights(n, 0);
    std::vector<double> probabilities(n, 0);
    const FileFilter admit = [&](size_t i, const std::string& bytes) {
        hashes[i] = sha256_hex(bytes);
        sizes[i] = int64_t(bytes.size());
        return true;
    };
    // Rows by position in the shard, kept in that order.
    std::vector<char> embedded(n, 0);
    std::vector<float> rows(n * size_t(job.dimension));
    JobShard out;
    embedder.embed_files(photos, true, [&](const EmbeddedBatch& batch) {
        for (const auto& failure : batch.failures) {
            const size_t colon = failure.find(": ");
            out.failures.push_back({failure.substr(0, colon), colon == std::string::npos ? "unreadable" : failure.substr(colon + 2)});
        }
        if (batch.embeddings.columns != job.dimension && !batch.indices.empty())
            throw Error(job.folder, "the model gives " + std::to_string(batch.embeddings.columns) + "-d embeddings, the job " +
                                        std::to_string(job.dimension));
        for (size_t r = 0; r < batch.indices.size(); ++r) {
            const size_t i = batch.indices[r];
            if (!batch.probabilities.empty()) {
                const auto top = top_classes(embedder.model(), batch.probabilities.row_vector(int64_t(r)), 1);
                breeds[i] = top.at(0).name;
                probabilities[i] = top.at(0).probability;
            }
            widths[i] = batch.sizes[r][0];
            heights[i] = batch.sizes[r][1];
            std::copy_n(batch.embeddings.row(int64_t(r)), job.dimension, rows.begin() + long(i) * job.dimension);
            embedded[i] = 1;
        }
    }, admit);
    out.vectors.columns = job.dimension;
    for (size_t i = 0; i < n; ++i) {
        if (!embedded[i]) continue;
        out.paths.push_back(photos[i]);
        out.sha256s.push_back(std::move(hashes[i]));
        out.file_sizes.push_back(sizes[i]);
        out.widths.push_back(widths[i]);
        out.heights.push_back(heights[i]);
        out.breeds.push_back(std::move(breeds[i]));
        out.breed_probabilities.push_back(probabilities[i]);
        out.vectors.values.insert(out.vectors.values.end(), rows.begin() + long(i) * job.dimension,
                                  rows.begin() + long(i + 1) * job.dimension);
    }
    out.vectors.rows = int64_t(out.paths.size());
    write_job_shard(job, shard, out);
    report.embedded = out.vectors.rows;
    report.failed = int64_t(out.failures.size());
    report.seconds = seconds_since(start);
    return report;
}

void write_job_shard(const EmbeddingJob& job, int64_t shard, const JobShard& rows) {
    const size_t n = rows.paths.size();
    const std::string where = job.shard_file(shard, "");
    if (rows.sha256s.size() != n || rows.file_sizes.size() != n || rows.widths.size() != n || rows.heights.size() != n ||
        rows.breeds.size() != n || rows.breed_probabilities.size() != n || rows.vectors.rows != int64_t(n) ||
        rows.vectors.columns != job.dimension || rows.vectors.values.size() != n * size_t(job.dimension))
        throw Error(where, "a shard needs one vector of " + std::to_string(job.dimension) + " values and one of each field per photo");
    const auto plain = [&](const std::string& text) {
        if (text.find_first_of("\t\n") != std::string::npos) throw Error(where, "a tab or newline in \"" + text + "\"");
        return text;
    };
    std::string table = std::string(kShardTableHeader) + "\n";
    for (size_t i = 0; i < n; ++i) {
        char numbers[128];
        std::snprintf(numbers, sizeof(numbers), "\t%lld\t%d\t%d\t", static_cast<long long>(rows.file_sizes[i]), rows.widths[i],
                      rows.heights[i]);
        char chance[32];
        std::snprintf(chance, sizeof(chance), "\t%.17g\n", rows.breed_probabilities[i]);
        table += plain(rows.paths[i]) + "\t" + plain(rows.sha256s[i]) + numbers + plain(rows.breeds[i]) + chance;
    }
    std::string failures = kFailureTableHeader + std::string("\n");
    for (const auto& failure : rows.failures) failures += plain(failure.path) + "\t" + plain(failure.reason) + "\n";
    write_file_atomically(job.shard_file(shard, ".tsv"), table);
    write_file_atomically(job.shard_file(shard, ".failed.tsv"), failures);
    write_npy(job.shard_file(shard, ".npy"), NpyArray{{int64_t(n), job.dimension}, rows.vectors.values});  // last: the shard is done
}

JobShard read_job_shard(const EmbeddingJob& job, int64_t shard) {
    JobShard out;
    const std::string table_path = job.shard_file(shard, ".tsv");
    std::istringstream in(read_file(table_path));
    std::string line;
    if (!std::getline(in, line) || line != kShardTableHeader)
        throw Error(table_path, "not a pupembed shard table (its first line)");
    while (std::getline(in, line)) {
        std::vector<std::string> fields;
        size_t at = 0;
        for (size_t tab; (tab = line.find('\t', at)) != std::string::npos; at = tab + 1) fields.push_back(line.substr(at, tab - at));
        fields.push_back(line.substr(at));
        if (fields.size() != 7) throw Error(table_path, "damaged shard table: a row of " + std::to_string(fields.size()) + " fields");
        try {
            out.paths.push_back(fields[0]);
            out.sha256s.push_back(fields[1]);
            out.file_sizes.push_back(std::stoll(fields[2]));
            out.widths.push_back(std::stoi(fields[3]));
            out.heights.push_back(std::stoi(fields[4]));
            out.breeds.push_back(fields[5]);
            out.breed_probabilities.push_back(std::stod(fields[6]));
        } catch (const std::exception&) {
            throw Error(table_path, "damaged shard table: a number that is not one in row " + std::to_string(out.paths.size()));
        }
    }
    const std::string npy_path = job.shard_file(shard, ".npy");
    NpyArray array = read_npy(npy_path);
    const int64_t rows = int64_t(out.paths.size());
    if (array.shape.size() != 2 || array.shape[0] != rows || array.shape[1] != job.dimension)
        throw Error(npy_path, "does not match its table (" + std::to_string(rows) + " x " + std::to_string(job.dimension) + ")");
    out.vectors = FloatRows{rows, job.dimension, std::move(array.data)};
    const std::string failures_path = job.shard_file(shard, ".failed.tsv");
    std::istringstream failures(read_file(failures_path));
    if (!std::getline(failures, line) || line != kFailureTableHeader)
        throw Error(failures_path, "not a pupembed failure table (its first line)");
    while (std::getline(failures, line)) {
        const size_t tab = line.find('\t');
        if (tab == std::string::npos) throw Error(failures_path, "damaged failure table: a row without a reason");
        out.failures.push_back({line.substr(0, tab), line.substr(tab + 1)});
    }
    return out;
}

int64_t remove_job_temporaries(const EmbeddingJob& job) {
    int64_t removed = 0;
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(job.folder, error)) {
        const std::string name = entry.path().filename().string();
        if (name.rfind("shard-", 0) == 0 && name.find(".tmp.") != std::string::npos && fs::remove(entry.path(), error)) ++removed;
    }
    return removed;
}

}  // namespace pupembed
