#include "pupembed/gallery/job_import.hpp"

#include "pupembed/core/clock.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/inference/embedding_job.hpp"

namespace pupembed {
namespace {

GalleryModel identity_of(const EmbeddingJob& job) {
    // As gallery_model_of makes it from the model file: the job holds the file's SHA-256.
    return GalleryModel{job.model_sha256.substr(0, 16), job.model_path, job.dimension, job.appearance_dimension,
                        job.large_input_size};
}

}  // namespace

JobImportReport import_embedding_job(Gallery& gallery, const std::string& folder,
                                     const std::function<void(int64_t, int64_t)>& on_progress) {
    const auto start = Clock::now();
    const EmbeddingJob job = read_embedding_job(folder);
    const GalleryModel identity = identity_of(job);
    gallery.check_writable("import a job");
    require_gallery_model(gallery, identity,
                          "import it into a gallery of that model, or make the job again with the gallery's model (" +
                              gallery.model().path + ")");
    JobImportReport report;
    for (int64_t shard = 0; shard < job.shard_count; ++shard) {
        if (!job.shard_done(shard)) {
            ++report.missing_shards;
            continue;
        }
        JobShard rows = read_job_shard(job, shard);
        std::vector<GalleryImage> images(rows.paths.size());
        const std::string now = utc_timestamp();
        for (size_t i = 0; i < images.size(); ++i) {
            GalleryImage& image = images[i];
            image.path = std::move(rows.paths[i]);
            image.content_hash = std::move(rows.sha256s[i]);
            image.file_size = rows.file_sizes[i];
            image.width = rows.widths[i];
            image.height = rows.heights[i];
            image.added = now;
            image.breed = std::move(rows.breeds[i]);
            image.breed_probability = rows.breed_probabilities[i];
        }
        if (!images.empty()) {
            const GalleryPutResult put = gallery.put(identity, images, rows.vectors.values.data());
            report.added += put.added;
            report.updated += put.updated;
            report.unchanged += put.unchanged;
        }
        report.rows += int64_t(images.size());
        ++report.shards;
        if (on_progress) on_progress(shard + 1, job.shard_count);
    }
    report.seconds = seconds_since(start);
    report.warnings = gallery.take_warnings();
    return report;
}

}  // namespace pupembed
