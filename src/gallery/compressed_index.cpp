#include "gallery/compressed_index.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <random>

#include <nlohmann/json.hpp>

#include "gallery/vector_index_state.hpp"
#include "pupembed/core/clock.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/io/file_io.hpp"

namespace pupembed {
namespace {

const char kIvfMagic[] = "PUPIVFPQ";
constexpr uint32_t kIvfVersion = 1;
constexpr int64_t kBlockRows = 65536;
/// The largest IVF-PQ file read (100 million rows of 62-byte codes and their row numbers: 7 GB).
constexpr int64_t kMaxIvfFileBytes = int64_t{64} << 30;

/// The rows k-means trains on: every row up to 65,536, else 32 a list (faiss's guidelines give
/// 30 to 256 a centroid; 32 keeps the build of ten million rows in minutes on 2 cores).
int64_t training_rows(int64_t rows, int lists) { return std::min<int64_t>(rows, std::max<int64_t>(65536, int64_t(32) * lists)); }

struct Loaded {
    std::shared_ptr<const HalfVectorFile> vectors;
    IvfFile file;
};

/// The files as they are, if both are whole and belong together (else Error, or nothing when
/// neither is there).
std::unique_ptr<Loaded> load_files(const CompressedIndexSource& source) {
    const std::string ivf_path = compressed_index_path(source.gallery_path), vectors_path = vector_file_path(source.gallery_path);
    std::error_code error;
    if (!std::filesystem::exists(ivf_path, error) && !std::filesystem::exists(vectors_path, error)) return nullptr;
    auto loaded = std::make_unique<Loaded>();
    loaded->file = read_ivf_file(ivf_path);
    loaded->vectors = HalfVectorFile::open(vectors_path);
    const auto vectors_note = nlohmann::json::parse(loaded->vectors->note(), nullptr, false);
    const auto& note = loaded->file.note;
    const bool matched = vectors_note.is_object() && note.value("generation", int64_t(-1)) >= 0 &&
                         note.value("generation", int64_t(-1)) == vectors_note.value("generation", int64_t(-2)) &&
                         note.value("gallery", std::string()) == vectors_note.value("gallery", std::string("?")) &&
                         note.value("rows", int64_t(-1)) == loaded->vectors->size() &&
                         note.value("trained_rows", int64_t(0)) > 0 &&
                         loaded->file.contents.dimension == loaded->vectors->dimension();
    if (!matched) throw Error(ivf_path, "does not belong with " + vectors_path + " (one of them was replaced)");
    return loaded;
}

std::shared_ptr<const VectorIndex> index_of(IvfPqIndex ivf, std::shared_ptr<const HalfVectorFile> vectors,
                                            const IvfPqSettings& settings) {
    auto state = std::make_unique<VectorIndex::State>();
    const int64_t dimension = vectors->dimension();
    state->ivf = std::make_shared<const IvfPqIndex>(std::move(ivf));
    state->rows = std::move(vectors);
    state->ivf_settings = settings;
    return std::make_shared<const VectorIndex>(std::move(state), dimension, IndexKind::IvfPq);
}

CompressedIndex build(const CompressedIndexSource& source, const IvfPqSettings& settings) {
    TrainedCompressedIndex trained = train_compressed_index(source, settings, vector_file_path(source.gallery_path));
    const auto start = Clock::now();
    add_vector_rows(trained.ivf, *trained.vectors, 0, trained.vectors->size());
    save_compressed_index(source, trained.ivf, source.rows);  // the growth rule counts from the rows trained for
    char how[200];
    std::snprintf(how, sizeof(how), "built: %d lists, %d bytes a code; vector file %.1f s, training on %lld rows %.1f s, adding %.1f s",
                  trained.ivf.lists(), trained.ivf.sub_quantizers(), trained.writing_seconds,
                  static_cast<long long>(trained.training_rows), trained.training_seconds, seconds_since(start));
    return {index_of(std::move(trained.ivf), std::move(trained.vectors), settings), how, {}};
}

/// Whether the files were made for this gallery, at this dimension and with the lists and code
/// size asked for (0: any).
bool belongs_to(const Loaded& loaded, const CompressedIndexSource& source, const IvfPqSettings& settings) {
    const nlohmann::json& note = loaded.file.note;
    return note.value("gallery", std::string()) == source.uid && loaded.file.contents.dimension == source.dimension &&
           (settings.lists <= 0 || note.value("lists", 0) == settings.lists) &&
           (settings.sub_quantizers <= 0 || note.value("sub_quantizers", 0) == settings.sub_quantizers);
}

/// The index of `old` rows and `ivf` with the gallery's rows after them added: the vector file
/// written again (the old rows copied, the new ones appended), the new rows encoded with the
/// codebooks as they are.
CompressedIndex grow(const CompressedIndexSource& source, std::shared_ptr<const HalfVectorFile> old, IvfPqIndex ivf,
                     int64_t trained, const IvfPqSettings& settings) {
    const int64_t rows = old->size();
    const std::string vectors_path = vector_file_path(source.gallery_path);
    HalfVectorFileWriter writer(vectors_path, source.dimension, compressed_index_note(source, source.rows).dump());
    std::vector<uint16_t> half;
    std::vector<int64_t> ids;
    for (int64_t first = 0; first < rows; first += kBlockRows) {
        const int64_t count = std::min(kBlockRows, rows - first);
        half.resize(size_t(count * source.dimension));
        old->copy_half_rows(first, count, half.data());
        ids.resize(size_t(count));
        for (int64_t i = 0; i < count; ++i) ids[size_t(i)] = old->id(first + i);
        writer.add_half(ids.data(), half.data(), count);
    }
    source.read_rows(rows > 0 ? old->id(rows - 1) : -1, [&](const int64_t* new_ids, const float* values, int64_t count) {
        ivf.add(values, writer.size(), count);
        writer.add(new_ids, values, count);
    });
    if (writer.size() != source.rows) throw Error(source.gallery_path, "changed while its index was updated");
    writer.commit();
    old = {};
    auto vectors = HalfVectorFile::open(vectors_path);
    save_compressed_index(source, ivf, trained);
    return {index_of(std::move(ivf), std::move(vectors), settings), "grown by " + std::to_string(source.rows - rows) + " rows", {}};
}

}  // namespace

nlohmann::json compressed_index_note(const CompressedIndexSource& source, int64_t rows) {
    return {{"gallery", source.uid}, {"generation", source.generation}, {"rows", rows}};
}

void write_ivf_file(const std::string& path, int64_t dimension, const nlohmann::json& note, const IvfPqIndex& ivf) {
    write_file_atomically(path, frame_index_file(kIvfMagic, kIvfVersion, dimension, note.dump(), ivf.serialise()));
}

IvfFile read_ivf_file(const std::string& path) {
    IvfFile file;
    file.bytes = std::make_unique<std::string>(read_file(path, kMaxIvfFileBytes));
    file.contents = read_index_file(*file.bytes, kIvfMagic, kIvfVersion, path, "IVF-PQ index");
    file.note = nlohmann::json::parse(file.contents.note, nullptr, false);
    if (!file.note.is_object()) throw Error(path, "damaged IVF-PQ index (its note is not a JSON object)");
    return file;
}

void save_compressed_index(const CompressedIndexSource& source, const IvfPqIndex& ivf, int64_t trained_rows) {
    nlohmann::json note = compressed_index_note(source, ivf.size());
    note["trained_rows"] = trained_rows;
    note["lists"] = ivf.lists();
    note["sub_quantizers"] = ivf.sub_quantizers();
    write_ivf_file(compressed_index_path(source.gallery_path), source.dimension, note, ivf);
}

TrainedCompressedIndex train_compressed_index(const CompressedIndexSource& source, const IvfPqSettings& settings,
                                              const std::string& vectors_path) {
    const int lists = settings.lists > 0 ? settings.lists : IvfPqIndex::default_lists(source.rows);
    const int sub_quantizers = settings.sub_quantizers > 0 ? settings.sub_quantizers : IvfPqIndex::default_sub_quantizers(source.dimension);
    if (source.rows < std::max(lists, 256))
        throw Error(source.gallery_path, "an IVF-PQ index needs at least " + std::to_string(std::max(lists, 256)) +
                                             " photos to train on; the gallery has " + std::to_string(source.rows) +
                                             " (use the exact index)", ErrorKind::BadInput);
    auto start = Clock::now();
    HalfVectorFileWriter writer(vectors_path, source.dimension, compressed_index_note(source, source.rows).dump());
    source.read_rows(-1, [&](const int64_t* ids, const float* values, int64_t count) { writer.add(ids, values, count); });
    if (writer.size() != source.rows)
        throw Error(source.gallery_path, "changed while its index was built (" + std::to_string(writer.size()) + " rows, not " +
                                             std::to_string(source.rows) + ")");
    writer.commit();
    auto vectors = HalfVectorFile::open(vectors_path);
    const double writing_seconds = seconds_since(start);

    // Training rows at random (the same for the same gallery state), in file order.
    const int64_t sample_rows = training_rows(source.rows, lists);
    std::vector<int64_t> picked(size_t(source.rows));
    for (int64_t i = 0; i < source.rows; ++i) picked[size_t(i)] = i;
    std::mt19937_64 random(uint64_t(source.generation) * 7919 + 17);
    for (int64_t i = 0; i < sample_rows; ++i)
        std::swap(picked[size_t(i)], picked[size_t(i + int64_t(random() % uint64_t(source.rows - i)))]);
    picked.resize(size_t(sample_rows));
    std::sort(picked.begin(), picked.end());
    std::vector<float> sample(size_t(sample_rows * source.dimension));
    for (int64_t i = 0; i < sample_rows; ++i) vectors->copy_rows(picked[size_t(i)], 1, sample.data() + i * source.dimension);
    picked = {};
    start = Clock::now();
    IvfPqIndex ivf = IvfPqIndex::train(source.dimension, sample.data(), sample_rows, lists, sub_quantizers);
    return {std::move(vectors), std::move(ivf), sample_rows, writing_seconds, seconds_since(start)};
}

void add_vector_rows(IvfPqIndex& ivf, const HalfVectorFile& vectors, int64_t first, int64_t count) {
    std::vector<float> block;
    for (int64_t at = first; at < first + count; at += kBlockRows) {
        const int64_t rows = std::min(kBlockRows, first + count - at);
        block.resize(size_t(rows * vectors.dimension()));
        vectors.copy_rows(at, rows, block.data());
        ivf.add(block.data(), at, rows);
    }
}

std::string compressed_index_path(const std::string& gallery_path) { return gallery_path + ".ivfpq"; }
std::string vector_file_path(const std::string& gallery_path) { return gallery_path + ".vectors"; }

CompressedIndex compressed_index(const CompressedIndexSource& source, const IvfPqSettings& settings) {
    std::vector<std::string> warnings;
    std::unique_ptr<Loaded> loaded;
    try {
        loaded = load_files(source);
    } catch (const Error& e) {
        warnings.push_back(std::string("the IVF-PQ index is built again: ") + e.what());
    }
    if (loaded && belongs_to(*loaded, source, settings)) {
        try {
            const int64_t rows = loaded->vectors->size();
            IvfPqIndex ivf = IvfPqIndex::deserialise(loaded->file.contents.payload, source.dimension, 0, rows,
                                                     compressed_index_path(source.gallery_path));
            const nlohmann::json note = std::move(loaded->file.note);
            loaded->file = {};
            const int64_t generation = note.value("generation", int64_t(-1));
            if (generation == source.generation && rows == source.rows)
                return {index_of(std::move(ivf), std::move(loaded->vectors), settings), "loaded", std::move(warnings)};
            const int64_t trained = note.value("trained_rows", int64_t(0));
            const int64_t last_id = rows > 0 ? loaded->vectors->id(rows - 1) : -1;
            const bool only_added = generation < source.generation && source.rewritten_generation <= generation &&
                                    source.rows >= rows && source.rows_up_to(last_id) == rows;
            if (only_added && double(source.rows - trained) <= kCompressedIndexGrowth * double(trained)) {
                CompressedIndex grown = grow(source, std::move(loaded->vectors), std::move(ivf), trained, settings);
                grown.warnings = std::move(warnings);
                return grown;
            }
        } catch (const Error& e) {
            warnings.push_back(std::string("the IVF-PQ index is built again: ") + e.what());
        }
    }
    loaded = {};
    CompressedIndex built = build(source, settings);
    built.warnings = std::move(warnings);
    return built;
}

}  // namespace pupembed
