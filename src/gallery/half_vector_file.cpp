#include "gallery/half_vector_file.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "gallery/float16.hpp"
#include "pupembed/core/error.hpp"

namespace pupembed {
namespace {

const char kMagic[] = "PUPVEC16";
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderBytes = 4096;
constexpr size_t kFixedHeaderBytes = 48;  // magic to the header's CRC; the note follows
constexpr size_t kMaxNoteBytes = kHeaderBytes - kFixedHeaderBytes;

struct Header {
    char magic[8];
    uint32_t version;
    uint32_t flags;
    uint64_t dimension;
    uint64_t count;
    uint64_t note_size;
    uint32_t data_crc;
    uint32_t header_crc;
};
static_assert(sizeof(Header) == kFixedHeaderBytes, "the header's layout is the file's");

uint64_t padded_rows_bytes(uint64_t count, uint64_t dimension) { return (count * dimension * 2 + 7) / 8 * 8; }

uint32_t header_crc(const Header& header, const char* note) {
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(&header), uInt(offsetof(Header, header_crc)));
    return uint32_t(crc32(crc, reinterpret_cast<const Bytef*>(note), uInt(header.note_size)));
}

unsigned long crc_more(unsigned long crc, const void* data, size_t size) {
    const auto* bytes = static_cast<const Bytef*>(data);
    while (size > 0) {  // zlib's length is an unsigned int
        const size_t part = std::min<size_t>(size, size_t(1) << 30);
        crc = crc32(crc, bytes, uInt(part));
        bytes += part;
        size -= part;
    }
    return crc;
}

struct Fd {
    int fd;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

}  // namespace

std::shared_ptr<const HalfVectorFile> HalfVectorFile::open(const std::string& path) {
    auto damaged = [&](const std::string& what) { return Error(path, "damaged vector file (" + what + ")"); };
    Fd file{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK)};
    if (file.fd < 0) throw Error(path, std::string("cannot open: ") + std::strerror(errno));
    struct stat status {};
    if (::fstat(file.fd, &status) != 0 || !S_ISREG(status.st_mode)) throw Error(path, "not a regular file");
    const auto file_bytes = uint64_t(status.st_size);
    char head[kHeaderBytes] = {};
    if (file_bytes < kHeaderBytes || ::pread(file.fd, head, kHeaderBytes, 0) != ssize_t(kHeaderBytes)) {
        if (file_bytes >= 8 && std::memcmp(head, kMagic, 8) != 0) throw Error(path, "not a pupembed vector file");
        throw damaged("truncated header");
    }
    Header header{};
    std::memcpy(&header, head, sizeof(header));
    if (std::memcmp(header.magic, kMagic, 8) != 0) throw Error(path, "not a pupembed vector file");
    if (header.version != kVersion)
        throw Error(path, "vector file format version " + std::to_string(header.version) + ", this build reads " +
                              std::to_string(kVersion));
    if (header.note_size > kMaxNoteBytes) throw damaged("note of " + std::to_string(header.note_size) + " bytes");
    if (header.header_crc != header_crc(header, head + kFixedHeaderBytes)) throw damaged("header CRC mismatch");
    if (header.flags != 0 || header.dimension < 1 || header.dimension > 65536 || header.count > (uint64_t(1) << 40))
        throw damaged("dimension " + std::to_string(header.dimension) + ", " + std::to_string(header.count) + " rows");
    const uint64_t rows_bytes = padded_rows_bytes(header.count, header.dimension);
    const uint64_t expected = kHeaderBytes + rows_bytes + header.count * 8;
    if (file_bytes != expected)
        throw damaged(std::to_string(file_bytes) + " bytes where its header says " + std::to_string(expected));

    // The CRC and the ids' order are checked from read() calls, not through the mapping: a serving
    // process keeps only the rows its queries touch resident.
    std::vector<char> chunk(size_t(8) << 20);
    unsigned long crc = crc32(0L, Z_NULL, 0);
    int64_t previous_id = -1;
    bool ordered = true;
    for (uint64_t at = kHeaderBytes; at < file_bytes;) {
        const size_t part = size_t(std::min<uint64_t>(chunk.size(), file_bytes - at));
        size_t done = 0;
        while (done < part) {
            const ssize_t got = ::pread(file.fd, chunk.data() + done, part - done, off_t(at + done));
            if (got < 0 && errno == EINTR) continue;
            if (got <= 0) throw Error(path, std::string("read failed: ") + (got < 0 ? std::strerror(errno) : "the file shrank"));
            done += size_t(got);
        }
        crc = crc_more(crc, chunk.data(), part);
        const uint64_t ids_at = kHeaderBytes + rows_bytes;
        // Ids start 8-byte aligned and chunks are 8 MB, so no id straddles two chunks.
        for (uint64_t byte = std::max(at, ids_at); byte + 8 <= at + part; byte += 8) {
            int64_t id = 0;
            std::memcpy(&id, chunk.data() + (byte - at), 8);
            ordered = ordered && id > previous_id;
            previous_id = id;
        }
        at += part;
    }
    if (uint32_t(crc) != header.data_crc) throw damaged("CRC mismatch");
    if (!ordered) throw damaged("ids not ascending");

