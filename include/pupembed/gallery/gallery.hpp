// A gallery: photos added one by one, their metadata in SQLite, their embeddings searched
// exactly or with an HNSW graph (vector_index.hpp). One SQLite file (application id "PUPG", schema version in user_version); every change
// is one transaction, so a gallery killed at any moment holds exactly what was committed. The
// search index is built from the stored vectors; an HNSW index is kept beside the file
// (PATH.index) and rebuilt whenever it does not match the gallery's generation counter.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pupembed/gallery/vector_index.hpp"

namespace pupembed {

/// Newest gallery schema version this build reads and writes.
constexpr int kGalleryVersion = 1;
/// The largest embedding size a gallery may record.
constexpr int64_t kMaxGalleryDimension = 65536;

/// What Gallery::put() did: photos new to the gallery, photos whose row it replaced (another
/// file content), and photos it already held with these contents from this model (left as they were).
struct CompressedIndexSource;
struct IndexShardsPlan;
struct IndexShardsMerge;

struct GalleryPutResult {
    int64_t added = 0;
    int64_t updated = 0;
    int64_t unchanged = 0;
};

struct GalleryImage {
    int64_t id = 0;             ///< assigned by the gallery, never reused
    std::string path;           ///< absolute path of the photo when added
    std::string content_hash;   ///< SHA-256 of the file's bytes, hex
    int64_t file_size = 0;      ///< bytes
    int width = 0, height = 0;  ///< pixels, after the EXIF orientation
    std::string added;          ///< UTC time it was (last) embedded, ISO 8601
    std::string breed;          ///< the model's most probable breed, "" without a classifier
    double breed_probability = 0;
};

/// The model a gallery's vectors come from: a fingerprint of the model file's bytes, the file
/// it was read from, and the embedding size.
struct GalleryModel {
    std::string id;
    std::string path;
    int64_t dimension = 0;
    /// The leading columns that describe the photo itself (the embedding head's, ahead of a breed
    /// posterior the model appends); 0: all of them. Near-duplicates are judged on these alone.
    int64_t appearance_dimension = 0;
    /// How photos ran: the model's large input their pixels allowed (its size), or every photo at
    /// the base input (0); kInputSizeUnrecorded when not known (galleries and callers before it
    /// was recorded), kInputSizesMixed once rows of both settings are in one gallery.
    int large_input_size = kInputSizeUnrecorded;
    static constexpr int kInputSizeUnrecorded = -1;
    static constexpr int kInputSizesMixed = -2;
};

/// The order of Gallery::images(offset, limit, order): the latest added first (ids descending), or
/// by breed guess (alphabetically, ignoring case; photos without one last), then by id.
enum class ImageOrder { Newest, Breed };

/// Thread safety: every method may be called from any number of threads at once on one Gallery.
/// Calls that use the file are serialised inside (one SQLite connection); a search runs on the
/// index() snapshot without holding the gallery, so searches run side by side. Other processes
/// may use the same file at the same time (SQLite's locks; each put() is one transaction).
class Gallery {
public:
    /// Opens the gallery at `path`; with `create`, makes an empty one when there is no file.
    /// A gallery whose file or folder this process may not write (mode 444, a read-only
    /// volume) is opened read-only: queries work, put() and remove() throw Error saying why.
    /// Throws Error naming the file when it is missing, is not a pupembed gallery (another
    /// SQLite database, or not SQLite at all), is of a newer version, or is damaged.
    static Gallery open(const std::string& path, bool create);
    ~Gallery();
    Gallery(Gallery&&) noexcept;
    Gallery& operator=(Gallery&&) noexcept;

    const std::string& path() const;
    /// Whether the gallery was opened read-only (see open()).
    bool read_only() const;
    /// The model the vectors come from; empty id for a gallery nothing was added to yet.
    GalleryModel model() const;
    /// A number that changes with every committed change.
    int64_t generation() const;

    int64_t size() const;
    std::optional<GalleryImage> find(int64_t id) const;
    /// The image filed under `path` (see gallery_path_key).
    std::optional<GalleryImage> find_path(const std::string& path) const;
    std::vector<GalleryImage> images() const;  ///< by id
    /// A page of images: up to `limit` from position `offset` in `order` (for browsing).
    std::vector<GalleryImage> images(int64_t offset, int64_t limit, ImageOrder order) const;
    /// The stored vector of image `id` (empty when there is none).
    std::vector<float> vector(int64_t id) const;
    /// Every vector (size() x dimension, by id) and the ids.
    void vectors(std::vector<int64_t>& ids, std::vector<float>& values) const;
    /// Up to `count` rows drawn at random (the same for the same seed and gallery), by id: their
    /// ids, vectors and breeds; every row when there are no more. Reads only the rows drawn.
    void sample(int64_t count, uint64_t seed, std::vector<int64_t>& ids, std::vector<float>& values,
                std::vector<std::string>& breeds) const;
    /// Photos per guessed breed ("" for none), most first.
    std::vector<std::pair<std::string, int64_t>> breed_counts() const;

