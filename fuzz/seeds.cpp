// Makes the fuzz targets' seed corpora, one folder per target, from real photos in ../shared
// (re-encoded to every format and variant the decoders handle) and from files written by
// pupembed's own writers (galleries, indexes, .npy, list files, model headers). Nothing made
// here is committed: it is rebuilt from the sources and ../shared.
//   fuzz_seeds OUT_FOLDER [SHARED_FOLDER]
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "gallery/half_vector_file.hpp"
#include "gallery/ivf_pq_index.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/gallery/gallery.hpp"
#include "pupembed/gallery/vector_index.hpp"
#include "pupembed/io/dataset.hpp"
#include "pupembed/io/file_io.hpp"
#include "pupembed/io/npy.hpp"

namespace fs = std::filesystem;

namespace {

fs::path out_root;
int written = 0;

void seed(const std::string& target, const std::string& name, const std::string& bytes) {
    fs::create_directories(out_root / target);
    pupembed::write_file_atomically((out_root / target / name).string(), bytes);
    ++written;
}

std::string encode(const cv::Mat& mat, const std::string& extension, const std::vector<int>& params = {}) {
    std::vector<uint8_t> bytes;
    if (!cv::imencode(extension, mat, bytes, params)) throw pupembed::Error("cannot encode " + extension);
    return std::string(bytes.begin(), bytes.end());
}

/// A JPEG with an EXIF APP1 segment giving `orientation`.
std::string with_exif_orientation(const std::string& jpeg, int orientation) {
    std::string tiff = std::string("MM\0*\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0", 19) + char(orientation) +
                       std::string("\0\0\0\0\0\0", 6);
    const std::string payload = std::string("Exif\0\0", 6) + tiff;
    const size_t length = payload.size() + 2;
    const std::string segment = std::string("\xff\xe1", 2) + char(length >> 8) + char(length & 0xff) + payload;
    return jpeg.substr(0, 2) + segment + jpeg.substr(2);
}

void image_seeds(const fs::path& shared) {
    std::vector<cv::Mat> photos;
    const fs::path val = shared / "data/stanford-dogs-64/val";
    std::error_code error;
    if (fs::is_directory(val, error)) {
        std::vector<fs::path> breeds;
        for (const auto& entry : fs::directory_iterator(val)) breeds.push_back(entry.path());
        std::sort(breeds.begin(), breeds.end());
        for (size_t b = 0; b < breeds.size() && photos.size() < 4; b += 30) {
            std::vector<fs::path> files;
            for (const auto& entry : fs::directory_iterator(breeds[b])) files.push_back(entry.path());
            std::sort(files.begin(), files.end());
            if (files.empty()) continue;
            seed("fuzz_image", "photo-" + std::to_string(photos.size()) + ".jpg", pupembed::read_file(files[0].string()));
            photos.push_back(cv::imread(files[0].string(), cv::IMREAD_COLOR));
        }
    }
    if (photos.empty()) {  // no ../shared: a synthetic picture instead
        cv::Mat picture(48, 64, CV_8UC3);
        cv::randu(picture, 0, 255);
        cv::GaussianBlur(picture, picture, cv::Size(9, 9), 3);
        photos.push_back(picture);
    }
    const cv::Mat& photo = photos[0];
    cv::Mat small;
    cv::resize(photo, small, cv::Size(21, 13), 0, 0, cv::INTER_AREA);  // odd sizes, not multiples of 8
    cv::Mat grey, alpha, deep;
    cv::cvtColor(small, grey, cv::COLOR_BGR2GRAY);
    cv::cvtColor(small, alpha, cv::COLOR_BGR2BGRA);
    for (int y = 0; y < alpha.rows; ++y)
        for (int x = 0; x < alpha.cols; ++x) alpha.at<cv::Vec4b>(y, x)[3] = uint8_t(x * 12);
    small.convertTo(deep, CV_16UC3, 257.0);
    const std::string jpeg = encode(small, ".jpg", {cv::IMWRITE_JPEG_QUALITY, 80});
    seed("fuzz_image", "small.jpg", jpeg);
    seed("fuzz_image", "progressive.jpg", encode(small, ".jpg", {cv::IMWRITE_JPEG_PROGRESSIVE, 1}));
    seed("fuzz_image", "grey.jpg", encode(grey, ".jpg"));
    for (int orientation : {3, 6, 8}) seed("fuzz_image", "exif-" + std::to_string(orientation) + ".jpg", with_exif_orientation(jpeg, orientation));
    seed("fuzz_image", "rgb.png", encode(small, ".png"));
    seed("fuzz_image", "grey.png", encode(grey, ".png"));
    seed("fuzz_image", "alpha.png", encode(alpha, ".png"));
    seed("fuzz_image", "sixteen.png", encode(deep, ".png"));
    seed("fuzz_image", "lossy.webp", encode(small, ".webp", {cv::IMWRITE_WEBP_QUALITY, 60}));
    seed("fuzz_image", "lossless.webp", encode(alpha, ".webp", {cv::IMWRITE_WEBP_QUALITY, 101}));
    seed("fuzz_image", "rgb.bmp", encode(small, ".bmp"));
    seed("fuzz_image", "grey.bmp", encode(grey, ".bmp"));
    cv::Mat dot(1, 1, CV_8UC3, cv::Scalar(10, 200, 30));
    seed("fuzz_image", "dot.png", encode(dot, ".png"));
    seed("fuzz_image", "dot.jpg", encode(dot, ".jpg"));
    // Headers: the same files, cut to what a header reader sees.
    for (const auto& entry : fs::directory_iterator(out_root / "fuzz_image")) {
        const std::string bytes = pupembed::read_file(entry.path().string());
        seed("fuzz_image_header", entry.path().filename().string(), bytes.substr(0, std::min<size_t>(bytes.size(), 4096)));
    }
}

std::vector<float> unit_vectors(int64_t count, int64_t dimension) {
    std::mt19937_64 rng(11);
    std::normal_distribution<float> normal;
    std::vector<float> values(size_t(count * dimension));
    for (int64_t i = 0; i < count; ++i) {
        double norm = 0;
        for (int64_t j = 0; j < dimension; ++j) norm += std::pow(values[size_t(i * dimension + j)] = normal(rng), 2);
        for (int64_t j = 0; j < dimension; ++j) values[size_t(i * dimension + j)] /= float(std::sqrt(norm));
    }
    return values;
}

void gallery_and_index_seeds(const fs::path& scratch) {
    const std::string db = (scratch / "g.db").string();
    const std::vector<float> vectors = unit_vectors(40, 8);
    {
        pupembed::Gallery gallery = pupembed::Gallery::open(db, true);
        std::vector<pupembed::GalleryImage> images(6);
        for (size_t i = 0; i < images.size(); ++i) {
            images[i].path = "/photos/dog " + std::to_string(i) + ".jpg";
            images[i].content_hash = std::string(64, char('a' + i));
            images[i].file_size = 1000 + int64_t(i);
            images[i].width = 64;
            images[i].height = 48;
            images[i].added = "2026-11-30T12:00:00Z";
            images[i].breed = i % 2 ? "pug" : "beagle";
            images[i].breed_probability = 0.5;
        }
        gallery.put({"0123456789abcdef", "/models/m.pt", 8}, images, vectors.data());
    }
    seed("fuzz_gallery", "gallery.db", pupembed::read_file(db));
    {
        pupembed::Gallery empty = pupembed::Gallery::open((scratch / "empty.db").string(), true);
    }
    seed("fuzz_gallery", "empty.db", pupembed::read_file((scratch / "empty.db").string()));

    std::vector<int64_t> ids(40);
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = int64_t(i) + 1;
    for (const int count : {1, 3, 40}) {
        pupembed::VectorIndex index(8, pupembed::IndexKind::Hnsw);
        index.add(vectors.data(), ids.data(), count);
        const std::string path = (scratch / "g.index").string();
        index.save(path, "{\"note\": 1}");
        const std::string file = pupembed::read_file(path);
        seed("fuzz_vector_index", "file-" + std::to_string(count), std::string(1, '\1') + file);
        // The graph alone: after magic (8), version (4), dimension (8), note size (8), note, graph size (8).
        const size_t graph_at = 28 + 11 + 8;
        seed("fuzz_vector_index", "graph-" + std::to_string(count),
             std::string(1, '\0') + file.substr(graph_at, file.size() - graph_at - 4));
    }
}

/// A small IVF-PQ index's payload (8-d rows, 4 lists, 2 bytes a code) and a float16 vector file.
void ivf_seeds(const fs::path& scratch) {
    const std::vector<float> vectors = unit_vectors(300, 8);
    pupembed::IvfPqIndex index = pupembed::IvfPqIndex::train(8, vectors.data(), 300, 4, 2);
    index.add(vectors.data(), 0, 300);
    seed("fuzz_ivf_index", "payload", std::string(1, '\0') + index.serialise());
    const std::string path = (scratch / "g.vectors").string();
    pupembed::HalfVectorFileWriter writer(path, 8, "{\"rows\": 5}");
    std::vector<int64_t> ids = {1, 2, 5, 9, 10};
    writer.add(ids.data(), vectors.data(), 5);
    writer.commit();
    seed("fuzz_ivf_index", "vectors", std::string(1, '\1') + pupembed::read_file(path));
}

void npy_seeds(const fs::path& scratch) {
    const std::string path = (scratch / "a.npy").string();
    for (const auto& shape : std::vector<std::vector<int64_t>>{{}, {3}, {2, 4}, {1, 2, 3}, {0, 5}}) {
        pupembed::NpyArray array;
        array.shape = shape;
        int64_t count = 1;
        for (const auto d : shape) count *= d;
        for (int64_t i = 0; i < count; ++i) array.data.push_back(float(i) * 0.5f - 1);
        pupembed::write_npy(path, array);
        seed("fuzz_npy", "shape-" + std::to_string(shape.size()) + "-" + std::to_string(count), pupembed::read_file(path));
    }
    // Versions 2 and 3: a 4-byte header length.
    const std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
    std::string padded = header + std::string(64 - (12 + header.size()) % 64, ' ');
    padded.back() = '\n';
    for (const char version : {'\2', '\3'}) {
        std::string bytes = std::string("\x93NUMPY", 6) + version + '\0';
        const uint32_t length = uint32_t(padded.size());
        bytes.append(reinterpret_cast<const char*>(&length), 4);
        bytes += padded + std::string(8, '\0');
        seed("fuzz_npy", std::string("version-") + char('0' + version), bytes);
    }
}

void text_seeds(const fs::path& source) {
    seed("fuzz_list_file", "list.txt",
         "# pupembed list v1\nn02085620-Chihuahua/a.jpg\tn02085620-Chihuahua\n/abs/b.jpg\tn02110958-pug\r\n\n# c\nc.jpg\tpug\n");
    seed("fuzz_list_file", "bad.txt", "just one column\n");
    for (const auto& [name, text] : std::vector<std::pair<std::string, std::string>>{
             {"simple", "a.jpg + b.jpg - c.jpg"},
             {"weights", "0.5*a.jpg + 0.5*(#12 - #40)"},
             {"quoted", "'dog (1).jpg' + #3 - \"x y.png\""},
             {"nested", "2*(3*(#1 - (#2 + .5*#3)))"},
             {"errors", "(#1 + + 'b"},
             {"exponent", "1e3*#1 - 2.5e-3*#2"}})
        seed("fuzz_algebra", name, text);
    const std::string json_body = R"({"id": "#12", "k": 5})";
    const std::string multipart =
        "--XyZ\r\nContent-Disposition: form-data; name=\"expression\"\r\n\r\nup + #2 - #3\r\n"
        "--XyZ\r\nContent-Disposition: form-data; name=\"up\"; filename=\"a.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n"
        "\xff\xd8\xff\xd9\r\n--XyZ--\r\n";
    const std::vector<std::pair<std::string, std::string>> requests = {
        {"search-json", "POST /api/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                            std::to_string(json_body.size()) + "\r\n\r\n" + json_body},
        {"search-query", "POST /api/search?id=%2312&k=3 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"},
        {"algebra-multipart", "POST /api/algebra HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=XyZ\r\n"
                              "Content-Length: " + std::to_string(multipart.size()) + "\r\n\r\n" + multipart},
        {"raw-image", "POST /api/embed HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: 4\r\n\r\n\xff\xd8\xff\xd9"},
        {"chunked", "POST /api/embed HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n"},
        {"two-lengths", "POST /api/search HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n{}xx"},
        {"map", "GET /api/map?method=pca HTTP/1.1\r\nHost: x\r\n\r\n"},
    };
    for (const auto& [name, text] : requests) seed("fuzz_request", name, text);

    // A model file's header (its JSON) and the start of its tensor data, from the shipped model.
    const fs::path model = source / "models/pupembed-default.pt";
    std::error_code error;
    if (fs::is_regular_file(model, error)) {
        const std::string bytes = pupembed::read_file(model.string());
        uint64_t header_size = 0;
        std::memcpy(&header_size, bytes.data() + 12, 8);
        const std::string header = bytes.substr(20, size_t(header_size));
        const size_t data_at = 20 + size_t(header_size) + 4;
        seed("fuzz_model_file", "default-header", header + std::string(1, '\0') + bytes.substr(data_at, 2048));
    }
    seed("fuzz_model_file", "tiny", std::string(R"({"meta": {}, "tensors": [], "data_size": 0, "data_crc32": 0})") + '\0');
}

}  // namespace

int main(int argc, char** argv) try {
    if (argc < 2) {
        std::fprintf(stderr, "usage: fuzz_seeds OUT_FOLDER [SHARED_FOLDER]\n");
        return 2;
    }
    out_root = argv[1];
    const fs::path shared = argc > 2 ? fs::path(argv[2]) : fs::path(PUPEMBED_SOURCE_DIR) / "../shared";
    fs::remove_all(out_root);
    const fs::path scratch = out_root / ".scratch";
    fs::create_directories(scratch);
    image_seeds(shared);
    gallery_and_index_seeds(scratch);
    ivf_seeds(scratch);
    npy_seeds(scratch);
    text_seeds(PUPEMBED_SOURCE_DIR);
    fs::remove_all(scratch);
    std::printf("fuzz_seeds: %d seed files in %s\n", written, out_root.c_str());
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_seeds: error: %s\n", e.what());
    return 1;
}
