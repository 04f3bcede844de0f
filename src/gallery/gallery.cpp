#include "pupembed/gallery/gallery.hpp"


#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <random>
#include <set>

#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "gallery/compressed_index.hpp"
#include "gallery/gallery_records.hpp"
#include "gallery/sqlite_db.hpp"
#include "pupembed/core/clock.hpp"
#include "pupembed/core/error.hpp"

namespace fs = std::filesystem;

namespace pupembed {
namespace {

constexpr int32_t kApplicationId = 0x50555047;  // "PUPG"

const char kSchema[] = R"(
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE images (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL UNIQUE,
    content_hash TEXT NOT NULL,
    file_size INTEGER NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    added TEXT NOT NULL,
    breed TEXT NOT NULL,
    breed_probability REAL NOT NULL,
    model_id TEXT NOT NULL,
    vector BLOB NOT NULL
);
CREATE INDEX images_by_breed ON images (breed);
)";
// images_by_breed (galleries made from 2026-12-05 on) lets `index stats` count breeds without
// reading every row's vector: 10 GB for 10 million photos. Galleries made before 2026-12-05 also
// have "CREATE INDEX images_by_hash ON images (content_hash)", which no query used: random hashes made every insert dirty a random page of it, and an import
// of 1,000,000 rows wrote GBs of WAL (24,600 rows/s).

std::string random_hex(int bytes) {
    std::random_device device;
    std::string text;
    const char digits[] = "0123456789abcdef";
    for (int i = 0; i < bytes; ++i) {
        const unsigned value = device() & 0xff;
        text += digits[value >> 4];
        text += digits[value & 15];
    }
    return text;
}

}  // namespace

std::string gallery_path_key(const std::string& path) {
    // No throwing: a gallery's rows (as written by anyone) may hold paths no file system has
    // (found by fuzz_gallery); such a path is its own key.
    std::error_code error;
    const std::filesystem::path absolute = std::filesystem::absolute(path, error);
    return (error ? std::filesystem::path(path) : absolute).lexically_normal().string();
}

namespace {

/// require_gallery_model's rule for a gallery at `path` built with `built`.
void require_model(const std::string& path, const GalleryModel& built, const GalleryModel& identity, const std::string& remedy) {
    if (built.id.empty() || built.id == identity.id) return;
    throw Error(path, "was built with another model (" + built.path + ", id " + built.id + ") than " + identity.path +
                          " (id " + identity.id + "); " + remedy);
}

}  // namespace

void require_gallery_model(const Gallery& gallery, const GalleryModel& identity, const std::string& remedy) {
    require_model(gallery.path(), gallery.model(), identity, remedy);
}

struct Gallery::State {
    std::unique_ptr<SqliteDb> db;
    /// Why the gallery is read-only ("" when it is writable).
    std::string read_only_reason;
    /// The file that was opened, to notice it being deleted or replaced before a write.
    dev_t device = 0;
    ino_t inode = 0;
    /// Held for every use of `db` and `warnings`.
    mutable std::mutex db_mutex;
    std::vector<std::string> warnings;
    /// Held while the search index is looked up or built, so that threads asking at once build
    /// it once; never held with db_mutex around it.
    std::mutex index_mutex;
    std::shared_ptr<const VectorIndex> index;
    int64_t count = 0, counted_generation = -1;  ///< size() of that generation
    std::string index_origin;  ///< how `index` was made (compressed_index's `how`; "" for the others)
    int64_t index_generation = -1;
    IndexKind index_kind = IndexKind::Exact;
};

namespace {

using Lock = std::lock_guard<std::mutex>;

/// Why this process may not write `path` ("" when it may), which is `name` in the answer. (The
/// superuser may write any file on a writable volume.)
std::string write_refusal(const std::string& path, const std::string& name) {
    if (::access(path.c_str(), W_OK) == 0) return "";
    return errno == EROFS ? "on a read-only volume" : name + " is not writable";
}

}  // namespace

Gallery::Gallery(std::unique_ptr<State> state) : state_(std::move(state)) {}
Gallery::~Gallery() = default;
Gallery::Gallery(Gallery&&) noexcept = default;
Gallery& Gallery::operator=(Gallery&&) noexcept = default;