    /// In one transaction: records `model` (replacing another only when `replace_model`, which
    /// drops every image embedded with the old one; else require_gallery_model's rule holds),
    /// and adds or replaces (by path, filed under gallery_path_key) `images`
    /// with their vectors (images.size() x model.dimension floats). Sets each image's id.
    /// Whether each photo is new is judged inside the transaction, so two processes adding the
    /// same photos at once count each photo as added once. A photo the gallery already holds
    /// keeps its id; one with the same contents and model is left untouched (counted unchanged).
    /// Throws Error, writing nothing, when the gallery is read-only or its file was deleted or
    /// replaced since it was opened (the rows would go to a file nobody can open again).
    GalleryPutResult put(const GalleryModel& model, std::vector<GalleryImage>& images, const float* vectors, bool replace_model = false);
    /// Throws Error saying why (a read-only gallery, a file deleted or replaced since it was
    /// opened) when put() and remove() would be refused now, naming `what` was to be done.
    void check_writable(const std::string& what) const;

    /// Removes the images with these ids in one transaction; returns how many there were.
    /// Throws Error as put() does.
    int64_t remove(const std::vector<int64_t>& ids);

    /// The search index over every vector: exact, HNSW or IVF-PQ. An HNSW index is read from
    /// PATH.index when that file matches the gallery, else built and written there.
    /// A damaged index file (bad links, levels or ids, whatever its checksum says) is rebuilt.
    /// If the file cannot be written, the index is used anyway and take_warnings() says so.
    /// An IVF-PQ index lives in PATH.ivfpq with its float16 vectors in PATH.vectors (mapped, not
    /// read into memory): loaded when they match the gallery, grown without retraining when the
    /// gallery only gained up to kCompressedIndexGrowth of the rows it was trained on, else
    /// built again (a damaged file too, with a warning). It needs its files written: throws Error
    /// when they cannot be, or when the gallery is too small to train one.
    /// The index is a snapshot of the gallery's current generation: it stays valid and unchanged
    /// when the gallery changes (the next call makes a new one), so a caller may search it
    /// without the gallery, from any number of threads.
    std::shared_ptr<const VectorIndex> index(IndexKind kind, const HnswSettings& hnsw = {}, const IvfPqSettings& ivf = {});

    /// How the latest index() was obtained: "loaded" (from its file), "built" (HNSW), "built: ..."
    /// (IVF-PQ: its lists, code size and the time of each step), "grown by N rows"; "" for exact.
    std::string index_origin();

    /// The index kind `pupembed index build` chose and recorded for this gallery's searches
    /// ("exact", "hnsw", "ivfpq"; "" when none was recorded), and recording one ("" forgets it).
    /// set_chosen_index throws Error as put() does for a gallery it may not change.
    std::string chosen_index() const;
    void set_chosen_index(const std::string& kind);

    /// Warnings gathered since the last call (e.g. an index file that could not be saved).
    std::vector<std::string> take_warnings();

private:
    struct State;
    explicit Gallery(std::unique_ptr<State> state);
    /// What compressed_index() builds from, as the gallery is now (also for building in shards).
    CompressedIndexSource compressed_source() const;
    friend IndexShardsPlan plan_index_shards(Gallery& gallery, int shards, const IvfPqSettings& settings);
    friend IndexShardsMerge merge_index_shards(Gallery& gallery);
    /// What compressed_index() builds from: this gallery's rows, read under its lock.
    CompressedIndexSource compressed_source(const std::string& uid, int64_t generation, int64_t rewritten, int64_t rows,
                                                   int64_t dimension) const;
    std::unique_ptr<State> state_;
};

/// Galleries of at least this many images use an HNSW index unless told otherwise.
constexpr int64_t kApproximateSearchFrom = 200000;

/// The rule for a gallery and a model: its vectors must come from that model. Throws Error
/// saying which model the gallery was built with, and `remedy` (what to do about it), when
/// `identity` is another; a gallery with no vectors yet takes any model.
void require_gallery_model(const Gallery& gallery, const GalleryModel& identity, const std::string& remedy);

/// The key a gallery files a photo under: its absolute, normalised path. find_path() and put()
/// apply it, so callers may pass paths as given.
std::string gallery_path_key(const std::string& path);

}  // namespace pupembed