    std::shared_ptr<HalfVectorFile> vectors(new HalfVectorFile());
    vectors->path_ = path;
    vectors->note_.assign(head + kFixedHeaderBytes, header.note_size);
    vectors->dimension_ = int64_t(header.dimension);
    vectors->count_ = int64_t(header.count);
    vectors->mapping_ = ::mmap(nullptr, file_bytes, PROT_READ, MAP_SHARED, file.fd, 0);
    if (vectors->mapping_ == MAP_FAILED) {
        vectors->mapping_ = nullptr;
        throw Error(path, std::string("cannot map: ") + std::strerror(errno));
    }
    vectors->mapped_bytes_ = file_bytes;
    ::madvise(vectors->mapping_, file_bytes, MADV_RANDOM);  // queries read scattered rows: no read-ahead
    const auto* base = static_cast<const char*>(vectors->mapping_);
    vectors->rows_ = reinterpret_cast<const uint16_t*>(base + kHeaderBytes);
    vectors->ids_ = reinterpret_cast<const int64_t*>(base + kHeaderBytes + rows_bytes);
    return vectors;
}

HalfVectorFile::~HalfVectorFile() {
    if (mapping_) ::munmap(mapping_, mapped_bytes_);
}

int64_t HalfVectorFile::row_of(int64_t id) const {
    const int64_t* found = std::lower_bound(ids_, ids_ + count_, id);
    return found != ids_ + count_ && *found == id ? found - ids_ : -1;
}

void HalfVectorFile::copy_half_rows(int64_t first, int64_t count, uint16_t* out) const {
    if (first < 0 || count < 0 || first + count > count_) throw Error(path_, "rows out of range");
    const uint16_t* begin = row(first);
    std::memcpy(out, begin, size_t(count * dimension_) * sizeof(uint16_t));
    // Whole pages inside the rows read only: a page shared with rows not read stays.
    const auto page = uintptr_t(::sysconf(_SC_PAGESIZE));
    const uintptr_t from = (reinterpret_cast<uintptr_t>(begin) + page - 1) / page * page;
    const uintptr_t to = reinterpret_cast<uintptr_t>(begin + count * dimension_) / page * page;
    if (to > from) ::madvise(reinterpret_cast<void*>(from), to - from, MADV_DONTNEED);
}

void HalfVectorFile::copy_rows(int64_t first, int64_t count, float* out) const {
    std::vector<uint16_t> half(size_t(count * dimension_));
    copy_half_rows(first, count, half.data());
    half_to_floats(half.data(), out, count * dimension_);
}

HalfVectorFileWriter::HalfVectorFileWriter(const std::string& path, int64_t dimension, const std::string& note)
    : file_(path), path_(path), note_(note), dimension_(dimension) {
    if (dimension < 1 || dimension > 65536) throw Error(path, "vector dimension " + std::to_string(dimension));
    if (note.size() > kMaxNoteBytes) throw Error(path, "vector file note too long");
    crc_ = crc32(0L, Z_NULL, 0);
    const std::vector<char> zeros(kHeaderBytes, 0);
    file_.write(zeros.data(), zeros.size());  // the header, written at commit()
}

void HalfVectorFileWriter::check_ids(const int64_t* ids, int64_t count) {
    for (int64_t i = 0; i < count; ++i) {
        if (ids[i] < 0 || (!ids_.empty() && ids[i] <= ids_.back()))
            throw Error(path_, "vector file rows must come in ascending id order (id " + std::to_string(ids[i]) + ")");
        ids_.push_back(ids[i]);
    }
}

void HalfVectorFileWriter::add(const int64_t* ids, const float* rows, int64_t count) {
    buffer_.resize(size_t(count * dimension_));
    floats_to_half(rows, buffer_.data(), count * dimension_);
    add_half(ids, buffer_.data(), count);
}

void HalfVectorFileWriter::add_half(const int64_t* ids, const uint16_t* rows, int64_t count) {
    if (count <= 0) return;
    check_ids(ids, count);
    const size_t bytes = size_t(count * dimension_) * sizeof(uint16_t);
    file_.write(rows, bytes);
    crc_ = crc_more(crc_, rows, bytes);
}

void HalfVectorFileWriter::commit() {
    const auto count = uint64_t(ids_.size());
    const uint64_t padding = padded_rows_bytes(count, uint64_t(dimension_)) - count * uint64_t(dimension_) * 2;
    const char zeros[8] = {};
    file_.write(zeros, size_t(padding));
    crc_ = crc_more(crc_, zeros, size_t(padding));
    file_.write(ids_.data(), ids_.size() * sizeof(int64_t));
    crc_ = crc_more(crc_, ids_.data(), ids_.size() * sizeof(int64_t));
    Header header{};
    std::memcpy(header.magic, kMagic, 8);
    header.version = kVersion;
    header.dimension = uint64_t(dimension_);
    header.count = count;
    header.note_size = note_.size();
    header.data_crc = uint32_t(crc_);
    header.header_crc = header_crc(header, note_.data());
    file_.write_at(0, &header, sizeof(header));
    file_.write_at(int64_t(kFixedHeaderBytes), note_.data(), note_.size());
    file_.commit();
}

}  // namespace pupembed