Gallery Gallery::open(const std::string& path, bool create) {
    std::error_code error;
    const bool exists = fs::exists(path, error);
    if (!exists && !create) throw Error(path, "no such gallery (`pupembed index add PHOTOS --db " + path + "` makes one)");
    if (exists && fs::is_directory(path, error)) throw Error(path, "is a folder, not a gallery file");
    auto state = std::make_unique<State>();
    const std::string folder = fs::absolute(path, error).parent_path().string();
    SqliteAccess access = exists ? SqliteAccess::ReadWrite : SqliteAccess::Create;
    if (!exists) {
        const std::string refusal = write_refusal(folder, "the folder");
        if (!refusal.empty()) throw Error(path, "cannot make a gallery here: " + refusal);
    } else if (std::string refusal = write_refusal(path, "the file"); !refusal.empty()) {
        // Read-only, but the folder may hold SQLite's shared-memory file for the write-ahead log.
        state->read_only_reason = refusal;
        access = write_refusal(folder, "").empty() ? SqliteAccess::ReadOnly : SqliteAccess::Immutable;
    } else if (refusal = write_refusal(folder, "its folder"); !refusal.empty()) {
        state->read_only_reason = refusal;
        access = SqliteAccess::Immutable;
    }
    if (access == SqliteAccess::Immutable && fs::file_size(path + "-wal", error) > 0 && !error) {
        // Immutable (SQLite needs no files beside it, which the folder could not take) unless a
        // log holds commits not yet in the file: then a writer has it open, and SQLite must
        // read through the shared-memory file that writer keeps.
        access = SqliteAccess::ReadOnly;
    }
    state->db = std::make_unique<SqliteDb>(path, access);
    SqliteDb& db = *state->db;
    struct stat status {};
    if (::stat(path.c_str(), &status) != 0) throw Error(path, std::string("cannot open the gallery (") + std::strerror(errno) + ")");
    state->device = status.st_dev;
    state->inode = status.st_ino;
    if (state->read_only_reason.empty()) {
        // Write-ahead log, synced at checkpoints: a commit survives the process being killed at
        // any moment (only a power cut can lose the latest commits, never consistency), and
        // `index add` does not wait for the disk after every batch.
        db.use_write_ahead_log();
        db.execute("PRAGMA synchronous = NORMAL");
    }
    int64_t application = pragma(db, "PRAGMA application_id");
    if (application == 0 && state->read_only_reason.empty()) {
        // Not (yet) a gallery: if empty, make it one. Looked at again under the write lock, since
        // another process (a second `index add`) may be making it at this moment.
        SqliteTransaction transaction(db);
        application = pragma(db, "PRAGMA application_id");
        if (application == 0 && pragma(db, "SELECT count(*) FROM sqlite_master") == 0) {
            db.execute(kSchema);
            db.execute(("PRAGMA application_id = " + std::to_string(kApplicationId)).c_str());
            db.execute(("PRAGMA user_version = " + std::to_string(kGalleryVersion)).c_str());
            set_meta(db, "format", "pupembed-gallery");
            set_meta(db, "created", utc_timestamp());
            set_meta(db, "generation", "0");
            set_meta(db, "uid", random_hex(8));
            application = kApplicationId;
        }
        transaction.commit();
    }
    if (application != kApplicationId) throw Error(path, "not a pupembed gallery (an SQLite database of another program)");
    const int64_t version = pragma(db, "PRAGMA user_version");
    if (version > kGalleryVersion)
        throw Error(path, "gallery version " + std::to_string(version) + " is newer than this build reads (" +
                              std::to_string(kGalleryVersion) + "); update pupembed");
    if (version < 1 || meta_value(db, "format") != "pupembed-gallery")
        throw Error(path, "damaged gallery (no format record)");
    model_record(db);       // throws naming the file if the dimension record is damaged
    generation_record(db);  // the same for the generation counter
    return Gallery(std::move(state));
}

const std::string& Gallery::path() const { return state_->db->path(); }

bool Gallery::read_only() const { return !state_->read_only_reason.empty(); }

GalleryModel Gallery::model() const {
    Lock lock(state_->db_mutex);
    return model_record(*state_->db);
}

int64_t Gallery::generation() const {
    Lock lock(state_->db_mutex);
    return generation_record(*state_->db);
}

