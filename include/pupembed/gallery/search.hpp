// Searching a gallery: the one path the command, the server and the Python module all ask
// through. A search takes queries (vectors, photos, gallery ids, or a puppy-algebra expression)
// and SearchParameters (how many answers, which index, which ids to leave out: faiss's
// SearchParameters with an IDSelector), runs the queries as one batch through the network and the
// index, and gives the nearest ids and distances as arrays in faiss's shape, with the queries as
// they were resolved. The front ends only map their arguments to these calls and print or return
// the result.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "pupembed/core/float_rows.hpp"
#include "pupembed/gallery/algebra.hpp"
#include "pupembed/gallery/gallery.hpp"
#include "pupembed/gallery/queries.hpp"

namespace pupembed {

class Embedder;

/// Which index a search uses: automatic (index_kind_for) or as told.
enum class IndexChoice { Automatic, Exact, Hnsw, IvfPq };
IndexChoice index_choice_from_name(const std::string& name);  ///< "auto", "exact", "hnsw", "ivfpq"

/// The index a search of `gallery` with `choice` uses. Automatic: the kind `index build`
/// recorded in the gallery (Gallery::chosen_index), else exact below kApproximateSearchFrom
/// photos and HNSW from there.
IndexKind index_kind_for(const Gallery& gallery, IndexChoice choice);

/// Galleries of at least this many photos get a compressed IVF-PQ index from `index build`
/// (without a memory budget): past it, an HNSW graph takes more than 5 minutes to build on 2 cores
/// and 2.3 GB of memory (248-d), while IVF-PQ keeps about 70 bytes a photo in memory.
constexpr int64_t kCompressedIndexFrom = 2000000;

/// The memory an index of `photos` vectors of `dimension` values holds, by its layout: exact, a
/// float32 and a float16 copy and the ids; HNSW, the float32 vectors, 32 links on the bottom
/// level and hnswlib's bookkeeping; IVF-PQ, a code and a row number each plus the centroids.
int64_t index_memory_estimate(IndexKind kind, int64_t photos, int64_t dimension);

/// The index `pupembed index build` chooses, and why.
struct IndexPlan {
    IndexKind kind = IndexKind::Exact;
    int64_t memory_bytes = 0;  ///< index_memory_estimate
    std::string reason;
};

/// The rule: exact below kApproximateSearchFrom photos; HNSW below kCompressedIndexFrom; IVF-PQ
/// from there; and with a `memory_budget` (bytes, 0: none), the first of exact, HNSW and
/// IVF-PQ (in that order, from the rule's choice on) whose estimate fits. Throws Error (BadInput)
/// when not even IVF-PQ fits.
IndexPlan plan_index(int64_t photos, int64_t dimension, int64_t memory_budget);

/// The most answers one query may ask for.
constexpr int kMaxSearchAnswers = 100000;

struct SearchParameters {
    int k = 10;  ///< answers per query, 1 to kMaxSearchAnswers
    IndexChoice index = IndexChoice::Automatic;
    std::vector<int64_t> exclude;      ///< gallery ids no query returns
    bool exclude_query_photos = true;  ///< a query photo (an algebra term) that is in the gallery is no answer
};

/// The answers of n queries, faiss's shape: row q holds query q's k nearest gallery ids, most
/// similar first, and their cosine distances (1 - cosine similarity); where fewer than k exist,
/// the row is padded with id -1 and distance +infinity.
struct NearestIds {
    int64_t queries = 0;
    int k = 0;
    std::vector<int64_t> ids;      ///< queries x k
    std::vector<float> distances;  ///< queries x k
    /// How many answers query q has (the ids before the first -1).
    int answers(int64_t q) const;
};

/// A gallery image as an answer.
struct Neighbour {
    GalleryImage image;
    float similarity = 0;  ///< cosine similarity
    float distance = 0;    ///< cosine distance, 1 - similarity
};

/// Query q's answers as gallery images, in order (leaving out images removed since the search).
std::vector<Neighbour> neighbours_of(const Gallery& gallery, const NearestIds& nearest, int64_t q);

/// The index a search of `gallery` with `dimension`-d queries uses (see IndexChoice): a snapshot
/// that may be searched without the gallery (see Gallery::index); null for an empty gallery.
/// Throws Error (BadInput) when the gallery holds vectors of another size.
std::shared_ptr<const VectorIndex> search_index(Gallery& gallery, int64_t dimension, IndexChoice choice = IndexChoice::Automatic);

/// Searches by vectors: each row of `queries` is scaled to unit length, then searched. Throws
/// Error (BadInput) for rows of another size than the gallery's vectors, a value that is not a
/// finite number, a row of zeros, or k out of range.
NearestIds search_vectors(Gallery& gallery, const FloatRows& queries, const SearchParameters& parameters);

/// The answers to photos: the photos as resolved (resolve_photos), and their nearest ids.
struct PhotoSearch {
    std::vector<QueryPhoto> queries;
    NearestIds nearest;
};

/// Searches by photos: files and decoded images run through `embedder` as one batch (it may be
/// null when needs_model(photos) is false), gallery ids take their stored vectors. A photo that
/// is in the gallery is not its own answer (unless parameters.exclude_query_photos is false).
PhotoSearch search_photos(Gallery& gallery, Embedder* embedder, const std::vector<PhotoInput>& photos,
                          const SearchParameters& parameters);

/// A puppy-algebra expression, parsed, with each operand as a photo to resolve.
struct AlgebraQuery {
    std::string expression;
    std::vector<PhotoInput> terms;
    std::vector<double> weights;
};

/// How an operand that is not a gallery id ("#12") becomes a photo, e.g. the name of an upload or
/// of an array; it throws Error (BadInput) for an operand it does not know. Default: a file path.
using OperandResolver = std::function<PhotoInput(const AlgebraTerm&)>;

/// Parses `expression` (parse_algebra, whose Errors it throws) and resolves its operands.
AlgebraQuery algebra_query(const std::string& expression, const OperandResolver& resolve = {});

/// The answer to an algebra expression: its terms as resolved, the normalised weighted sum that
/// was searched for, and its nearest ids (one query).
struct AlgebraSearch {
    std::vector<QueryPhoto> terms;
    std::vector<double> weights;
    std::vector<float> vector;
    NearestIds nearest;
};

/// Searches for the normalised weighted sum of the terms' vectors, leaving out the terms that are
/// gallery images (unless parameters.exclude_query_photos is false). `embedder` may be null when
/// needs_model(query.terms) is false. Throws Error (BadInput) when the sum is (nearly) zero.
AlgebraSearch search_algebra(Gallery& gallery, Embedder* embedder, const AlgebraQuery& query,
                             const SearchParameters& parameters);

/// The `k` gallery images most similar to `query` (a unit vector), most similar first, leaving
/// out the ids in `exclude`: search_vectors for one vector, as gallery images.
std::vector<Neighbour> search_gallery(Gallery& gallery, const std::vector<float>& query, int k,
                                      const std::vector<int64_t>& exclude = {}, IndexChoice choice = IndexChoice::Automatic);

}  // namespace pupembed
