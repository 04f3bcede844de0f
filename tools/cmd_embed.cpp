// pupembed embed --model M IMAGES_OR_DIRS -o out.npy
//      | embed --shard I/N IMAGES_OR_DIRS -o JOB [--shard-size 10000]    (a job folder, in shards)
#include <cstdio>
#include <memory>

#include "common.hpp"
#include "pupembed/core/clock.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/inference/embed.hpp"
#include "pupembed/inference/embedder.hpp"
#include "pupembed/inference/embedding_job.hpp"
#include "pupembed/io/npy.hpp"
#include "pupembed/model/model.hpp"

namespace pupembed::cli {
namespace {

struct EmbedOptions {
    std::string model, output, shard;
    std::vector<std::string> inputs;
    bool skip_bad = false, json = false;
    std::string large_input = "on";
    int64_t shard_size = kDefaultShardSize;
    RuntimeOptions runtime;
};

/// Embeds the unfinished shards of part I/N of the job in o.output.
void embed_shards(const EmbedOptions& o, const CLI::App& command) {
    const auto [part, parts] = shard_part(o.shard);
    const std::string model_path = model_path_or_default(o.model);
    Model model = load_model_for_inference(model_path);
    EmbeddingJob job;
    if (o.inputs.empty()) {
        job = read_embedding_job(o.output);
        require_job_model(job, model_path);
    } else {
        std::vector<std::string> passed_over, refused;
        const auto paths = collect_image_paths(o.inputs, &passed_over);
        for (const auto& entry : passed_over) std::fprintf(stderr, "skipped %s\n", entry.c_str());
        JobSettings settings;  // what is not given is the job's, for a job that exists
        if (command.count("--shard-size") > 0) settings.shard_size = o.shard_size;
        if (command.count("--large-input") > 0) settings.large_input = o.large_input == "on";
        job = open_embedding_job(o.output, paths, model_path, model, settings, &refused);
        for (const auto& path : refused) std::fprintf(stderr, "skipped %s: a tab or newline in its name\n", path.c_str());
    }
    job_model_settings(job, model);
    const std::vector<int64_t> shards = job.unfinished_shards(part, parts);
    int64_t mine = 0;
    for (int64_t shard = part; shard < job.shard_count; shard += parts) ++mine;
    FILE* out = o.json ? stderr : stdout;
    std::fprintf(out, "%s: part %lld/%lld: %lld of its %lld shards to embed (%lld photos in %lld shards in all, %lld new)\n",
                 o.output.c_str(), static_cast<long long>(part), static_cast<long long>(parts),
                 static_cast<long long>(shards.size()), static_cast<long long>(mine), static_cast<long long>(job.photos),
                 static_cast<long long>(job.shard_count), static_cast<long long>(job.added_photos));
    std::fflush(out);
    InferenceOptions inference = start_inference(o.runtime, "embed");
    inference.on_progress = nullptr;  // a line per shard instead
    BatchEmbedder embedder(model, inference);
    const auto start = Clock::now();
    int64_t embedded = 0, failed = 0;
    for (const int64_t shard : shards) {
        const ShardReport report = embed_job_shard(job, shard, embedder);
        embedded += report.embedded;
        failed += report.failed;
        std::fprintf(out, "shard %lld: %lld embedded, %lld failed, %.1f s (%.0f photos/s)\n", static_cast<long long>(shard),
                     static_cast<long long>(report.embedded), static_cast<long long>(report.failed), report.seconds,
                     double(report.embedded + report.failed) / std::max(report.seconds, 1e-9));
        std::fflush(out);
    }
    const double seconds = seconds_since(start);
    if (o.json) {
        print_json({{"job", o.output},
                    {"part", part},
                    {"parts", parts},
                    {"shards", mine},
                    {"photos_added_to_job", job.added_photos},
                    {"embedded_shards", shards.size()},
                    {"skipped_shards", mine - int64_t(shards.size())},
                    {"photos_embedded", embedded},
                    {"photos_failed", failed},
                    {"seconds", seconds},
                    {"photos_per_second", double(embedded + failed) / std::max(seconds, 1e-9)}});
        return;
    }
    std::printf("part %lld/%lld done: %lld shards embedded, %lld were done already; %lld photos, %lld failed (see "
                "shard-*.failed.tsv), %.0f photos/s\n",
                static_cast<long long>(part), static_cast<long long>(parts), static_cast<long long>(shards.size()),
                static_cast<long long>(mine - int64_t(shards.size())), static_cast<long long>(embedded),
                static_cast<long long>(failed), double(embedded + failed) / std::max(seconds, 1e-9));
}

}  // namespace

void register_embed(CLI::App& app) {
    auto o = std::make_shared<EmbedOptions>();
    CLI::App* command = app.add_subcommand(
        "embed",
        "Embed photos: one unit vector per photo into a NumPy .npy, with a .tsv of the photos' paths beside\n"
        "it. Folders are searched recursively. Photos are decoded on another thread while the network runs.\n"
        "With --shard I/N, -o is a job folder and the photos go in shards of --shard-size (each a .npy and\n"
        "a .tsv, written whole or not at all): this run embeds the unfinished shards k with k mod N = I, so N\n"
        "runs (a Slurm array, a Kubernetes indexed job, GNU parallel) embed the whole job, a rerun skips\n"
        "finished shards, and `pupembed index import JOB --db GALLERY` loads them. Photos the job lacks are\n"
        "added to it as new shards after its last: finished shards never move. IMAGES may be left out\n"
        "when the job folder exists. python3 -m pupembed.distributed runs a job on a Dask cluster.");
    command->add_option("IMAGES", o->inputs, "Image files and folders");
    command->add_option("-m,--model", o->model, "Model file (default: $PUPEMBED_MODEL, else the shipped default model)");
    command->add_option("-o,--output", o->output, "The .npy to write; with --shard, the job folder")->required();
    command->add_flag("--skip-bad", o->skip_bad, "Skip unreadable photos (listed on stderr) instead of stopping");
    command->add_option("--shard", o->shard, "Embed part I of N of a job folder (0 <= I < N), e.g. 0/4");
    command->add_option("--shard-size", o->shard_size, "--shard: photos per shard of a new job (an existing job keeps its own)")
        ->check(CLI::Range(int64_t(1), int64_t(10'000'000)))
        ->capture_default_str();
    command->add_option("--large-input", o->large_input,
                        "on: photos with the pixels for it run at the model's large input (quality); off: every photo at\n"
                        "its base input (faster on large photos). A job folder records it (default: an existing job's)")
        ->check(CLI::IsMember({"on", "off"}))
        ->capture_default_str();
    command->add_flag("--json", o->json, "--shard: print the summary as JSON");
    add_runtime_options(*command, o->runtime);
    command->callback([o, command] {
        if (!o->shard.empty()) {
            if (o->skip_bad) throw CLI::ValidationError("--skip-bad: a job never stops for a photo (see shard-*.failed.tsv)");
            embed_shards(*o, *command);
            return;
        }
        for (const char* name : {"--shard-size", "--json"})
            if (command->count(name) > 0) throw CLI::ValidationError(std::string(name) + " needs --shard");
        if (o->inputs.empty()) throw CLI::ValidationError("IMAGES: give the photos to embed");
        o->model = model_path_or_default(o->model);
        Model model = load_model_for_inference(o->model);
        if (o->large_input == "off") model.info.preprocessing.large_input_size = 0;
        std::vector<std::string> passed_over;
        const auto paths = collect_image_paths(o->inputs, &passed_over);
        for (const auto& entry : passed_over) std::fprintf(stderr, "skipped %s\n", entry.c_str());
        const EmbeddingSet set = embed_images(model, paths, start_inference(o->runtime, "embed"), o->skip_bad);
        finish_progress();
        for (const auto& failure : set.failures) std::fprintf(stderr, "skipped %s\n", failure.c_str());
        write_embedding_set(o->output, set, o->model);
        std::printf("wrote %s (%lld x %lld) and %s; %.0f images/s%s\n", o->output.c_str(),
                    static_cast<long long>(set.vectors.rows), static_cast<long long>(set.vectors.columns),
                    row_table_path(o->output).c_str(), double(set.paths.size()) / set.seconds,
                    set.failures.empty() ? "" : (", " + std::to_string(set.failures.size()) + " skipped").c_str());
    });
}

}  // namespace pupembed::cli