int64_t Gallery::size() const {
    Lock lock(state_->db_mutex);
    // Counted again only when the generation moved (every writer moves it): a count reads the
    // whole path index, 0.2 s for 10 million photos, and searches ask for the size every time.
    const SqliteDb& db = *state_->db;
    SqliteTransaction reading(db, true);
    const int64_t generation = generation_record(db);
    if (generation != state_->counted_generation) {
        state_->count = pragma(db, "SELECT count(*) FROM images");
        state_->counted_generation = generation;
    }
    return state_->count;
}

std::vector<std::pair<std::string, int64_t>> Gallery::breed_counts() const {
    Lock lock(state_->db_mutex);
    SqliteStatement query(*state_->db, "SELECT breed, count(*) FROM images GROUP BY breed ORDER BY count(*) DESC, breed");
    std::vector<std::pair<std::string, int64_t>> counts;
    while (query.step()) counts.push_back({query.text(0), query.integer(1)});
    return counts;
}

void Gallery::sample(int64_t count, uint64_t seed, std::vector<int64_t>& ids, std::vector<float>& values,
                     std::vector<std::string>& breeds) const {
    ids.clear();
    values.clear();
    breeds.clear();
    Lock lock(state_->db_mutex);
    const SqliteDb& db = *state_->db;
    SqliteTransaction reading(db, true);
    const int64_t dimension = model_record(db).dimension;
    const int64_t total = pragma(db, "SELECT count(*) FROM images");
    auto take = [&](SqliteStatement& row) {
        const float* data = vector_column(db, row, 1, row.integer(0), dimension);
        ids.push_back(row.integer(0));
        values.insert(values.end(), data, data + dimension);
        breeds.push_back(row.text(2));
    };
    if (total <= count) {
        SqliteStatement all(db, "SELECT id, vector, breed FROM images ORDER BY id");
        while (all.step()) take(all);
        return;
    }
    // Ids drawn at random between the least and the greatest (a lookup each, no scan); the gaps
    // removals left are drawn and skipped. Sorted, so the rows come in file order.
    const int64_t low = pragma(db, "SELECT min(id) FROM images"), high = pragma(db, "SELECT max(id) FROM images");
    std::mt19937_64 random(seed);
    std::set<int64_t> drawn;
    SqliteStatement one(db, "SELECT id FROM images WHERE id = ?");
    for (int64_t tries = 0; int64_t(drawn.size()) < count && tries < count * 20; ++tries) {
        const int64_t id = low + int64_t(random() % uint64_t(high - low + 1));
        if (drawn.count(id)) continue;
        one.bind(1, id);
        if (one.step()) drawn.insert(id);
        one.reset();
    }
    SqliteStatement row(db, "SELECT id, vector, breed FROM images WHERE id = ?");
    for (const int64_t id : drawn) {
        row.bind(1, id);
        if (row.step()) take(row);
        row.reset();
    }
}

std::optional<GalleryImage> Gallery::find(int64_t id) const {
    Lock lock(state_->db_mutex);
    SqliteStatement query(*state_->db, (std::string("SELECT ") + kColumns + " FROM images WHERE id = ?").c_str());
    query.bind(1, id);
    if (!query.step()) return std::nullopt;
    return image_from(query);
}

std::optional<GalleryImage> Gallery::find_path(const std::string& image_path) const {
    const std::string key = gallery_path_key(image_path);
    Lock lock(state_->db_mutex);
    SqliteStatement query(*state_->db, (std::string("SELECT ") + kColumns + " FROM images WHERE path = ?").c_str());
    query.bind(1, key);
    if (!query.step()) return std::nullopt;
    return image_from(query);
}

std::vector<GalleryImage> Gallery::images() const {
    Lock lock(state_->db_mutex);
    SqliteStatement query(*state_->db, (std::string("SELECT ") + kColumns + " FROM images ORDER BY id").c_str());
    std::vector<GalleryImage> all;
    while (query.step()) all.push_back(image_from(query));
    return all;
}

std::vector<GalleryImage> Gallery::images(int64_t offset, int64_t limit, ImageOrder order) const {
    if (offset < 0 || limit < 0) throw Error("offset and limit must not be negative", ErrorKind::BadInput);
    const char* by = order == ImageOrder::Newest ? " ORDER BY id DESC" : " ORDER BY breed = '', breed COLLATE NOCASE, id";
    Lock lock(state_->db_mutex);
    SqliteStatement query(*state_->db, (std::string("SELECT ") + kColumns + " FROM images" + by + " LIMIT ? OFFSET ?").c_str());
    query.bind(1, limit).bind(2, offset);
    std::vector<GalleryImage> page;
    while (query.step()) page.push_back(image_from(query));
    return page;
}

