#include "pupembed/gallery/ingest.hpp"

#include <chrono>
#include <filesystem>
#include <set>

#include "pupembed/core/error.hpp"
#include "pupembed/inference/embed.hpp"
#include "pupembed/io/file_io.hpp"
#include "pupembed/model/model.hpp"

namespace fs = std::filesystem;

namespace pupembed {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

struct Pending {
    std::string path;
    std::string hash;
    int64_t size = 0;
};

}  // namespace

Model load_query_model(const std::string& path, const Gallery* gallery) {
    Model model = load_model(path);
    prepare_for_inference(model);
    if (gallery)
        require_gallery_model(*gallery, gallery_model_of(path, model),
                              "give --model " + gallery->model().path + ", or re-embed the gallery with `pupembed index add --reembed`");
    return model;
}

std::string model_path_for_gallery(const std::string& given, const Gallery* gallery) {
    if (!given.empty() || !gallery) return model_path_or_default(given);
    const GalleryModel model = gallery->model();
    std::error_code error;
    if (!model.path.empty() && fs::is_regular_file(model.path, error)) return model.path;
    return model_path_or_default("");
}

GalleryModel gallery_model_of(const std::string& model_path, const Model& model) {
    GalleryModel identity;
    identity.id = sha256_hex(read_file(model_path)).substr(0, 16);
    identity.path = fs::absolute(model_path).lexically_normal().string();
    identity.dimension = model.embedding_size();
    return identity;
}

IngestReport add_to_gallery(Gallery& gallery, Embedder& embedder, const GalleryModel& identity,
                            const std::vector<std::string>& paths, const IngestOptions& options) {
    const auto start = Clock::now();
    IngestReport report;
    const GalleryModel current = gallery.model();
    const bool switching = !current.id.empty() && current.id != identity.id;
    if (!options.reembed)
        require_gallery_model(gallery, identity,
                              "give --model " + current.path + ", or --reembed to re-embed all " +
                                  std::to_string(gallery.size()) + " photos with " + identity.path);

    // Which photos need the network: new ones, changed ones, and with --reembed all of them.
    std::vector<Pending> pending;
    std::set<std::string> seen;
    auto consider = [&](const std::string& given) {
        const std::string path = gallery_path_key(given);
        if (!seen.insert(path).second) return;
        Pending item;
        item.path = path;
        try {
            const std::string bytes = read_file(path);
            item.hash = sha256_hex(bytes);
            item.size = int64_t(bytes.size());
        } catch (const Error& e) {
            if (!options.skip_bad) throw;
            report.failures.push_back(e.what());
            return;
        }
        const auto existing = gallery.find_path(path);
        if (existing && existing->content_hash == item.hash && !options.reembed) {
            ++report.unchanged;
            return;
        }
        pending.push_back(std::move(item));
    };
    for (const auto& path : paths) consider(path);
    if (options.reembed)
        for (const auto& image : gallery.images())
            if (fs::exists(image.path)) consider(image.path);

    const auto embed_start = Clock::now();
    std::vector<std::string> to_embed;
    to_embed.reserve(pending.size());
    for (const auto& item : pending) to_embed.push_back(item.path);
    bool first = true;
    std::vector<GalleryImage> rows;
    if (!to_embed.empty()) {
        embedder.embed_files(to_embed, options.skip_bad, [&](const EmbeddedBatch& batch) {
            for (const auto& failure : batch.failures) report.failures.push_back(failure);
            if (batch.indices.empty()) return;
            const int64_t n = int64_t(batch.indices.size());
            rows.assign(size_t(n), GalleryImage{});
            const std::string now = utc_timestamp();
            for (int64_t r = 0; r < n; ++r) {
                const Pending& item = pending[batch.indices[size_t(r)]];
                GalleryImage& row = rows[size_t(r)];
                row.path = item.path;
                row.content_hash = item.hash;
                row.file_size = item.size;
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
            first = false;
            report.embedded += n;
        });
    }
    report.embed_seconds = seconds_since(embed_start);
    report.seconds = seconds_since(start);
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
