#include "gallery/ivf_pq_index.hpp"

#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/impl/FaissException.h>
#include <faiss/invlists/InvertedLists.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "gallery/exact_scan.hpp"
#include "pupembed/core/error.hpp"

namespace pupembed {
namespace {

constexpr int kBitsPerCode = 8;  // 256 centroids per sub-quantizer: one byte per slice
constexpr int kMaxLists = 1 << 20;
/// The most lists chosen without being asked: assigning 10 million photos to 8,192 centroids takes
/// minutes on 2 cores, to 16,384 twice that (--lists asks for more).
constexpr int kMaxDefaultLists = 8192;

std::unique_ptr<faiss::IndexIVFPQ> empty_index(int64_t dimension, int lists, int sub_quantizers) {
    auto quantizer = std::make_unique<faiss::IndexFlatIP>(faiss::Index::idx_t(dimension));
    auto index = std::make_unique<faiss::IndexIVFPQ>(quantizer.get(), size_t(dimension), size_t(lists),
                                                     size_t(sub_quantizers), size_t(kBitsPerCode), faiss::METRIC_INNER_PRODUCT);
    quantizer.release();
    index->own_fields = true;
    // Training samples are chosen by the caller; fewer than faiss's suggested 39 a centroid is
    // allowed (small galleries) without its warning on stderr.
    index->cp.min_points_per_centroid = 1;
    index->pq.cp.min_points_per_centroid = 1;
    // The cells' k-means for 10 iterations instead of 25: a 10-million-photo gallery's 16,384
    // cells train in minutes on 2 cores rather than most of an hour.
    index->cp.niter = 10;
    // The product quantizer's k-means (one per slice, 256 centroids of a few dimensions each: the
    // build's slowest step) on 64 rows a centroid instead of faiss's 256, for 10 iterations instead
    // of 25: 10x faster; the exact re-rank of the candidates makes up the difference.
    index->pq.cp.max_points_per_centroid = 64;
    index->pq.cp.niter = 10;
    return index;
}

template <typename Call>
auto faiss_call(const std::string& what, Call call) -> decltype(call()) {
    try {
        return call();
    } catch (const faiss::FaissException& e) {
        throw Error(what, std::string("faiss: ") + e.what());
    }
}

template <typename T>
void put(std::string& out, const T* values, size_t count) {
    if (count == 0) return;  // an empty list's pointer may be null
    out.append(reinterpret_cast<const char*>(values), count * sizeof(T));
}

}  // namespace

IvfPqIndex::IvfPqIndex(std::unique_ptr<faiss::IndexIVFPQ> index) : index_(std::move(index)) {
    const auto* quantizer = dynamic_cast<const faiss::IndexFlat*>(index_->quantizer);
    coarse_ = std::make_unique<ExactScan>(int64_t(index_->d));
    std::vector<int64_t> lists(index_->nlist);
    for (size_t l = 0; l < lists.size(); ++l) lists[l] = int64_t(l);
    coarse_->add(quantizer->get_xb(), lists.data(), int64_t(lists.size()));
}
IvfPqIndex::~IvfPqIndex() = default;
IvfPqIndex::IvfPqIndex(IvfPqIndex&&) noexcept = default;
IvfPqIndex& IvfPqIndex::operator=(IvfPqIndex&&) noexcept = default;

int IvfPqIndex::default_lists(int64_t count) {
    const double target = 4 * std::sqrt(double(std::max<int64_t>(count, 1)));
    int lists = 1;
    while (lists * 2 <= kMaxDefaultLists && std::abs(std::log2(lists * 2.0) - std::log2(target)) < std::abs(std::log2(double(lists)) - std::log2(target)))
        lists *= 2;
    while (lists > 1 && int64_t(lists) * 39 > count) lists /= 2;
    return lists;
}

int IvfPqIndex::default_sub_quantizers(int64_t dimension) {
    for (int m = 64; m > 1; --m)
        if (dimension % m == 0) return m;
    return 1;
}

IvfPqIndex IvfPqIndex::train(int64_t dimension, const float* sample, int64_t count, int lists, int sub_quantizers) {
    const std::string what = "IVF-PQ index";
    if (lists < 1 || lists > kMaxLists) throw Error(what, "lists must be 1 to " + std::to_string(kMaxLists) + ", got " + std::to_string(lists));
    if (sub_quantizers < 1 || dimension % sub_quantizers != 0)
        throw Error(what, std::to_string(sub_quantizers) + " sub-quantizers do not divide the dimension " + std::to_string(dimension));
    if (count < std::max<int64_t>(lists, 256))
        throw Error(what, "needs at least " + std::to_string(std::max(lists, 256)) + " vectors to train " + std::to_string(lists) +
                              " lists, got " + std::to_string(count));
    auto index = empty_index(dimension, lists, sub_quantizers);
    faiss_call(what, [&] { index->train(faiss::Index::idx_t(count), sample); });
    return IvfPqIndex(std::move(index));
}

void IvfPqIndex::add(const float* vectors, int64_t first_row, int64_t count) {
    if (count <= 0) return;
    std::vector<faiss::Index::idx_t> rows(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) rows[size_t(i)] = first_row + i;
    const bool empty = size() == 0;
    faiss_call("IVF-PQ index", [&] { index_->add_with_ids(faiss::Index::idx_t(count), vectors, rows.data()); });
    first_row_ = empty ? first_row : std::min(first_row_, first_row);
    end_row_ = std::max(end_row_, first_row + count);
}

bool IvfPqIndex::same_training(const IvfPqIndex& other) const {
    const auto* mine = dynamic_cast<const faiss::IndexFlat*>(index_->quantizer);
    const auto* theirs = dynamic_cast<const faiss::IndexFlat*>(other.index_->quantizer);
    return index_->d == other.index_->d && index_->nlist == other.index_->nlist && index_->pq.M == other.index_->pq.M &&
           index_->pq.nbits == other.index_->pq.nbits && index_->pq.centroids == other.index_->pq.centroids &&
           std::memcmp(mine->get_xb(), theirs->get_xb(), index_->nlist * index_->d * sizeof(float)) == 0;
}

void IvfPqIndex::merge(IvfPqIndex& part) {
    if (!same_training(part)) throw Error("IVF-PQ index", "a part trained otherwise cannot be merged (its centroids differ)");
    if (part.size() == 0) return;
    if (size() > 0 && part.first_row_ < end_row_)
        throw Error("IVF-PQ index", "a part of rows " + std::to_string(part.first_row_) + " to " + std::to_string(part.end_row_ - 1) +
                                        " does not come after this index's rows (up to " + std::to_string(end_row_ - 1) +
                                        "): parts are merged in row order");
    const bool empty = size() == 0;
    faiss_call("IVF-PQ index", [&] { index_->merge_from(*part.index_, 0); });
    // In row order, the part's rows extend this index's (or, merged into an empty one, are all).
    if (empty) first_row_ = part.first_row_;
    end_row_ = part.end_row_;
    part.first_row_ = part.end_row_ = 0;
}

std::pair<int64_t, int64_t> IvfPqIndex::row_range() const { return {first_row_, end_row_}; }

void IvfPqIndex::search(const float* queries, int64_t count, int candidates, int probes, int64_t* rows, float* scores) const {
    if (count <= 0) return;
    faiss::SearchParametersIVF parameters;
    parameters.nprobe = size_t(std::clamp(probes, 1, lists()));
    const auto cells = coarse_->search(queries, count, int(parameters.nprobe), {});
    std::vector<faiss::Index::idx_t> assigned(size_t(count) * parameters.nprobe, -1);  // -1: no cell (faiss skips it)
    std::vector<float> cell_scores(assigned.size(), 0.0f);
    for (int64_t q = 0; q < count; ++q)
        for (size_t c = 0; c < cells[size_t(q)].size(); ++c) {
            assigned[size_t(q) * parameters.nprobe + c] = cells[size_t(q)][c].first;
            cell_scores[size_t(q) * parameters.nprobe + c] = cells[size_t(q)][c].second;
        }
    static_assert(sizeof(faiss::Index::idx_t) == sizeof(int64_t), "faiss's ids are 64-bit");
    faiss_call("IVF-PQ index", [&] {
        index_->search_preassigned(faiss::Index::idx_t(count), queries, faiss::Index::idx_t(candidates), assigned.data(), cell_scores.data(),
                                   scores, reinterpret_cast<faiss::Index::idx_t*>(rows), false, &parameters);
    });
}

int64_t IvfPqIndex::size() const { return int64_t(index_->ntotal); }
int64_t IvfPqIndex::dimension() const { return int64_t(index_->d); }
int IvfPqIndex::lists() const { return int(index_->nlist); }
int IvfPqIndex::sub_quantizers() const { return int(index_->pq.M); }

int64_t IvfPqIndex::memory_bytes() const {
    const int64_t per_row = int64_t(index_->code_size + sizeof(faiss::Index::idx_t));
    return size() * per_row + int64_t(index_->nlist) * dimension() * 4 + int64_t(index_->pq.centroids.size()) * 4;
}

// Layout: lists, sub-quantizers, bits per code (u32 each), rows (u64); the centroids (lists x
// dimension f32); the product quantizer's centroids (sub-quantizers x 256 x slice f32); each
// list's size (u64); then every list's rows (i64) and every list's codes (sub-quantizers bytes a row).
std::string IvfPqIndex::serialise() const {
    const auto lists = uint32_t(index_->nlist), m = uint32_t(index_->pq.M), bits = uint32_t(index_->pq.nbits);
    const auto total = uint64_t(index_->ntotal);
    std::string out;
    put(out, &lists, 1);
    put(out, &m, 1);
    put(out, &bits, 1);
    put(out, &total, 1);
    const auto* quantizer = dynamic_cast<const faiss::IndexFlat*>(index_->quantizer);
    put(out, quantizer->get_xb(), size_t(lists) * index_->d);
    put(out, index_->pq.centroids.data(), index_->pq.centroids.size());
    const faiss::InvertedLists& invlists = *index_->invlists;
    for (uint32_t l = 0; l < lists; ++l) {
        const auto size = uint64_t(invlists.list_size(l));
        put(out, &size, 1);
    }
    for (uint32_t l = 0; l < lists; ++l) put(out, invlists.get_ids(l), invlists.list_size(l));
    for (uint32_t l = 0; l < lists; ++l) put(out, invlists.get_codes(l), invlists.list_size(l) * index_->code_size);
    return out;
}

IvfPqIndex IvfPqIndex::deserialise(std::string_view bytes, int64_t dimension, int64_t first_row, int64_t row_count,
                                   const std::string& path) {
    auto damaged = [&](const std::string& what) { return Error(path, "damaged IVF-PQ index (" + what + ")"); };
    size_t at = 0;
    auto take = [&](void* out, uint64_t count, size_t size) {
        if (count > (bytes.size() - at) / size) throw damaged("truncated");
        std::memcpy(out, bytes.data() + at, size_t(count) * size);
        at += size_t(count) * size;
    };
    uint32_t lists = 0, m = 0, bits = 0;
    uint64_t total = 0;
    take(&lists, 1, 4);
    take(&m, 1, 4);
    take(&bits, 1, 4);
    take(&total, 1, 8);
    if (dimension < 1 || dimension > 65536) throw damaged("dimension " + std::to_string(dimension));
    if (lists < 1 || lists > uint32_t(kMaxLists)) throw damaged(std::to_string(lists) + " lists");
    if (m < 1 || int64_t(m) > dimension || dimension % m != 0) throw damaged(std::to_string(m) + " sub-quantizers");
    if (bits != uint32_t(kBitsPerCode)) throw damaged(std::to_string(bits) + " bits a code");
    if (first_row < 0 || row_count < 0 || total != uint64_t(row_count))
        throw damaged(std::to_string(total) + " rows, " + std::to_string(row_count) + " expected");
    // Sizes are checked against what is left before anything that large is allocated.
    const uint64_t floats = uint64_t(lists) * uint64_t(dimension) + uint64_t(dimension) * 256;
    if (floats > (bytes.size() - at) / 4) throw damaged("truncated");
    auto index = empty_index(dimension, int(lists), int(m));
    std::vector<float> centroids(size_t(lists) * size_t(dimension));
    take(centroids.data(), centroids.size(), 4);
    take(index->pq.centroids.data(), index->pq.centroids.size(), 4);
    const auto finite = [](const std::vector<float>& values) {
        return std::all_of(values.begin(), values.end(), [](float v) { return std::isfinite(v); });
    };
    if (!finite(centroids) || !finite(index->pq.centroids)) throw damaged("a centroid that is not a finite number");
    std::vector<uint64_t> sizes(lists);
    take(sizes.data(), lists, 8);
    uint64_t sum = 0;
    for (const uint64_t size : sizes) {
        if (size > total - sum) throw damaged("list sizes add up to more than its rows");
        sum += size;
    }
    if (sum != total) throw damaged("list sizes add up to " + std::to_string(sum) + " of " + std::to_string(total) + " rows");
    if (bytes.size() - at != total * (8 + m)) throw damaged("truncated or trailing bytes");
    const char* ids_at = bytes.data() + at;
    const char* codes_at = ids_at + total * 8;
    std::vector<bool> seen(size_t(total), false);
    std::vector<faiss::Index::idx_t> rows;
    for (uint32_t l = 0; l < lists; ++l) {
        if (sizes[l] == 0) continue;  // (an empty vector's data() may be null, which memcpy may not take)
        rows.resize(size_t(sizes[l]));
        std::memcpy(rows.data(), ids_at, rows.size() * 8);
        for (const faiss::Index::idx_t row : rows) {
            if (row < first_row || uint64_t(row - first_row) >= total || seen[size_t(row - first_row)])
                throw damaged("row " + std::to_string(row));
            seen[size_t(row - first_row)] = true;
        }
        index->invlists->add_entries(l, rows.size(), rows.data(), reinterpret_cast<const uint8_t*>(codes_at));
        ids_at += rows.size() * 8;
        codes_at += rows.size() * m;
    }
    index->quantizer->add(faiss::Index::idx_t(lists), centroids.data());
    index->quantizer->is_trained = true;
    index->is_trained = true;
    index->ntotal = faiss::Index::idx_t(total);
    IvfPqIndex read(std::move(index));
    if (total > 0) {
        read.first_row_ = first_row;
        read.end_row_ = first_row + int64_t(total);
    }
    return read;
}

}  // namespace pupembed