std::vector<float> Gallery::vector(int64_t id) const {
    Lock lock(state_->db_mutex);
    const SqliteDb& db = *state_->db;
    SqliteTransaction reading(db, true);
    const int64_t dimension = model_record(db).dimension;
    SqliteStatement query(db, "SELECT vector FROM images WHERE id = ?");
    query.bind(1, id);
    if (!query.step()) return {};
    const float* data = vector_column(db, query, 0, id, dimension);
    return std::vector<float>(data, data + dimension);
}

void Gallery::vectors(std::vector<int64_t>& ids, std::vector<float>& values) const {
    Lock lock(state_->db_mutex);
    const SqliteDb& db = *state_->db;
    SqliteTransaction reading(db, true);  // the count, the dimension and the rows of one state
    read_vectors(db, model_record(db).dimension, ids, values);
}

void Gallery::check_writable(const std::string& what) const {
    if (!state_->read_only_reason.empty())
        throw Error(path(), "read-only gallery (" + state_->read_only_reason + "): cannot " + what +
                                "; queries work, changes need write access to the file and its folder",
                    ErrorKind::Forbidden);
    struct stat status {};
    if (::stat(path().c_str(), &status) != 0 || status.st_dev != state_->device || status.st_ino != state_->inode)
        throw Error(path(), std::string("the gallery file was deleted or replaced since it was opened: cannot ") + what +
                                " (nothing was written; open the gallery again)");
}

GalleryPutResult Gallery::put(const GalleryModel& model, std::vector<GalleryImage>& images, const float* vectors,
                              bool replace_model) {
    for (auto& image : images) image.path = gallery_path_key(image.path);
    Lock lock(state_->db_mutex);
    SqliteDb& db = *state_->db;
    SqliteTransaction transaction(db);
    check_writable("add photos");  // under the write lock: the file cannot be swapped in between
    const GalleryModel current = model_record(db);
    const bool was_empty = current.id != model.id || pragma(db, "SELECT count(*) FROM (SELECT 1 FROM images LIMIT 1)") == 0;
    if (current.id != model.id) {
        if (!replace_model) require_model(path(), current, model, "use it, or --reembed");
        db.execute("DELETE FROM images");
        set_meta(db, "model_id", model.id);
        set_meta(db, "dimension", std::to_string(model.dimension));
        set_meta(db, "appearance_dimension", std::to_string(model.appearance_dimension));
    } else if (current.dimension != model.dimension) {
        throw Error(path(), "damaged gallery (model dimension " + std::to_string(current.dimension) + ")");
    }
    set_meta(db, "model_path", model.path);
    GalleryPutResult result;
    SqliteStatement known(db, "SELECT id, content_hash, model_id FROM images WHERE path = ?");
    // New photos are inserted and known ones updated in place: an upsert would spend an id of
    // the AUTOINCREMENT sequence on every photo already there.
    SqliteStatement insert(db,
                           "INSERT INTO images (path, content_hash, file_size, width, height, added, breed, breed_probability, "
                           "model_id, vector) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id");
    SqliteStatement update(db,
                           "UPDATE images SET path = ?, content_hash = ?, file_size = ?, width = ?, height = ?, added = ?, "
                           "breed = ?, breed_probability = ?, model_id = ?, vector = ? WHERE id = ?");
    for (size_t i = 0; i < images.size(); ++i) {
        GalleryImage& image = images[i];
        known.bind(1, image.path);
        const bool exists = known.step();
        const int64_t existing = exists ? known.integer(0) : -1;
        const bool same = exists && known.text(1) == image.content_hash && known.text(2) == model.id;
        known.reset();
        if (same) {
            image.id = existing;
            ++result.unchanged;
            continue;
        }
        SqliteStatement& write = exists ? update : insert;
        write.bind(1, image.path)
            .bind(2, image.content_hash)
            .bind(3, image.file_size)
            .bind(4, int64_t(image.width))
            .bind(5, int64_t(image.height))
            .bind(6, image.added)
            .bind(7, image.breed)
            .bind(8, image.breed_probability)
            .bind(9, model.id)
            .bind_blob(10, vectors + i * size_t(model.dimension), size_t(model.dimension) * sizeof(float));
        if (exists) {
            write.bind(11, existing).run();
            image.id = existing;
            ++result.updated;
        } else {
            if (write.step()) image.id = write.integer(0);
            write.reset();
            ++result.added;
        }
    }
    if (result.added + result.updated > 0 || current.id != model.id)
        set_meta(db, "generation", std::to_string(generation_record(db) + 1));
    // Rows replaced in place: an index that only appends new rows (IVF-PQ) must be built again.
    if (result.updated > 0 || (current.id != model.id && !current.id.empty()))
        set_meta(db, "rows_rewritten", std::to_string(generation_record(db)));
    if (result.added + result.updated > 0) {
        std::string warning = record_input_size(db, current, model, was_empty);
        if (!warning.empty()) state_->warnings.push_back(std::move(warning));
    }
    transaction.commit();
    return result;
}

