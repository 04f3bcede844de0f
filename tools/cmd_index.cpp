// pupembed index add PHOTOS... --db G | index import JOB --db G | index prune --db G | index rm ID_OR_PATH... --db G | index stats --db G
#include <algorithm>
#include <cstdio>
#include <memory>

#include "gallery_common.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/gallery/ingest.hpp"
#include "pupembed/gallery/job_import.hpp"
#include "pupembed/inference/embed.hpp"


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

void register_stats(CLI::App& index) {
    struct Options {
        std::string db;
        bool json = false;
    };
    auto o = std::make_shared<Options>();
    CLI::App* command = index.add_subcommand("stats", "What the gallery holds: photos, model, breeds, size on disk.");
    command->add_option("--db", o->db, "Gallery file")->required();
    command->add_flag("--json", o->json, "Print JSON");
    command->callback([o] {
        Gallery gallery = Gallery::open(o->db, false);
        const GalleryStats stats = gallery_stats(gallery);
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
        std::printf("%s\n  photos:     %lld (%lld whose file is gone: `pupembed index prune`)\n  model:      %s (id %s, %lld-d)\n"
                    "  ran at:     %s\n  file size:  %.1f MB\n  breeds:     %zu guessed",
                    o->db.c_str(), static_cast<long long>(stats.photos), static_cast<long long>(stats.missing_files),
                    stats.model.path.empty() ? "(none yet)" : stats.model.path.c_str(), stats.model.id.c_str(),
                    static_cast<long long>(stats.model.dimension), ran.c_str(), double(stats.file_bytes) / 1e6,
                    stats.breeds.size());
        const auto& ranked = stats.breeds;
        for (size_t i = 0; i < ranked.size() && i < 5; ++i)
            std::printf("%s %s %lld", i == 0 ? ";" : ",", ranked[i].first.c_str(), static_cast<long long>(ranked[i].second));
        std::printf("\n");
    });
}

}  // namespace

void register_index(CLI::App& app) {
    CLI::App* index = app.add_subcommand("index", "Build and look after a gallery of photos (add, import, prune, rm, stats).");
    index->require_subcommand(1);
    register_add(*index);
    register_import(*index);
    register_prune(*index);
    register_rm(*index);
    register_stats(*index);
}

}  // namespace pupembed::cli
