#include "pupembed/gallery/ingest.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>

#include "io/file_lock.hpp"
#include "pupembed/core/clock.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/gallery/gallery_model.hpp"
#include "pupembed/inference/embed.hpp"
#include "pupembed/io/file_io.hpp"
#include "pupembed/io/sha256.hpp"
#include "pupembed/model/model.hpp"

namespace fs = std::filesystem;

namespace pupembed {

IngestReport add_to_gallery(Gallery& gallery, Embedder& embedder, const GalleryModel& identity,
                            const std::vector<std::string>& paths, const IngestOptions& options) {
    const auto start = Clock::now();
    gallery.check_writable("add photos");  // before any photo is read, not after the first batch
    IngestReport report;
    const GalleryModel current = gallery.model();
    const bool switching = !current.id.empty() && current.id != identity.id;
    if (!options.reembed)
        require_gallery_model(gallery, identity,
                              "give --model " + current.path + ", or --reembed to re-embed all " +
                                  std::to_string(gallery.size()) + " photos with " + identity.path);

    // The photos to consider, each once; with --reembed the gallery's own too.
    std::vector<std::string> candidates;
    std::set<std::string> seen;
    auto consider = [&](const std::string& given) {
        std::string path = gallery_path_key(given);
        if (seen.insert(path).second) candidates.push_back(std::move(path));
    };
    for (const auto& path : paths) consider(path);
    if (options.reembed)
        for (const auto& image : gallery.images())
            if (std::error_code error; fs::exists(image.path, error)) consider(image.path);
    // A second process adding photos to this gallery now (a second `index add` of the same
    // folder) goes through them from the end: the two meet in the middle, each skipping what the
    // other has committed, instead of embedding the same photos side by side. GALLERY.adding is
    // locked while photos are added, to tell.
    const FileLock adding(gallery.path() + ".adding", FileLock::Wait::no);
    if (adding.taken_by_another()) std::reverse(candidates.begin(), candidates.end());
    // Each file is read once: its bytes are hashed, and only new or changed photos (all of them
    // with --reembed) are decoded and embedded. What the gallery holds for a photo is looked up
    // as its file is read, not before the run: another process adding the same photos (a second
    // `index add`) has committed some of them by then, and those are not embedded twice.
    // Written by the loading threads, one index each.
    std::vector<std::string> hashes(candidates.size());
    std::vector<int64_t> sizes(candidates.size(), 0);
    std::vector<char> unchanged(candidates.size(), 0);
    const FileFilter admit = [&](size_t i, const std::string& bytes) {
        hashes[i] = sha256_hex(bytes);
        sizes[i] = int64_t(bytes.size());
        if (!options.reembed)
            if (const auto stored = gallery.find_path(candidates[i])) unchanged[i] = stored->content_hash == hashes[i];
        return !unchanged[i];
    };

    const auto embed_start = Clock::now();
    bool first = true;
    std::vector<GalleryImage> rows;
    if (!candidates.empty()) {
        embedder.embed_files(candidates, options.skip_bad, [&](const EmbeddedBatch& batch) {
            for (const auto& failure : batch.failures) report.failures.push_back(failure);
            if (batch.indices.empty()) return;
            const int64_t n = int64_t(batch.indices.size());
            rows.assign(size_t(n), GalleryImage{});
            const std::string now = utc_timestamp();
            for (int64_t r = 0; r < n; ++r) {
                const size_t i = batch.indices[size_t(r)];
                GalleryImage& row = rows[size_t(r)];
                row.path = candidates[i];
                row.content_hash = hashes[i];
                row.file_size = sizes[i];
                row.width = batch.sizes[size_t(r)][0];
                row.height = batch.sizes[size_t(r)][1];
                row.added = now;
                if (!batch.probabilities.empty()) {
                    const auto top = top_classes(embedder.model(), batch.probabilities.row_vector(r), 1);
                    row.breed = top.at(0).name;
                    row.breed_probability = top.at(0).probability;
                }
            }
            const GalleryPutResult put = gallery.put(identity, rows, batch.embeddings.values.data(), first && switching);
            report.added += put.added;
            report.updated += put.updated;
            report.unchanged += put.unchanged;
            first = false;
            report.embedded += n;
        }, admit);
    }
    report.unchanged += int64_t(std::count(unchanged.begin(), unchanged.end(), 1));
    report.embed_seconds = seconds_since(embed_start);
    report.seconds = seconds_since(start);
    report.warnings = gallery.take_warnings();
    return report;
}

std::vector<GalleryImage> prune_gallery(Gallery& gallery) {
    std::vector<GalleryImage> gone;
    std::vector<int64_t> ids;
    for (auto& image : gallery.images()) {
        std::error_code error;
        if (!fs::exists(image.path, error)) {
            ids.push_back(image.id);
            gone.push_back(std::move(image));
        }
    }
    if (!ids.empty()) gallery.remove(ids);
    return gone;
}

}  // namespace pupembed
