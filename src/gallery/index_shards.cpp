#include "pupembed/gallery/index_shards.hpp"

#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "gallery/compressed_index.hpp"
#include "pupembed/core/clock.hpp"
#include "pupembed/core/error.hpp"

namespace pupembed {

namespace fs = std::filesystem;

namespace {

std::string trained_path(const std::string& folder) { return folder + "/trained.ivfpq"; }
std::string shard_vectors_path(const std::string& folder) { return folder + "/vectors"; }
std::string shard_path(const std::string& folder, int shard, int shards) {
    char name[64];
    std::snprintf(name, sizeof(name), "/shard-%05d-of-%05d.ivfpq", shard, shards);
    return folder + name;
}

/// The plan in a folder: the trained index and what its note says.
struct Plan {
    std::string folder;
    IvfPqIndex trained;
    nlohmann::json note;
    int64_t dimension = 0, rows = 0;
    int shards = 0;

    std::pair<int64_t, int64_t> rows_of(int shard) const {
        const int64_t first = rows * shard / shards;
        return {first, rows * (shard + 1) / shards - first};
    }
};

Plan read_plan(const std::string& gallery_path) {
    const std::string folder = index_shards_folder(gallery_path), path = trained_path(folder);
    std::error_code error;
    if (!fs::exists(path, error))
        throw Error(gallery_path, "has no index shards planned (" + path + " is missing): plan them with `pupembed index build --db " +
                                      gallery_path + " --shards N`", ErrorKind::BadInput);
    IvfFile file = read_ivf_file(path);
    const nlohmann::json& note = file.note;
    const int64_t rows = note.value("rows", int64_t(-1));
    const int shards = note.value("shards", 0);
    if (note.value("kind", std::string()) != "trained" || rows < 1 || shards < 1 || shards > kMaxIndexShards || shards > rows ||
        !note.value("gallery", nlohmann::json()).is_string() || note.value("generation", int64_t(-1)) < 0)
        throw Error(path, "damaged plan of index shards (its note: " + file.contents.note + ")");
    Plan plan{folder, IvfPqIndex::deserialise(file.contents.payload, file.contents.dimension, 0, 0, path), note,
              file.contents.dimension, rows, shards};
    return plan;
}

/// Whether a shard file's note says it is shard `shard` of `plan`, for its rows.
bool shard_note_matches(const nlohmann::json& note, const Plan& plan, int shard) {
    const auto [first, rows] = plan.rows_of(shard);
    return note.value("kind", std::string()) == "shard" && note.value("gallery", std::string()) == plan.note["gallery"] &&
           note.value("generation", int64_t(-1)) == plan.note["generation"] && note.value("shard", -1) == shard &&
           note.value("shards", 0) == plan.shards && note.value("first_row", int64_t(-1)) == first &&
           note.value("rows", int64_t(-1)) == rows;
}

/// Shard `shard` of `plan` as written, checked whole: its note, its rows (each of its range once)
/// and its training (the plan's). Throws Error naming the file.
IvfPqIndex read_shard(const Plan& plan, int shard) {
    const std::string path = shard_path(plan.folder, shard, plan.shards);
    IvfFile file = read_ivf_file(path);
    if (!shard_note_matches(file.note, plan, shard) || file.contents.dimension != plan.dimension)
        throw Error(path, "was not encoded for this plan (its note: " + file.contents.note + ")");
    const auto [first, rows] = plan.rows_of(shard);
    IvfPqIndex index = IvfPqIndex::deserialise(file.contents.payload, plan.dimension, first, rows, path);
    if (!plan.trained.same_training(index)) throw Error(path, "was encoded with another trained index than " + trained_path(plan.folder));
    return index;
}

/// The plan's vector file, checked whole and against the plan's note. Throws Error naming it.
std::shared_ptr<const HalfVectorFile> open_plan_vectors(const Plan& plan) {
    auto vectors = HalfVectorFile::open(shard_vectors_path(plan.folder));
    const auto note = nlohmann::json::parse(vectors->note(), nullptr, false);
    if (!note.is_object() || note.value("gallery", std::string()) != plan.note["gallery"] ||
        note.value("generation", int64_t(-1)) != plan.note["generation"] || vectors->size() != plan.rows ||
        vectors->dimension() != plan.dimension)
        throw Error(vectors->path(), "does not belong with " + trained_path(plan.folder) + " (plan the shards again)");
    return vectors;
}

bool shard_done(const Plan& plan, int shard) {
    std::error_code error;
    if (!fs::exists(shard_path(plan.folder, shard, plan.shards), error)) return false;
    try {
        read_shard(plan, shard);
        return true;
    } catch (const Error&) {
        return false;  // encoded again
    }
}

}  // namespace

std::string index_shards_folder(const std::string& gallery_path) { return gallery_path + ".ivfpq-shards"; }

IndexShardsPlan plan_index_shards(Gallery& gallery, int shards, const IvfPqSettings& settings) {
    gallery.check_writable("build its search index");
    const CompressedIndexSource source = gallery.compressed_source();
    if (shards < 1 || shards > kMaxIndexShards)
        throw Error("--shards " + std::to_string(shards), "must be 1 to " + std::to_string(kMaxIndexShards), ErrorKind::BadInput);
    if (shards > source.rows)
        throw Error("--shards " + std::to_string(shards), "is more than the gallery's " + std::to_string(source.rows) + " photos",
                    ErrorKind::BadInput);
    const std::string folder = index_shards_folder(source.gallery_path);
    std::error_code error;
    try {
        // A plan for the gallery as it is, with these settings, is kept with its finished shards
        // (a rerun): training again would give the same index.
        const Plan plan = read_plan(source.gallery_path);
        open_plan_vectors(plan);
        if (plan.note["gallery"] == source.uid && plan.note["generation"] == source.generation && plan.rows == source.rows &&
            plan.shards == shards && plan.dimension == source.dimension &&
            (settings.lists <= 0 || plan.trained.lists() == settings.lists) &&
            (settings.sub_quantizers <= 0 || plan.trained.sub_quantizers() == settings.sub_quantizers))
            return {folder, source.rows, shards, plan.trained.lists(), plan.trained.sub_quantizers(),
                    plan.note.value("training_rows", int64_t(0)), 0, 0, true};
    } catch (const Error&) {
        // none, or not whole: planned again
    }
    fs::remove_all(folder, error);  // an earlier plan's files, encoded with another training
    fs::create_directories(folder, error);
    if (error) throw Error(folder, "cannot make the folder of index shards: " + error.message());
    TrainedCompressedIndex trained = train_compressed_index(source, settings, shard_vectors_path(folder));
    nlohmann::json note = compressed_index_note(source, source.rows);
    note["kind"] = "trained";
    note["shards"] = shards;
    note["lists"] = trained.ivf.lists();
    note["sub_quantizers"] = trained.ivf.sub_quantizers();
    note["training_rows"] = trained.training_rows;
    write_ivf_file(trained_path(folder), source.dimension, note, trained.ivf);
    return {folder, source.rows, shards, trained.ivf.lists(), trained.ivf.sub_quantizers(), trained.training_rows,
            trained.writing_seconds, trained.training_seconds, false};
}

IndexShardReport add_index_shard(const std::string& gallery_path, int shard, int shards) {
    const auto start = Clock::now();
    Plan plan = read_plan(gallery_path);
    if (shards != plan.shards)
        throw Error("--shard " + std::to_string(shard) + "/" + std::to_string(shards),
                    "the plan in " + plan.folder + " has " + std::to_string(plan.shards) + " shards", ErrorKind::BadInput);
    if (shard < 0 || shard >= shards)
        throw Error("--shard " + std::to_string(shard) + "/" + std::to_string(shards), "needs 0 <= I < N", ErrorKind::BadInput);
    const auto [first, rows] = plan.rows_of(shard);
    IndexShardReport report{shard, shards, first, rows, false, 0, shard_path(plan.folder, shard, shards)};
    if (shard_done(plan, shard)) {
        report.skipped = true;
        report.seconds = seconds_since(start);
        return report;
    }
    add_vector_rows(plan.trained, *open_plan_vectors(plan), first, rows);
    nlohmann::json note = {{"kind", "shard"}, {"gallery", plan.note["gallery"]}, {"generation", plan.note["generation"]},
                           {"shard", shard}, {"shards", shards}, {"first_row", first}, {"rows", rows}};
    write_ivf_file(report.path, plan.dimension, note, plan.trained);
    report.seconds = seconds_since(start);
    return report;
}

std::vector<int> unfinished_index_shards(const std::string& gallery_path) {
    const Plan plan = read_plan(gallery_path);
    std::vector<int> unfinished;
    for (int shard = 0; shard < plan.shards; ++shard)
        if (!shard_done(plan, shard)) unfinished.push_back(shard);
    return unfinished;
}

IndexShardsMerge merge_index_shards(Gallery& gallery) {
    const auto start = Clock::now();
    gallery.check_writable("record its search index");
    const CompressedIndexSource source = gallery.compressed_source();
    Plan plan = read_plan(source.gallery_path);
    if (plan.note["gallery"] != source.uid || plan.note["generation"] != source.generation || plan.rows != source.rows)
        throw Error(source.gallery_path, "changed since its index shards were planned (generation " + plan.note["generation"].dump() +
                                             ", now " + std::to_string(source.generation) + "): plan them again with --shards",
                    ErrorKind::BadInput);
    std::vector<int> missing;
    std::error_code error;
    for (int shard = 0; shard < plan.shards; ++shard)
        if (!fs::exists(shard_path(plan.folder, shard, plan.shards), error)) missing.push_back(shard);
    if (!missing.empty()) {
        std::string list;
        for (size_t i = 0; i < missing.size() && i < 10; ++i) list += (i ? ", " : "") + std::to_string(missing[i]);
        if (missing.size() > 10) list += ", ...";
        throw Error(plan.folder, std::to_string(missing.size()) + " of " + std::to_string(plan.shards) + " shards are not encoded yet (" +
                                     list + "): run `pupembed index build --db " + source.gallery_path + " --shard I/" +
                                     std::to_string(plan.shards) + "` for them", ErrorKind::BadInput);
    }
    // In shard order, so that each list holds its rows in order: the index a single build makes.
    for (int shard = 0; shard < plan.shards; ++shard) {
        IvfPqIndex part = read_shard(plan, shard);
        plan.trained.merge(part);
    }
    const std::string vectors_path = open_plan_vectors(plan)->path();
    // The vectors first (as a build writes them): until the index follows, the two do not match
    // and a search builds the index again rather than reading codes of other rows.
    fs::rename(vectors_path, vector_file_path(source.gallery_path), error);
    if (error) throw Error(vector_file_path(source.gallery_path), "cannot move the shards' vectors here: " + error.message());
    save_compressed_index(source, plan.trained, source.rows);
    gallery.set_chosen_index(index_kind_name(IndexKind::IvfPq));
    fs::remove_all(plan.folder, error);
    return {source.rows, plan.shards, plan.trained.memory_bytes(), seconds_since(start)};
}

}  // namespace pupembed