int64_t Gallery::remove(const std::vector<int64_t>& ids) {
    Lock lock(state_->db_mutex);
    SqliteDb& db = *state_->db;
    SqliteTransaction transaction(db);
    check_writable("remove photos");
    SqliteStatement erase(db, "DELETE FROM images WHERE id = ?");
    int64_t removed = 0;
    for (const int64_t id : ids) {
        erase.bind(1, id).run();
        removed += sqlite3_changes(db.handle());
    }
    if (removed > 0) {
        set_meta(db, "generation", std::to_string(generation_record(db) + 1));
        set_meta(db, "rows_rewritten", std::to_string(generation_record(db)));
    }
    transaction.commit();
    return removed;
}

namespace {

/// The last generation that removed or replaced rows: missing (none ever did), 0; unreadable,
/// `generation` (as if rows were replaced just now).
int64_t rows_rewritten_record(const SqliteDb& db, int64_t generation) {
    const std::string value = meta_value(db, "rows_rewritten");
    const bool readable = value.size() <= 18 && value.find_first_not_of("0123456789") == std::string::npos;
    return value.empty() ? 0 : readable ? std::stoll(value) : generation;
}

}  // namespace

std::shared_ptr<const VectorIndex> Gallery::index(IndexKind kind, const HnswSettings& hnsw, const IvfPqSettings& ivf) {
    Lock building(state_->index_mutex);
    int64_t current = 0;
    GalleryModel model;
    std::string uid;
    int64_t size = 0, rewritten = 0;
    {
        Lock lock(state_->db_mutex);
        const SqliteDb& db = *state_->db;
        SqliteTransaction reading(db, true);
        current = generation_record(db);
        if (state_->index && state_->index_generation == current && state_->index_kind == kind) {
            const IvfPqSettings held = state_->index->ivf_settings();
            if (kind != IndexKind::IvfPq || (held.probes == ivf.probes && held.rerank == ivf.rerank)) return state_->index;
            return state_->index->with_ivf_search(ivf.probes, ivf.rerank);  // the same codes, searched otherwise
        }
        model = model_record(db);
        uid = meta_value(db, "uid");
        size = pragma(db, "SELECT count(*) FROM images");
        rewritten = rows_rewritten_record(db, current);
    }
    if (kind == IndexKind::IvfPq) {
        CompressedIndex compressed = compressed_index(compressed_source(uid, current, rewritten, size, model.dimension), ivf);
        Lock lock(state_->db_mutex);
        for (auto& warning : compressed.warnings) state_->warnings.push_back(std::move(warning));
        state_->index_origin = std::move(compressed.how);
        state_->index = std::move(compressed.index);
        state_->index_generation = current;
        state_->index_kind = kind;
        return state_->index;
    }
    const nlohmann::json note = {{"gallery", uid}, {"generation", current}, {"kind", index_kind_name(kind)},
                                 {"links", hnsw.links}, {"build_candidates", hnsw.build_candidates}};
    const std::string sidecar = path() + ".index";
    std::error_code error;
    if (kind == IndexKind::Hnsw && fs::exists(sidecar, error)) {
        try {
            std::string stored;
            VectorIndex loaded = VectorIndex::load(sidecar, &stored);
            if (stored == note.dump() && loaded.size() == size && loaded.dimension() == model.dimension) {
                loaded.set_search_candidates(hnsw.search_candidates);
                state_->index = std::make_shared<const VectorIndex>(std::move(loaded));
                state_->index_origin = "loaded";
                state_->index_generation = current;
                state_->index_kind = kind;
                return state_->index;
            }
        } catch (const Error&) {
            // A damaged or stale index file is rebuilt below.
        }
    }
    std::vector<int64_t> ids;
    std::vector<float> values;
    {
        // The vectors of the generation read above, or of a later one: then the index is
        // labelled older than it is, and the next call builds it again.
        Lock lock(state_->db_mutex);
        const SqliteDb& db = *state_->db;
        SqliteTransaction reading(db, true);
        read_vectors(db, model_record(db).dimension, ids, values);
    }
    auto index = std::make_unique<VectorIndex>(std::max<int64_t>(1, model.dimension), kind, hnsw);
    index->add(values.data(), ids.data(), int64_t(ids.size()));
    if (kind == IndexKind::Hnsw) {
        // The index is a cache: when it cannot be saved (a full disk, a read-only folder) the
        // search still runs on the graph just built, and the caller is told.
        try {
            index->save(sidecar, note.dump());
        } catch (const Error& e) {
            Lock lock(state_->db_mutex);
            state_->warnings.push_back(std::string("the search index was not saved, so the next search builds it again: ") +
                                       e.what());
        }
    }
    state_->index = std::move(index);
    state_->index_origin = kind == IndexKind::Hnsw ? "built" : "";
    state_->index_generation = current;
    state_->index_kind = kind;
    return state_->index;
}

