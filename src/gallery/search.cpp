#include "pupembed/gallery/search.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "gallery/ivf_pq_index.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/inference/embedder.hpp"

namespace pupembed {
namespace {

void check_parameters(const SearchParameters& parameters) {
    if (parameters.k < 1 || parameters.k > kMaxSearchAnswers)
        throw Error("k", "must be from 1 to " + std::to_string(kMaxSearchAnswers) + ", got " + std::to_string(parameters.k),
                    ErrorKind::BadInput);
}

/// The nearest ids of n unit vectors (row after row); `own_ids` (empty, or one per query, -1 for
/// none) are each query's own gallery id, left out of its answers.
NearestIds nearest_of(Gallery& gallery, const float* values, int64_t n, int64_t d, const SearchParameters& parameters,
                      const std::vector<int64_t>& own_ids) {
    check_parameters(parameters);
    NearestIds nearest;
    nearest.queries = n;
    nearest.k = parameters.k;
    nearest.ids.assign(size_t(n) * size_t(parameters.k), -1);
    nearest.distances.assign(nearest.ids.size(), std::numeric_limits<float>::infinity());
    const auto index = search_index(gallery, d, parameters.index);
    if (!index || n == 0) return nearest;
    const IdExclusion exclusion(parameters.exclude, own_ids.empty() ? nullptr : own_ids.data());
    // The search reads the snapshot without holding the gallery, so searches run side by side.
    const auto hits = index->search(values, n, parameters.k, exclusion);
    for (int64_t q = 0; q < n; ++q) {
        const auto& row = hits[size_t(q)];
        for (size_t r = 0; r < row.size(); ++r) {
            const size_t at = size_t(q) * size_t(parameters.k) + r;
            nearest.ids[at] = row[r].id;
            // Rounding can put a photo's similarity to itself a hair above 1.
            nearest.distances[at] = 1.0f - std::min(1.0f, row[r].similarity);
        }
    }
    return nearest;
}

}  // namespace

IndexChoice index_choice_from_name(const std::string& name) {
    if (name == "auto") return IndexChoice::Automatic;
    if (name == "exact") return IndexChoice::Exact;
    if (name == "hnsw") return IndexChoice::Hnsw;
    if (name == "ivfpq") return IndexChoice::IvfPq;
    throw Error("index \"" + name + "\"", "unknown (auto, exact, hnsw or ivfpq)", ErrorKind::BadInput);
}

IndexKind index_kind_for(const Gallery& gallery, IndexChoice choice) {
    switch (choice) {
        case IndexChoice::Exact: return IndexKind::Exact;
        case IndexChoice::Hnsw: return IndexKind::Hnsw;
        case IndexChoice::IvfPq: return IndexKind::IvfPq;
        case IndexChoice::Automatic: break;
    }
    const std::string chosen = gallery.chosen_index();
    if (!chosen.empty()) return index_kind_from_name(chosen);
    return gallery.size() >= kApproximateSearchFrom ? IndexKind::Hnsw : IndexKind::Exact;
}

int64_t index_memory_estimate(IndexKind kind, int64_t photos, int64_t dimension) {
    switch (kind) {
        case IndexKind::Exact: return photos * (dimension * 6 + 8);
        case IndexKind::Hnsw: return photos * (dimension * 4 + 2 * HnswSettings{}.links * 4 + 44);
        case IndexKind::IvfPq:
            return photos * (IvfPqIndex::default_sub_quantizers(dimension) + 8) +
                   (IvfPqIndex::default_lists(photos) + 256) * dimension * 4;
    }
    return 0;
}

IndexPlan plan_index(int64_t photos, int64_t dimension, int64_t memory_budget) {
    if (photos < 0 || dimension < 1 || memory_budget < 0) throw Error("index plan: bad sizes", ErrorKind::BadInput);
    IndexKind kind = photos < kApproximateSearchFrom ? IndexKind::Exact
                     : photos < kCompressedIndexFrom ? IndexKind::Hnsw
                                                     : IndexKind::IvfPq;
    std::string reason = photos < kApproximateSearchFrom ? "under " + std::to_string(kApproximateSearchFrom) + " photos: an exact scan is fast enough"
                         : photos < kCompressedIndexFrom
                             ? "under " + std::to_string(kCompressedIndexFrom) + " photos: an HNSW graph is the fastest and builds in minutes"
                             : std::to_string(kCompressedIndexFrom) + " photos or more: a compressed IVF-PQ index, about " +
                                   std::to_string(index_memory_estimate(IndexKind::IvfPq, 1000000, dimension) / 1000000) +
                                   " bytes a photo in memory";
    if (memory_budget > 0) {
        const auto megabytes = [](int64_t bytes) {
            char text[32];
            std::snprintf(text, sizeof(text), "%.1f MB", double(bytes) / 1e6);
            return std::string(text);
        };
        const std::string budget = megabytes(memory_budget);
        while (index_memory_estimate(kind, photos, dimension) > memory_budget) {
            if (kind == IndexKind::IvfPq)
                throw Error("--memory-budget", "no index of " + std::to_string(photos) + " photos fits in " + budget + " (IVF-PQ needs " +
                                                   megabytes(index_memory_estimate(kind, photos, dimension)) + ")",
                            ErrorKind::BadInput);
            kind = kind == IndexKind::Exact ? IndexKind::Hnsw : IndexKind::IvfPq;
            reason = "the next index that fits in " + budget;
        }
    }
    return {kind, index_memory_estimate(kind, photos, dimension), reason};
}

int NearestIds::answers(int64_t q) const {
    const auto row = ids.begin() + q * k;
    return int(std::find(row, row + k, -1) - row);
}

std::vector<Neighbour> neighbours_of(const Gallery& gallery, const NearestIds& nearest, int64_t q) {
    std::vector<Neighbour> neighbours;
    for (int r = 0; r < nearest.answers(q); ++r) {
        const size_t at = size_t(q) * size_t(nearest.k) + size_t(r);
        auto image = gallery.find(nearest.ids[at]);
        // The index is a snapshot: an image removed since (`index prune` in another process) is
        // no longer an answer.
        if (!image) continue;
        neighbours.push_back({std::move(*image), 1.0f - nearest.distances[at], nearest.distances[at]});
    }
    return neighbours;
}

std::shared_ptr<const VectorIndex> search_index(Gallery& gallery, int64_t dimension, IndexChoice choice) {
    const int64_t size = gallery.size();
    if (size == 0) return nullptr;
    if (dimension != gallery.model().dimension)
        throw Error("query has " + std::to_string(dimension) + " values, the gallery " + std::to_string(gallery.model().dimension),
                    ErrorKind::BadInput);
    return gallery.index(index_kind_for(gallery, choice));
}

NearestIds search_vectors(Gallery& gallery, const FloatRows& queries, const SearchParameters& parameters) {
    if (queries.rows > 0 && int64_t(queries.values.size()) != queries.rows * queries.columns)
        throw Error("internal: FloatRows of " + std::to_string(queries.values.size()) + " values for " +
                    std::to_string(queries.rows) + " x " + std::to_string(queries.columns));
    std::vector<float> unit(queries.values.size());
    for (int64_t q = 0; q < queries.rows; ++q) {
        const float* row = queries.row(q);
        double norm = 0;
        for (int64_t c = 0; c < queries.columns; ++c) {
            if (!std::isfinite(row[c]))
                throw Error("query " + std::to_string(q), "holds a value that is not a finite number", ErrorKind::BadInput);
            norm += double(row[c]) * row[c];
        }
        norm = std::sqrt(norm);
        if (!(norm > 1e-12) || !std::isfinite(norm))
            throw Error("query " + std::to_string(q), "is a zero vector (or too large to scale): there is no direction to search",
                        ErrorKind::BadInput);
        for (int64_t c = 0; c < queries.columns; ++c) unit[size_t(q * queries.columns + c)] = float(row[c] / norm);
    }
    return nearest_of(gallery, unit.data(), queries.rows, queries.columns, parameters, {});
}

PhotoSearch search_photos(Gallery& gallery, Embedder* embedder, const std::vector<PhotoInput>& photos,
                          const SearchParameters& parameters) {
    check_parameters(parameters);
    PhotoSearch search;
    search.queries = resolve_photos(embedder, photos, &gallery);
    const int64_t n = int64_t(search.queries.size());
    if (n == 0) return search;
    const int64_t d = int64_t(search.queries[0].vector.size());
    std::vector<float> values;
    std::vector<int64_t> own_ids;
    for (const auto& photo : search.queries) {
        if (int64_t(photo.vector.size()) != d) throw Error("internal: query photos of different embedding sizes");
        values.insert(values.end(), photo.vector.begin(), photo.vector.end());
        own_ids.push_back(parameters.exclude_query_photos ? photo.gallery_id : -1);
    }
    search.nearest = nearest_of(gallery, values.data(), n, d, parameters, own_ids);
    return search;
}

AlgebraQuery algebra_query(const std::string& expression, const OperandResolver& resolve) {
    AlgebraQuery query;
    query.expression = expression;
    for (const AlgebraTerm& term : parse_algebra(expression)) {
        long long id = 0;
        if (parse_gallery_id(term.operand, id)) query.terms.push_back(PhotoInput::gallery_image(id, term.operand));
        else if (resolve) query.terms.push_back(resolve(term));
        else query.terms.push_back(PhotoInput::named(term.operand));
        query.weights.push_back(term.weight);
    }
    return query;
}

AlgebraSearch search_algebra(Gallery& gallery, Embedder* embedder, const AlgebraQuery& query,
                             const SearchParameters& parameters) {
    check_parameters(parameters);
    AlgebraSearch search;
    search.terms = resolve_photos(embedder, query.terms, &gallery);
    search.weights = query.weights;
    search.vector = combine(search.terms, search.weights);
    SearchParameters without_terms = parameters;
    if (parameters.exclude_query_photos)
        for (const auto& term : search.terms)
            if (term.gallery_id >= 0) without_terms.exclude.push_back(term.gallery_id);
    search.nearest = nearest_of(gallery, search.vector.data(), 1, int64_t(search.vector.size()), without_terms, {});
    return search;
}

std::vector<Neighbour> search_gallery(Gallery& gallery, const std::vector<float>& query, int k,
                                      const std::vector<int64_t>& exclude, IndexChoice choice) {
    SearchParameters parameters;
    parameters.k = k;
    parameters.index = choice;
    parameters.exclude = exclude;
    return neighbours_of(gallery, search_vectors(gallery, FloatRows{1, int64_t(query.size()), query}, parameters), 0);
}

}  // namespace pupembed
