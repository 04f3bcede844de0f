// pupembed index add PHOTOS... --db G | index import JOB --db G | index build --db G | index prune --db G |
// index build --db G (--shards N | --shard I/N | --merge) | index rm ID_OR_PATH... --db G | index stats --db G
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "gallery_common.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/gallery/ingest.hpp"
#include "pupembed/core/clock.hpp"
#include "pupembed/gallery/index_shards.hpp"
#include "pupembed/gallery/job_import.hpp"
#include "pupembed/gallery/search.hpp"
#include "pupembed/inference/embed.hpp"
#include "pupembed/model/threads.hpp"


namespace pupembed::cli {
namespace {

void register_add(CLI::App& index) {
    struct Options {
        std::vector<std::string> inputs;
        std::string db, model;
        bool reembed = false, strict = false, json = false;
        RuntimeOptions runtime;
    };
    auto o = std::make_shared<Options>();
    CLI::App* command = index.add_subcommand(
        "add",
        "Embed photos into a gallery (made when absent). Folders are searched recursively. Photos already\n"
        "there with the same contents (SHA-256) are skipped, changed ones re-embedded. Each batch is one\n"
        "transaction: a run that is stopped or killed keeps every batch finished before.");
    command->add_option("PHOTOS", o->inputs, "Photo files and folders")->required();
    command->add_option("--db", o->db, "Gallery file")->required();
    command->add_option("-m,--model", o->model, "Model file (default: the gallery's own model, else the shipped default)");
    command->add_flag("--reembed", o->reembed, "Re-embed every photo of the gallery too (needed to switch it to another model)");
    command->add_flag("--strict", o->strict, "Stop at an unreadable photo instead of skipping it");
    command->add_flag("--json", o->json, "Print the outcome as JSON");
    add_runtime_options(*command, o->runtime);
    command->callback([o] {
        Gallery gallery = Gallery::open(o->db, true);
        const std::string model_path = model_path_for_gallery(o->model, o->reembed ? nullptr : &gallery);
        Model model = load_model_for_inference(model_path);
        const GalleryModel identity = gallery_model_of(model_path, model);
        BatchEmbedder embedder(model, start_inference(o->runtime, "index add"));
        IngestOptions options;
        options.reembed = o->reembed;
        options.skip_bad = !o->strict;
        std::vector<std::string> passed_over;
        const auto paths = collect_image_paths(o->inputs, &passed_over);
        IngestReport report = add_to_gallery(gallery, embedder, identity, paths, options);
        report.failures.insert(report.failures.begin(), passed_over.begin(), passed_over.end());
        finish_progress();
        for (const auto& failure : report.failures) std::fprintf(stderr, "skipped %s\n", failure.c_str());
        for (const auto& warning : report.warnings) std::fprintf(stderr, "pupembed: warning: %s\n", warning.c_str());
        if (o->json) {
            nlohmann::json out = ingest_json(report, identity, gallery);
            out["gallery"] = o->db;
            print_json(out);
            return;
        }
        const double rate = report.embed_seconds > 0 ? double(report.embedded) / report.embed_seconds : 0.0;
        std::printf("%s: %lld added, %lld updated, %lld unchanged, %zu unreadable; %lld photos embedded in %.1f s "
                    "(%.0f images/s); the gallery holds %lld photos\n",
                    o->db.c_str(), static_cast<long long>(report.added), static_cast<long long>(report.updated),
                    static_cast<long long>(report.unchanged), report.failures.size(),
                    static_cast<long long>(report.embedded), report.embed_seconds, rate,
                    static_cast<long long>(gallery.size()));
    });
}

void register_import(CLI::App& index) {
    struct Options {
        std::string job, db;
        bool json = false;
    };
    auto o = std::make_shared<Options>();
    CLI::App* command = index.add_subcommand(
        "import",
        "Load a job folder's shards (`pupembed embed --shard`, python3 -m pupembed.distributed) into a gallery\n"
        "(made when absent) without running the network. Photos already there with the same contents and\n"
        "model are left as they are; each shard is one transaction, so an import can be stopped and rerun.");
    command->add_option("JOB", o->job, "Job folder")->required();
    command->add_option("--db", o->db, "Gallery file")->required();
    command->add_flag("--json", o->json, "Print the outcome as JSON");
    command->callback([o] {
        Gallery gallery = Gallery::open(o->db, true);
        const JobImportReport report = import_embedding_job(gallery, o->job);
        for (const auto& warning : report.warnings) std::fprintf(stderr, "pupembed: warning: %s\n", warning.c_str());
        if (o->json) {
            nlohmann::json out = job_import_json(report, o->job, gallery);
            out["gallery"] = o->db;
            print_json(out);
            return;
        }
        std::printf("%s: %lld shards, %lld photos (%lld added, %lld updated, %lld unchanged) in %.1f s (%.0f rows/s)%s; "
                    "the gallery holds %lld photos\n",
                    o->db.c_str(), static_cast<long long>(report.shards), static_cast<long long>(report.rows),
                    static_cast<long long>(report.added), static_cast<long long>(report.updated),
                    static_cast<long long>(report.unchanged), report.seconds,
                    double(report.rows) / std::max(report.seconds, 1e-9),
                    report.missing_shards ? (", " + std::to_string(report.missing_shards) + " shards not finished yet").c_str()
                                          : "",
                    static_cast<long long>(gallery.size()));
    });
}

void register_prune(CLI::App& index) {
    struct Options {
        std::string db;
        bool json = false;
    };
    auto o = std::make_shared<Options>();
    CLI::App* command = index.add_subcommand("prune", "Drop the photos whose file no longer exists.");
    command->add_option("--db", o->db, "Gallery file")->required();
    command->add_flag("--json", o->json, "Print JSON");
    command->callback([o] {
        Gallery gallery = Gallery::open(o->db, false);
        const auto gone = prune_gallery(gallery);
        if (o->json) {
            nlohmann::json removed = nlohmann::json::array();
            for (const auto& image : gone) removed.push_back(image_json(image));
            print_json({{"gallery", o->db}, {"removed", removed}, {"size", gallery.size()}});
            return;
        }
        for (const auto& image : gone) std::printf("removed #%lld %s\n", static_cast<long long>(image.id), image.path.c_str());
        std::printf("%s: %zu removed; the gallery holds %lld photos\n", o->db.c_str(), gone.size(),
                    static_cast<long long>(gallery.size()));
    });
}

void register_rm(CLI::App& index) {
    struct Options {
        std::vector<std::string> items;
        std::string db;
        bool json = false;
    };
    auto o = std::make_shared<Options>();
    CLI::App* command = index.add_subcommand("rm", "Remove photos from the gallery (not from the disk), by id (#12) or path.");
    command->add_option("PHOTO", o->items, "Gallery ids (#12 or 12) or photo paths")->required();
    command->add_option("--db", o->db, "Gallery file")->required();
    command->add_flag("--json", o->json, "Print JSON");
    command->callback([o] {
        Gallery gallery = Gallery::open(o->db, false);
        std::vector<int64_t> ids;
        std::vector<GalleryImage> removed;
        for (const auto& item : o->items) {
            long long id = 0;
            std::optional<GalleryImage> image;
            if (parse_gallery_id(item, id) || parse_gallery_id("#" + item, id)) image = gallery.find(id);
            if (!image) image = gallery.find_path(item);
            if (!image) throw Error(item, "not in " + o->db + " (give a gallery id or the path it was added with)");
            ids.push_back(image->id);
            removed.push_back(*image);
        }
        gallery.remove(ids);
        if (o->json) {
            nlohmann::json out = nlohmann::json::array();
            for (const auto& image : removed) out.push_back(image_json(image));
            print_json({{"gallery", o->db}, {"removed", out}, {"size", gallery.size()}});
            return;
        }
        for (const auto& image : removed) std::printf("removed #%lld %s\n", static_cast<long long>(image.id), image.path.c_str());
        std::printf("%s: the gallery holds %lld photos\n", o->db.c_str(), static_cast<long long>(gallery.size()));
    });
}

/// Recall@10 of each index with its default settings on embedding-like 248-d vectors (README
/// "Galleries past memory"): exact; HNSW at 1 million (0.9189); IVF-PQ, the lower of 1 and 10
/// million (0.9928, 0.9542).
double expected_recall(IndexKind kind) {
    switch (kind) {
        case IndexKind::Exact: return 1.0;
        case IndexKind::Hnsw: return 0.92;
        case IndexKind::IvfPq: return 0.95;
    }
    return 0;
}

struct BuildOptions {
    std::string db, index = "auto", shard;
    uint64_t memory_budget = 0;
    int lists = 0, shards = 0, threads = 0;
    bool merge = false, json = false;
};

/// The files an index of `kind` keeps beside the gallery, with their sizes.
nlohmann::json index_files_json(const std::string& db, IndexKind kind) {
    const std::vector<std::string> suffixes = kind == IndexKind::Hnsw    ? std::vector<std::string>{".index"}
                                              : kind == IndexKind::IvfPq ? std::vector<std::string>{".ivfpq", ".vectors"}
                                                                         : std::vector<std::string>{};
    nlohmann::json files = nlohmann::json::array();
    for (const std::string& suffix : suffixes) {
        std::error_code error;
        const auto bytes = std::filesystem::file_size(db + suffix, error);
        if (!error) files.push_back({{"path", db + suffix}, {"bytes", bytes}});
    }
    return files;
}

void print_index_files(const nlohmann::json& files) {
    for (const auto& file : files)
        std::printf("  file:     %s (%.1f MB)\n", file["path"].get<std::string>().c_str(), double(file["bytes"].get<int64_t>()) / 1e6);
}

/// A report as JSON, with the gallery it is about.
void print_json_of_gallery(const std::string& db, nlohmann::json report) {
    report["gallery"] = db;
    print_json(report);
}

/// `index build` in one process: choose, build, record.
void build_index(const BuildOptions& o) {
    Gallery gallery = Gallery::open(o.db, false);
    gallery.check_writable("record its search index");
    const int64_t photos = gallery.size();
    const int64_t dimension = gallery.model().dimension;
    if (photos == 0) throw Error(o.db, "the gallery is empty: add photos first (`pupembed index add PHOTOS --db " + o.db + "`)");
    IndexPlan plan;
    if (o.index == "auto") {
        plan = plan_index(photos, dimension, int64_t(o.memory_budget));
    } else {
        plan.kind = index_kind_from_name(o.index);
        plan.memory_bytes = index_memory_estimate(plan.kind, photos, dimension);
        plan.reason = "as asked with --index " + o.index;
    }
    if (!o.json)
        std::fprintf(stderr, "%s: %lld photos; building the %s index (%s)...\n", o.db.c_str(), static_cast<long long>(photos),
                     index_kind_name(plan.kind).c_str(), plan.reason.c_str());
    IvfPqSettings ivf;
    ivf.lists = o.lists;
    const auto start = Clock::now();
    const auto built = gallery.index(plan.kind, {}, ivf);
    const double seconds = seconds_since(start);
    gallery.set_chosen_index(index_kind_name(plan.kind));
    std::vector<std::string> warnings = gallery.take_warnings();
    if (o.memory_budget > 0 && built->memory_bytes() > int64_t(o.memory_budget))
        warnings.push_back("the index holds " + std::to_string(built->memory_bytes() / 1000000) + " MB, more than --memory-budget");
    const nlohmann::json files = index_files_json(o.db, plan.kind);
    if (o.json) {
        print_json({{"gallery", o.db}, {"photos", photos}, {"index", index_kind_name(plan.kind)}, {"reason", plan.reason},
                    {"memory_bytes", built->memory_bytes()}, {"memory_estimate_bytes", plan.memory_bytes},
                    {"expected_recall_at_10", expected_recall(plan.kind)}, {"seconds", seconds}, {"how", gallery.index_origin()},
                    {"files", files}, {"warnings", warnings}});
        return;
    }
    for (const auto& warning : warnings) std::fprintf(stderr, "warning: %s\n", warning.c_str());
    std::printf("%s: %s index of %lld photos in %.1f s%s%s\n  memory:   %.1f MB (%.0f bytes a photo)\n"
                "  recall:   Recall@10 about %.2f with the default settings (measured on millions of embedding-like vectors)\n",
                o.db.c_str(), index_kind_name(plan.kind).c_str(), static_cast<long long>(photos), seconds,
                gallery.index_origin().empty() ? "" : ": ", gallery.index_origin().c_str(), double(built->memory_bytes()) / 1e6,
                double(built->memory_bytes()) / double(photos), expected_recall(plan.kind));
    print_index_files(files);
    std::printf("  searches with --index auto now use it\n");
}

/// --shards N: step 1 of a build in shards.
void plan_shards(const BuildOptions& o) {
    Gallery gallery = Gallery::open(o.db, false);
    if (!o.json)
        std::fprintf(stderr, "%s: %lld photos; writing their vectors and training the IVF-PQ index for %d shards...\n", o.db.c_str(),
                     static_cast<long long>(gallery.size()), o.shards);
    IvfPqSettings ivf;
    ivf.lists = o.lists;
    const IndexShardsPlan plan = plan_index_shards(gallery, o.shards, ivf);
    if (o.json) {
        print_json_of_gallery(o.db, index_shards_plan_json(plan));
        return;
    }
    if (plan.kept)
        std::printf("%s: the plan of %d shards in %s is for the gallery as it is: kept, with its finished shards\n", o.db.c_str(),
                    plan.shards, plan.folder.c_str());
    else
        std::printf("%s: planned %d shards of about %lld photos in %s\n  trained:  %d lists, %d bytes a code, on %lld photos "
                    "(vectors written in %.1f s, training %.1f s)\n",
                    o.db.c_str(), plan.shards, static_cast<long long>(plan.photos / plan.shards), plan.folder.c_str(), plan.lists,
                    plan.sub_quantizers, static_cast<long long>(plan.training_rows), plan.writing_seconds, plan.training_seconds);
    std::printf("  next:     pupembed index build --db %s --shard I/%d, for I = 0 .. %d "
                "(on any machine that reaches the folder),\n            then pupembed index build --db %s --merge\n",
                o.db.c_str(), plan.shards, plan.shards - 1, o.db.c_str());
}

/// --shard I/N: step 2.
void add_shard(const BuildOptions& o) {
    const auto [shard, shards] = shard_part(o.shard);
    if (!o.json)
        std::fprintf(stderr, "%s: encoding shard %lld of %lld...\n", o.db.c_str(), static_cast<long long>(shard), static_cast<long long>(shards));
    const IndexShardReport report = add_index_shard(o.db, int(shard), int(shards));
    if (o.json) {
        print_json_of_gallery(o.db, index_shard_json(report));
        return;
    }
    if (report.skipped)
        std::printf("shard %d/%d: encoded before (%s), skipped\n", report.shard, report.shards, report.path.c_str());
    else
        std::printf("shard %d/%d: %lld photos encoded in %.1f s (%.0f photos/s) into %s\n", report.shard, report.shards,
                    static_cast<long long>(report.rows), report.seconds, double(report.rows) / std::max(report.seconds, 1e-9),
                    report.path.c_str());
}

/// --merge: step 3.
void merge_shards(const BuildOptions& o) {
    Gallery gallery = Gallery::open(o.db, false);
    const IndexShardsMerge merged = merge_index_shards(gallery);
    const nlohmann::json files = index_files_json(o.db, IndexKind::IvfPq);
    if (o.json) {
        nlohmann::json out = index_shards_merge_json(merged);
        out["expected_recall_at_10"] = expected_recall(IndexKind::IvfPq);
        out["files"] = files;
        print_json_of_gallery(o.db, out);
        return;
    }
    std::printf("%s: ivfpq index of %lld photos merged from %d shards in %.1f s\n  memory:   %.1f MB (%.0f bytes a photo)\n"
                "  recall:   Recall@10 about %.2f with the default settings (measured on millions of embedding-like vectors)\n",
                o.db.c_str(), static_cast<long long>(merged.photos), merged.shards, merged.seconds, double(merged.memory_bytes) / 1e6,
                double(merged.memory_bytes) / double(merged.photos), expected_recall(IndexKind::IvfPq));
    print_index_files(files);
    std::printf("  searches with --index auto now use it\n");
}

void register_build(CLI::App& index) {
    auto o = std::make_shared<BuildOptions>();
    CLI::App* command = index.add_subcommand(
        "build",
        "Choose the gallery's search index, build it and record the choice, so that searches with --index auto (the\n"
        "default, also in `serve` and the Python module) use it. The rule (--index auto): under " +
            std::to_string(kApproximateSearchFrom) + " photos the exact scan;\n"
            "under " + std::to_string(kCompressedIndexFrom) + " an HNSW graph (about 1.2 KB a photo at 248-d, fastest); from there a compressed IVF-PQ\n"
            "index (about 70 bytes a photo in memory, its float16 vectors in a file beside the gallery, mapped, for\n"
            "re-ranking). With --memory-budget, the first of these that fits. Writes GALLERY.index (HNSW) or\n"
            "GALLERY.ivfpq and GALLERY.vectors (IVF-PQ).\n\n"
            "An IVF-PQ index can be built in shards, by several processes or machines, then merged (the same index):\n"
            "  1. index build --db G --shards N     trains it and writes the vectors into G.ivfpq-shards/\n"
            "  2. index build --db G --shard I/N    for I = 0 .. N-1, anywhere that reaches that folder (a Slurm array;\n"
            "                                       Dask: python3 -m pupembed.distributed index); reruns skip done shards\n"
            "  3. index build --db G --merge        checks and merges them into G.ivfpq, and records the choice");
    command->add_option("--db", o->db, "Gallery file")->required();
    command->add_option("--index", o->index, "auto, exact, hnsw or ivfpq")
        ->check(CLI::IsMember({"auto", "exact", "hnsw", "ivfpq"}))
        ->capture_default_str();
    command->add_option("--memory-budget", o->memory_budget, "Most memory the index may hold, e.g. 2G or 500M (default: no limit)")
        ->transform(CLI::AsSizeValue(false));
    command->add_option("--lists", o->lists, "IVF-PQ: k-means cells (default: about 4 sqrt(photos), a power of two)")
        ->check(CLI::Range(1, 1 << 20));
    auto* shards = command->add_option("--shards", o->shards, "IVF-PQ in shards, step 1: train it and plan N shards")
                       ->check(CLI::Range(1, kMaxIndexShards));
    auto* shard = command->add_option("--shard", o->shard, "Step 2: encode shard I of the N planned (I from 0)");
    auto* merge = command->add_flag("--merge", o->merge, "Step 3: merge the shards into the gallery's index");
    shards->excludes(shard)->excludes(merge);
    shard->excludes(merge);
    for (auto* step : {shard, merge}) step->excludes("--lists")->excludes("--memory-budget");
    command->add_option("--threads", o->threads, "Threads (default 0: one per core; a shard's process on a shared machine: its share)")
        ->check(CLI::NonNegativeNumber);
    command->add_flag("--json", o->json, "Print JSON");
    command->callback([o, shards, shard, merge] {
        set_thread_count(o->threads);
        const bool in_shards = shards->count() > 0 || shard->count() > 0 || merge->count() > 0;
        if (in_shards && o->index != "auto" && o->index != "ivfpq")
            throw Error("--index " + o->index, "only an IVF-PQ index is built in shards", ErrorKind::BadInput);
        if (in_shards && o->memory_budget > 0)
            throw Error("--memory-budget", "does not choose for a build in shards (always IVF-PQ)", ErrorKind::BadInput);
        if (shards->count() > 0) return plan_shards(*o);
        if (shard->count() > 0) return add_shard(*o);
        if (merge->count() > 0) return merge_shards(*o);
        build_index(*o);
    });
}

void register_stats(CLI::App& index) {
    struct Options {
        std::string db;
        bool check_files = false, json = false;
    };
    auto o = std::make_shared<Options>();
    CLI::App* command = index.add_subcommand("stats", "What the gallery holds: photos, model, breeds, size on disk, search index.");
    command->add_option("--db", o->db, "Gallery file")->required();
    command->add_flag("--check-files", o->check_files,
                      "Look for every photo's file (the default below " + std::to_string(kApproximateSearchFrom) +
                          " photos; a stat() each: minutes for 10 million)");
    command->add_flag("--json", o->json, "Print JSON (missing_files: null when files were not looked for)");
    command->callback([o] {
        Gallery gallery = Gallery::open(o->db, false);
        const GalleryStats stats = gallery_stats(gallery, o->check_files ? FileCheck::Always : FileCheck::BySize);
        if (o->json) {
            nlohmann::json out = stats_json(stats);
            out["gallery"] = o->db;
            print_json(out);
            return;
        }
        const int input = stats.model.large_input_size;
        const std::string ran = input > 0                                    ? "the large input (" + std::to_string(input) + " px) where a photo has the pixels"
                                : input == 0                                 ? "the base input, every photo"
                                : input == GalleryModel::kInputSizesMixed ? "MIXED: some at the large input, some at the base input"
                                                                             : "(not recorded)";
        std::string index_files;
        for (const auto& [path, bytes] : stats.index_files)
            index_files += (index_files.empty() ? "; " : ", ") + path + " " + std::to_string(bytes / 1000000) + " MB";
        const std::string missing = stats.missing_files < 0 ? "files not looked for: --check-files"
                                                             : std::to_string(stats.missing_files) + " whose file is gone: `pupembed index prune`";
        std::printf("%s\n  photos:     %lld (%s)\n  model:      %s (id %s, %lld-d)\n"
                    "  ran at:     %s\n  file size:  %.1f MB\n  index:      %s (%s%s)\n  breeds:     %zu guessed",
                    o->db.c_str(), static_cast<long long>(stats.photos), missing.c_str(),
                    stats.model.path.empty() ? "(none yet)" : stats.model.path.c_str(), stats.model.id.c_str(),
                    static_cast<long long>(stats.model.dimension), ran.c_str(), double(stats.file_bytes) / 1e6,
                    stats.index.c_str(), stats.index_chosen ? "chosen by `index build`" : "by the gallery's size",
                    index_files.c_str(), stats.breeds.size());
        const auto& ranked = stats.breeds;
        for (size_t i = 0; i < ranked.size() && i < 5; ++i)
            std::printf("%s %s %lld", i == 0 ? ";" : ",", ranked[i].first.c_str(), static_cast<long long>(ranked[i].second));
        std::printf("\n");
    });
}

}  // namespace

void register_index(CLI::App& app) {
    CLI::App* index = app.add_subcommand("index", "Build and look after a gallery of photos (add, import, build, prune, rm, stats).");
    index->require_subcommand(1);
    register_add(*index);
    register_import(*index);
    register_build(*index);
    register_prune(*index);
    register_rm(*index);
    register_stats(*index);
}

}  // namespace pupembed::cli