CompressedIndexSource Gallery::compressed_source() const {
    Lock lock(state_->db_mutex);
    const SqliteDb& db = *state_->db;
    SqliteTransaction reading(db, true);
    const int64_t generation = generation_record(db);
    return compressed_source(meta_value(db, "uid"), generation, rows_rewritten_record(db, generation),
                             pragma(db, "SELECT count(*) FROM images"), model_record(db).dimension);
}

CompressedIndexSource Gallery::compressed_source(const std::string& uid, int64_t generation, int64_t rewritten, int64_t rows,
                                                 int64_t dimension) const {
    CompressedIndexSource source;
    source.gallery_path = path();
    source.uid = uid;
    source.generation = generation;
    source.rewritten_generation = rewritten;
    source.rows = rows;
    source.dimension = dimension;
    source.read_rows = [this, dimension](int64_t after_id, const RowBlock& receive) {
        Lock lock(state_->db_mutex);
        const SqliteDb& db = *state_->db;
        SqliteTransaction reading(db, true);
        SqliteStatement query(db, "SELECT id, vector FROM images WHERE id > ? ORDER BY id");
        query.bind(1, after_id);
        constexpr size_t kBlock = 4096;
        std::vector<int64_t> ids;
        std::vector<float> values;
        auto flush = [&] {
            receive(ids.data(), values.data(), int64_t(ids.size()));
            ids.clear();
            values.clear();
        };
        while (query.step()) {
            const float* data = vector_column(db, query, 1, query.integer(0), dimension);
            ids.push_back(query.integer(0));
            values.insert(values.end(), data, data + dimension);
            if (ids.size() == kBlock) flush();
        }
        if (!ids.empty()) flush();
    };
    source.rows_up_to = [this](int64_t id) {
        Lock lock(state_->db_mutex);
        SqliteStatement query(*state_->db, "SELECT count(*) FROM images WHERE id <= ?");
        query.bind(1, id);
        return query.step() ? query.integer(0) : int64_t(0);
    };
    return source;
}

std::string Gallery::index_origin() {
    Lock building(state_->index_mutex);
    return state_->index_origin;
}

std::string Gallery::chosen_index() const {
    Lock lock(state_->db_mutex);
    std::string kind = meta_value(*state_->db, "search_index");
    if (kind != "exact" && kind != "hnsw" && kind != "ivfpq") kind.clear();  // an unknown record is ignored
    return kind;
}

void Gallery::set_chosen_index(const std::string& kind) {
    if (!kind.empty()) index_kind_from_name(kind);  // throws for an unknown kind
    Lock lock(state_->db_mutex);
    SqliteDb& db = *state_->db;
    SqliteTransaction transaction(db);
    check_writable("record its search index");
    if (kind.empty()) db.execute("DELETE FROM meta WHERE key = 'search_index'");
    else set_meta(db, "search_index", kind);
    transaction.commit();
}

std::vector<std::string> Gallery::take_warnings() {
    Lock lock(state_->db_mutex);
    std::vector<std::string> taken;
    taken.swap(state_->warnings);
    return taken;
}

}  // namespace pupembed
