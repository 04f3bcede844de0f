// The Python module `pupembed`'s native part: a thin front end over the library, like the command
// and the server. Photos are file paths or H x W x 3 uint8 RGB NumPy arrays; embeddings and
// probabilities come back as N x D float32 arrays, searches as faiss's (D, I) arrays; reports
// (adding photos, statistics) are the dictionaries the command prints with --json; the
// conveniences built on the arrays are Python (pupembed/__init__.py). The network and the
// searches run with the GIL released. The library's Error becomes pupembed.Error
// with the same one-line message.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pupembed/core/error.hpp"
#include "pupembed/core/runtime.hpp"
#include "pupembed/core/version.hpp"
#include "pupembed/gallery/algebra.hpp"
#include "pupembed/gallery/gallery.hpp"
#include "pupembed/gallery/ingest.hpp"
#include "pupembed/gallery/queries.hpp"
#include "pupembed/gallery/query_json.hpp"
#include "pupembed/gallery/search.hpp"
#include "pupembed/inference/classify.hpp"
#include "pupembed/inference/embed.hpp"
#include "pupembed/inference/embedder.hpp"
#include "pupembed/inference/embedding_map.hpp"
#include "pupembed/io/image.hpp"
#include "pupembed/model/model.hpp"
#include "pupembed/model/threads.hpp"

namespace py = pybind11;

namespace pupembed::python {
namespace {

/// A JSON answer as Python objects: the very text the command prints, read by Python's json.
py::object to_python(const nlohmann::json& value) { return py::module_::import("json").attr("loads")(to_json_text(value)); }

bool is_array(py::handle photo) { return py::isinstance<py::array>(photo); }

/// A str, bytes (a Linux path is bytes; os.fsencode's) or path-like object.
bool is_path(py::handle photo) {
    return py::isinstance<py::str>(photo) || py::isinstance<py::bytes>(photo) || py::hasattr(photo, "__fspath__");
}

/// The path's bytes as the file system takes them (os.fsencode: a name that is not UTF-8 too).
std::string path_text(py::handle photo) { return py::module_::import("os").attr("fsencode")(photo).cast<std::string>(); }

std::string shape_text(const py::array& array) {
    std::string text = "(";
    for (py::ssize_t i = 0; i < array.ndim(); ++i) text += (i ? ", " : "") + std::to_string(array.shape(i));
    return text + (array.ndim() == 1 ? ",)" : ")");
}

/// An H x W x 3 uint8 RGB array as an Image (copied, so the network can run without the GIL).
Image image_from_array(const py::array& array, const std::string& name, const ImageLoadOptions& load) {
    if (array.dtype().kind() != 'u' || array.itemsize() != 1)
        throw Error(name, "must be a uint8 array (H x W x 3, RGB), got dtype " + std::string(py::str(array.dtype())),
                    ErrorKind::BadInput);
    if (array.ndim() != 3 || array.shape(2) != 3 || array.shape(0) < 1 || array.shape(1) < 1)
        throw Error(name, "must be an H x W x 3 RGB array, got shape " + shape_text(array), ErrorKind::BadInput);
    const int64_t height = array.shape(0), width = array.shape(1);
    if (height * width > load.max_pixels)
        throw Error(name, std::to_string(width) + " x " + std::to_string(height) + " pixels is over the limit of " +
                              std::to_string(load.max_pixels), ErrorKind::BadInput);
    const auto pixels = py::array_t<uint8_t, py::array::c_style>::ensure(array);
    Image image;
    image.width = int(width);
    image.height = int(height);
    image.photo_width = image.width;
    image.photo_height = image.height;
    image.rgb.assign(pixels.data(), pixels.data() + height * width * 3);
    return image;
}

/// One photo, or several: a path, an H x W x 3 array, an N x H x W x 3 array, or a sequence of
/// paths and arrays. Each comes back as its own Python object.
std::vector<py::object> photo_list(py::handle photos) {
    std::vector<py::object> items;
    if (is_path(photos)) {
        items.push_back(py::reinterpret_borrow<py::object>(photos));
    } else if (is_array(photos)) {
        const py::array array = py::reinterpret_borrow<py::array>(photos);
        if (array.ndim() == 4)
            for (py::ssize_t i = 0; i < array.shape(0); ++i) items.push_back(array[py::int_(i)]);
        else
            items.push_back(array);
    } else if (py::isinstance<py::sequence>(photos) || py::hasattr(photos, "__iter__")) {
        for (py::handle item : photos) items.push_back(py::reinterpret_borrow<py::object>(item));
    } else {
        throw Error("photos must be a path, an H x W x 3 uint8 array, or a list of them; got " +
                        std::string(py::str(py::type::of(photos).attr("__name__"))),
                    ErrorKind::BadInput);
    }
    if (items.empty()) throw Error("no photos given", ErrorKind::BadInput);
    return items;
}

/// Photos to run through a model: files (decoded by the library's batch loader) and decoded arrays.
struct PhotoBatch {
    std::vector<std::string> paths;
    std::vector<size_t> path_rows;   ///< each path's position among all photos
    std::vector<Image> images;
    std::vector<size_t> image_rows;  ///< each array's position
    size_t count = 0;
};

PhotoBatch photo_batch(const std::vector<py::object>& items, const ImageLoadOptions& load) {
    PhotoBatch batch;
    for (const auto& item : items) {
        if (is_array(item)) {
            batch.images.push_back(
                image_from_array(item.cast<py::array>(), "array " + std::to_string(batch.count), load));
            batch.image_rows.push_back(batch.count++);
        } else if (is_path(item)) {
            const std::string path = path_text(item);
            std::error_code error;
            if (std::filesystem::is_directory(path, error))
                throw Error(path, "is a folder; give its photos (pupembed.image_paths lists them)", ErrorKind::BadInput);
            if (!std::filesystem::exists(path, error))  // as the command says it (collect_image_paths)
                throw Error(path, "no such file or folder", ErrorKind::BadInput);
            batch.paths.push_back(path);
            batch.path_rows.push_back(batch.count++);
        } else {
            throw Error("photo " + std::to_string(batch.count), "must be a path or an H x W x 3 uint8 array, got " +
                                                                   std::string(py::str(py::type::of(item).attr("__name__"))),
                        ErrorKind::BadInput);
        }
    }
    return batch;
}

/// A gallery photo argument as the library's PhotoInput: an int is a gallery id, a path (or
/// "#12") is named, an array is a decoded photo (kept alive in `images`).
PhotoInput photo_input(py::handle photo, const std::string& name, std::vector<std::unique_ptr<Image>>& images,
                       const ImageLoadOptions& load) {
    if (py::isinstance<py::int_>(photo) && !py::isinstance<py::bool_>(photo)) {
        const int64_t id = photo.cast<int64_t>();
        return PhotoInput::gallery_image(id, "#" + std::to_string(id));
    }
    if (is_array(photo)) {
        images.push_back(std::make_unique<Image>(image_from_array(py::reinterpret_borrow<py::array>(photo), name, load)));
        return PhotoInput::decoded(name, *images.back());
    }
    if (is_path(photo)) return PhotoInput::named(path_text(photo));
    throw Error(name, "must be a path, a gallery id (int or \"#12\") or an H x W x 3 uint8 array", ErrorKind::BadInput);
}

// ---------------------------------------------------------------------------------------------

class PyModel {
public:
    PyModel(const std::optional<std::string>& path, int batch, int64_t max_pixels, bool full_decode)
        : path_(model_path_or_default(path.value_or(""))), model_(load_model_for_inference(path_)) {
        if (batch < 1) throw Error("batch", "must be at least 1, got " + std::to_string(batch), ErrorKind::BadInput);
        if (max_pixels < 1) throw Error("max_pixels", "must be positive", ErrorKind::BadInput);
        options_.batch_size = batch;
        options_.load.max_pixels = max_pixels;
        options_.load.full_decode = full_decode;
    }

    const std::string& path() const { return path_; }
    Model& model() { return model_; }
    const InferenceOptions& options() const { return options_; }

    /// Embeddings and (with `probabilities`) class probabilities of `photos`, in their order.
    std::pair<FloatRows, FloatRows> run(const std::vector<py::object>& photos, bool probabilities) {
        const PhotoBatch batch = photo_batch(photos, options_.load);
        const bool with_classes = probabilities && model_.has_classifier();
        const int64_t columns = model_.embedding_size();
        const int64_t classes = with_classes ? int64_t(model_.info.class_names.size()) : 0;
        FloatRows vectors{int64_t(batch.count), columns, std::vector<float>(batch.count * size_t(columns))};
        FloatRows scores{with_classes ? int64_t(batch.count) : 0, classes, std::vector<float>(batch.count * size_t(classes))};
        auto place = [&](size_t row, const float* vector, const float* probability) {
            std::copy_n(vector, columns, vectors.values.begin() + long(row) * columns);
            if (with_classes) std::copy_n(probability, classes, scores.values.begin() + long(row) * classes);
        };
        py::gil_scoped_release release;
        if (!batch.paths.empty())
            for_each_embedded_batch(model_, batch.paths, options_, false, with_classes, [&](const EmbeddedBatch& embedded) {
                for (size_t i = 0; i < embedded.indices.size(); ++i)
                    place(batch.path_rows[embedded.indices[i]], embedded.embeddings.row(int64_t(i)),
                          with_classes ? embedded.probabilities.row(int64_t(i)) : nullptr);
            });
        for (size_t begin = 0; begin < batch.images.size(); begin += size_t(options_.batch_size)) {
            const size_t end = std::min(batch.images.size(), begin + size_t(options_.batch_size));
            std::vector<const Image*> chunk;
            for (size_t i = begin; i < end; ++i) chunk.push_back(&batch.images[i]);
            const auto embedded = embed_decoded(model_, chunk, with_classes);
            for (size_t i = begin; i < end; ++i)
                place(batch.image_rows[i], embedded[i - begin].vector.data(),
                      with_classes ? embedded[i - begin].probabilities.data() : nullptr);
        }
        return {std::move(vectors), std::move(scores)};
    }

    py::array_t<float> embed(py::handle photos) {
        const FloatRows vectors = run(photo_list(photos), false).first;
        py::array_t<float> out({vectors.rows, vectors.columns});
        std::copy(vectors.values.begin(), vectors.values.end(), out.mutable_data());
        return out;
    }

    py::array_t<float> probabilities(py::handle photos) {
        if (!model_.has_classifier())
            throw Error(path_, "has no classifier, so it cannot name breeds (it gives features only)", ErrorKind::BadInput);
        const FloatRows scores = run(photo_list(photos), true).second;
        py::array_t<float> out({scores.rows, scores.columns});
        std::copy(scores.values.begin(), scores.values.end(), out.mutable_data());
        return out;
    }

    float similarity(py::handle a, py::handle b) {
        const FloatRows vectors =
            run({py::reinterpret_borrow<py::object>(a), py::reinterpret_borrow<py::object>(b)}, false).first;
        return cosine_similarity(vectors.row_vector(0), vectors.row_vector(1));
    }

    py::dict info() const {
        const Preprocessing& p = model_.info.preprocessing;
        py::dict out;
        out["path"] = path_;
        out["backbone"] = model_.info.backbone;
        out["embedding_size"] = model_.embedding_size();
        out["embedding"] = model_.has_embedding_head() ? "embedding head" : "pooled trunk features";
        out["classes"] = model_.info.class_names;
        out["class_ids"] = model_.info.class_ids;
        out["input_size"] = p.input_size;
        out["large_input_size"] = p.large_input_size;
        out["large_input_from"] = p.large_resize_shorter;
        out["parameters"] = model_.parameter_count();
        out["source"] = model_.info.source;
        return out;
    }

private:
    std::string path_;
    Model model_;
    InferenceOptions options_;
};

// ---------------------------------------------------------------------------------------------

class PyGallery {
public:
    PyGallery(const std::string& path, bool create, const std::optional<std::string>& model, const std::string& index,
              int batch)
        : gallery_(Gallery::open(path, create)), model_option_(model.value_or("")), choice_(index_choice_from_name(index)),
          batch_(batch) {
        if (batch < 1) throw Error("batch", "must be at least 1, got " + std::to_string(batch), ErrorKind::BadInput);
    }

    int64_t size() const { return gallery_.size(); }
    const std::string& path() const { return gallery_.path(); }

    py::dict add(py::handle photos, bool reembed, bool strict) {
        std::vector<std::string> inputs;
        for (const auto& item : photo_list(photos)) {
            if (!is_path(item)) throw Error("gallery.add", "takes photo files and folders (paths), not arrays", ErrorKind::BadInput);
            inputs.push_back(path_text(item));
        }
        const std::string model_path = model_path_for_gallery(model_option_, reembed ? nullptr : &gallery_);
        const std::shared_ptr<PyModel> model = model_for(model_path);  // kept alive while the GIL is released
        const GalleryModel identity = identity_;
        IngestOptions options;
        options.reembed = reembed;
        options.skip_bad = !strict;
        IngestReport report;
        {
            py::gil_scoped_release release;
            const std::vector<std::string> paths = collect_image_paths(inputs);
            BatchEmbedder embedder(model->model(), model->options());
            report = add_to_gallery(gallery_, embedder, identity, paths, options);
        }
        nlohmann::json out = ingest_json(report, identity, gallery_);
        out["gallery"] = gallery_.path();
        return to_python(out);
    }

    /// Gallery.search(queries, k, exclude): vectors (an n x d float array), or photos and ids.
    py::tuple search(py::handle queries, int k, py::handle exclude) {
        SearchParameters parameters = parameters_of(k, exclude);
        if (is_array(queries) && py::reinterpret_borrow<py::array>(queries).dtype().kind() == 'f') {
            const auto vectors = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(queries);
            const int64_t d = gallery_.model().dimension;
            if (vectors.ndim() != 2)
                throw Error("queries", "an array of vectors must be n x d (one query per row: vector[None, :] for one), got shape " +
                                           shape_text(vectors), ErrorKind::BadInput);
            FloatRows rows{vectors.shape(0), vectors.shape(1),
                           std::vector<float>(vectors.data(), vectors.data() + vectors.shape(0) * vectors.shape(1))};
            if (rows.rows == 0) throw Error("queries", "no queries given (0 rows)", ErrorKind::BadInput);
            if (d > 0 && rows.columns != d)
                throw Error("queries", "must have " + std::to_string(d) + " columns (the gallery's embedding size), got shape " +
                                           shape_text(vectors), ErrorKind::BadInput);
            NearestIds nearest;
            {
                py::gil_scoped_release release;
                nearest = search_vectors(gallery_, rows, parameters);
            }
            return arrays_of(nearest);
        }
        std::vector<py::object> items = query_list(queries);
        std::vector<std::string> names;
        for (size_t i = 0; i < items.size(); ++i) names.push_back("query " + std::to_string(i));
        std::vector<std::unique_ptr<Image>> images;
        const std::vector<PhotoInput> inputs = photo_inputs(items, names, images);
        const std::shared_ptr<PyModel> model = query_model(inputs);
        PhotoSearch found;
        {
            py::gil_scoped_release release;
            std::unique_ptr<BatchEmbedder> embedder;
            if (model) embedder = std::make_unique<BatchEmbedder>(model->model(), model->options());
            found = search_photos(gallery_, embedder.get(), inputs, parameters);
        }
        return arrays_of(found.nearest);
    }

    py::tuple algebra(const std::string& expression, int k, const py::dict& photos, py::handle exclude) {
        SearchParameters parameters = parameters_of(k, exclude);
        std::vector<std::unique_ptr<Image>> images;
        const AlgebraQuery query = algebra_query(expression, [&](const AlgebraTerm& term) {
            const py::str key(term.operand);
            if (!photos.contains(key)) return PhotoInput::named(term.operand);
            return photo_input(photos[key], term.operand, images, ImageLoadOptions{});
        });
        const std::shared_ptr<PyModel> model = query_model(query.terms);
        AlgebraSearch found;
        {
            py::gil_scoped_release release;
            std::unique_ptr<BatchEmbedder> embedder;
            if (model) embedder = std::make_unique<BatchEmbedder>(model->model(), model->options());
            found = search_algebra(gallery_, embedder.get(), query, parameters);
        }
        return arrays_of(found.nearest);
    }

    float similarity(py::handle a, py::handle b) {
        const auto photos = resolve({py::reinterpret_borrow<py::object>(a), py::reinterpret_borrow<py::object>(b)}, {"a", "b"});
        return cosine_similarity(photos[0].vector, photos[1].vector);
    }

    py::dict duplicates(double threshold) {
        if (!(threshold >= 0 && threshold <= 2)) throw Error("threshold", "must be a cosine distance in [0, 2]", ErrorKind::BadInput);
        std::vector<std::vector<int64_t>> groups;
        {
            py::gil_scoped_release release;
            groups = find_duplicates(gallery_, threshold);
        }
        return to_python({{"gallery", gallery_.path()}, {"threshold", threshold}, {"groups", duplicate_groups_json(gallery_, groups)}});
    }

    py::dict stats() const {
        nlohmann::json out = stats_json(gallery_stats(gallery_));
        out["gallery"] = gallery_.path();
        return to_python(out);
    }

    py::object image(int64_t id) const {
        const auto found = gallery_.find(id);
        return found ? to_python(image_json(*found)) : py::none();
    }

    py::tuple vectors() const {
        std::vector<int64_t> ids;
        std::vector<float> values;
        {
            py::gil_scoped_release release;  // another thread may be writing the gallery
            gallery_.vectors(ids, values);
        }
        const int64_t dimension = ids.empty() ? gallery_.model().dimension : int64_t(values.size() / ids.size());
        py::array_t<int64_t> id_array(int64_t(ids.size()));
        std::copy(ids.begin(), ids.end(), id_array.mutable_data());
        py::array_t<float> vector_array({int64_t(ids.size()), dimension});
        std::copy(values.begin(), values.end(), vector_array.mutable_data());
        return py::make_tuple(id_array, vector_array);
    }

    py::tuple map(const std::string& method, int64_t max_points) const {
        if (method != "umap" && method != "pca") throw Error("method", "must be \"umap\" or \"pca\", got \"" + method + "\"", ErrorKind::BadInput);
        if (max_points < 2) throw Error("max_points", "must be at least 2", ErrorKind::BadInput);
        std::vector<int64_t> ids;
        std::vector<float> values;
        {
            py::gil_scoped_release release;
            gallery_.vectors(ids, values);
        }
        if (ids.size() < 2) throw Error(gallery_.path(), "needs at least 2 photos for a map", ErrorKind::BadInput);
        GalleryMap map;
        {
            py::gil_scoped_release release;
            map = method == "umap" ? umap_layout(ids, values, max_points) : project_on_principal_plane(ids, values, max_points);
        }
        py::array_t<int64_t> id_array(int64_t(map.points.size()));
        py::array_t<float> xy({int64_t(map.points.size()), int64_t(2)});
        for (size_t i = 0; i < map.points.size(); ++i) {
            id_array.mutable_data()[i] = map.points[i].id;
            xy.mutable_data()[2 * i] = map.points[i].x;
            xy.mutable_data()[2 * i + 1] = map.points[i].y;
        }
        return py::make_tuple(id_array, xy);
    }

    int64_t remove(const std::vector<int64_t>& ids) {
        py::gil_scoped_release release;
        return gallery_.remove(ids);
    }

private:
    SearchParameters parameters_of(int k, py::handle exclude) const {
        SearchParameters parameters;
        parameters.k = k;
        parameters.index = choice_;
        if (!exclude.is_none()) {
            const auto ids = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(exclude);
            if (!ids || ids.ndim() != 1) throw Error("exclude", "must be a sequence of gallery ids (ints)", ErrorKind::BadInput);
            parameters.exclude.assign(ids.data(), ids.data() + ids.shape(0));
        }
        return parameters;
    }

    /// (D, I) of `nearest` as NumPy arrays: n x k float32 distances and int64 ids.
    static py::tuple arrays_of(const NearestIds& nearest) {
        py::array_t<float> distances({nearest.queries, int64_t(nearest.k)});
        py::array_t<int64_t> ids({nearest.queries, int64_t(nearest.k)});
        std::copy(nearest.distances.begin(), nearest.distances.end(), distances.mutable_data());
        std::copy(nearest.ids.begin(), nearest.ids.end(), ids.mutable_data());
        return py::make_tuple(distances, ids);
    }

    /// The queries of Gallery.search other than vectors: one photo or id, an N x H x W x 3 array,
    /// a 1-D integer array of ids, or a sequence of photos and ids.
    static std::vector<py::object> query_list(py::handle queries) {
        if (py::isinstance<py::int_>(queries) && !py::isinstance<py::bool_>(queries))
            return {py::reinterpret_borrow<py::object>(queries)};
        if (is_array(queries)) {
            const py::array array = py::reinterpret_borrow<py::array>(queries);
            if (array.ndim() == 1 && (array.dtype().kind() == 'i' || array.dtype().kind() == 'u')) {
                std::vector<py::object> ids;
                for (py::handle id : array.attr("tolist")()) ids.push_back(py::reinterpret_borrow<py::object>(id));
                if (ids.empty()) throw Error("queries", "no queries given", ErrorKind::BadInput);
                return ids;
            }
        }
        return photo_list(queries);
    }

    std::vector<PhotoInput> photo_inputs(const std::vector<py::object>& photos, const std::vector<std::string>& names,
                                         std::vector<std::unique_ptr<Image>>& images) {
        std::vector<PhotoInput> inputs;
        for (size_t i = 0; i < photos.size(); ++i) inputs.push_back(photo_input(photos[i], names[i], images, ImageLoadOptions{}));
        return inputs;
    }

    /// The model that embeds `inputs` (null when all are gallery ids), checked against the gallery.
    std::shared_ptr<PyModel> query_model(const std::vector<PhotoInput>& inputs) {
        if (!needs_model(inputs)) return nullptr;
        const std::shared_ptr<PyModel> model = model_for(model_path_for_gallery(model_option_, &gallery_));
        require_gallery_model(gallery_, identity_,
                              "give the model it was built with (model=...), or re-embed it with add(..., reembed=True)");
        return model;
    }

    /// The model for queries and additions at `path`, loaded once. Called with the GIL held; a
    /// caller that releases it holds the model through the pointer (another thread may load
    /// another one meanwhile).
    std::shared_ptr<PyModel> model_for(const std::string& path) {
        if (!model_ || model_->path() != path) {
            model_ = std::make_shared<PyModel>(path, batch_, ImageLoadOptions{}.max_pixels, false);
            identity_ = gallery_model_of(path, model_->model());  // hashes the file: once per model
        }
        return model_;
    }

    std::vector<QueryPhoto> resolve(const std::vector<py::object>& photos, const std::vector<std::string>& names) {
        std::vector<std::unique_ptr<Image>> images;
        const std::vector<PhotoInput> inputs = photo_inputs(photos, names, images);
        const std::shared_ptr<PyModel> model = query_model(inputs);
        py::gil_scoped_release release;
        std::unique_ptr<BatchEmbedder> embedder;
        if (model) embedder = std::make_unique<BatchEmbedder>(model->model(), model->options());
        return resolve_photos(embedder.get(), inputs, &gallery_);
    }

    Gallery gallery_;
    std::string model_option_;
    IndexChoice choice_;
    int batch_;
    std::shared_ptr<PyModel> model_;
    GalleryModel identity_;  ///< model_'s, as a gallery records it
};

}  // namespace
}  // namespace pupembed::python

PYBIND11_MODULE(_pupembed, m) {
    using namespace pupembed;
    using namespace pupembed::python;
    configure_memory();
    set_thread_count(0);  // one per core, as the command's --threads 0 (LibTorch's own default may be fewer)
    m.doc() = "The native part of pupembed (see help(pupembed)).";
    m.attr("__version__") = version();
    static py::exception<Error> error(m, "Error");
    error.doc() = "What went wrong, as one line naming the file or value (the message the command prints).";
    py::register_exception_translator([](std::exception_ptr thrown) {
        try {
            if (thrown) std::rethrow_exception(thrown);
        } catch (const Error& e) {
            PyErr_SetString(error.ptr(), e.what());
        } catch (const std::filesystem::filesystem_error& e) {
            // The library answers file-system faults with Error; one that slips through is still ours.
            PyErr_SetString(error.ptr(), e.what());
        }
    });

    py::class_<PyModel>(m, "Model",
                        "A pupembed model: photos to unit embeddings (N x D float32) and breed probabilities.\n\n"
                        "Model(path=None, batch=64, max_pixels=50_000_000, full_decode=False)\n"
                        "  path: a model file (.pt from `pupembed export`); None: $PUPEMBED_MODEL, else the shipped\n"
                        "        default model. max_pixels: larger photos are refused. Threads: pupembed.set_num_threads.\n"
                        "Photos are file paths, H x W x 3 uint8 RGB arrays, N x H x W x 3 arrays, or lists of those.")
        .def(py::init<const std::optional<std::string>&, int, int64_t, bool>(), py::arg("path") = py::none(),
             py::arg("batch") = 64, py::arg("max_pixels") = ImageLoadOptions{}.max_pixels, py::arg("full_decode") = false)
        .def_property_readonly("path", &PyModel::path, "The model file.")
        .def_property_readonly("info", &PyModel::info,
                               "What the model is: backbone, embedding size, classes, input sizes, source.")
        .def_property_readonly("embedding_size", [](PyModel& self) { return self.model().embedding_size(); },
                               "D, the size of the embeddings.")
        .def_property_readonly("classes", [](PyModel& self) { return self.model().info.class_names; },
                               "The breeds the classifier knows (empty without one).")
        .def_property_readonly("class_ids", [](PyModel& self) { return self.model().info.class_ids; },
                               "Each class's id (the WordNet id of a Stanford Dogs breed), as `classes`.")
        .def("embed", &PyModel::embed, py::arg("photos"),
             "Unit embeddings of the photos as an N x D float32 array, in their order (one row for a single\n"
             "photo). Files are decoded as `pupembed embed` decodes them, so the rows equal its output.\n"
             "Raises pupembed.Error for a missing or damaged file or an array that is not H x W x 3 uint8.")
        .def("probabilities", &PyModel::probabilities, py::arg("photos"),
             "Breed probabilities of the photos as an N x C float32 array (C = len(classes)), rows in the\n"
             "photos' order; each row sums to 1. Raises pupembed.Error for a model without a classifier.")
        .def("similarity", &PyModel::similarity, py::arg("a"), py::arg("b"),
             "Cosine similarity of two photos' embeddings (1: the same; the cosine distance is 1 - it).")
        .def("__repr__", [](const PyModel& self) { return "pupembed.Model('" + self.path() + "')"; });

    py::class_<PyGallery>(m, "Gallery",
                          "A gallery of photos and their embeddings (a SQLite file, as `pupembed index` makes).\n\n"
                          "Gallery(path, create=False, model=None, index='auto', batch=64)\n"
                          "  create: make an empty gallery when the file is absent. model: the model file for new photos\n"
                          "  and queries (default: the gallery's own model, else the shipped default). index: 'auto',\n"
                          "  'exact' or 'hnsw'. A photo is a path, a gallery id (12 or '#12') or an H x W x 3 uint8 array.\n"
                          "Searches answer as faiss does, (D, I) arrays; reports (add, stats, duplicates) are the\n"
                          "dictionaries the command prints with --json. One Gallery may be used from several threads at\n"
                          "once; a gallery whose file or folder is read-only answers queries, and add() and remove()\n"
                          "raise pupembed.Error saying why they cannot write.")
        .def(py::init<const std::string&, bool, const std::optional<std::string>&, const std::string&, int>(), py::arg("path"),
             py::arg("create") = false, py::arg("model") = py::none(), py::arg("index") = "auto", py::arg("batch") = 64)
        .def_property_readonly("path", &PyGallery::path)
        .def("__len__", &PyGallery::size)
        .def("add", &PyGallery::add, py::arg("photos"), py::arg("reembed") = false, py::arg("strict") = false,
             "Embeds photo files and folders (searched recursively) into the gallery, as `pupembed index add`:\n"
             "unchanged photos are skipped, changed ones re-embedded, unreadable ones listed in 'failures'\n"
             "(strict=True raises instead). Returns {'added', 'updated', 'unchanged', 'failed', ...}.")
        .def("search", &PyGallery::search, py::arg("queries"), py::arg("k") = 10, py::arg("exclude") = py::none(),
             "The k nearest gallery photos of each query, as faiss answers: (D, I), an n x k float32 array of\n"
             "cosine distances (1 - similarity) and an n x k int64 array of gallery ids, nearest first; where\n"
             "fewer than k exist the row ends in id -1 and distance inf. queries: an n x d float array of\n"
             "vectors (scaled to unit length), or photos and ids: a path, an id (12 or '#12'), an H x W x 3\n"
             "uint8 array, an N x H x W x 3 array, an int array of ids, or a list of those. All run as one\n"
             "batch through the network and the index. A query photo that is in the gallery is not its own\n"
             "answer; exclude: ids no query returns.")
        .def("algebra", &PyGallery::algebra, py::arg("expression"), py::arg("k") = 5, py::arg("photos") = py::dict(),
             py::arg("exclude") = py::none(),
             "Puppy algebra, e.g. '#12 + pup - 0.5*#40': operands are gallery ids, photo files, or names of\n"
             "arrays given in photos={'pup': array}. The k nearest to the normalised weighted sum, the terms\n"
             "that are gallery photos left out, as (D, I) of one row (see search).")
        .def("similarity", &PyGallery::similarity, py::arg("a"), py::arg("b"),
             "Cosine similarity of two photos (gallery ids use their stored vectors).")
        .def("duplicates", &PyGallery::duplicates, py::arg("threshold") = 0.05,
             "Groups of near-duplicates: photos within `threshold` cosine distance of another member.")
        .def("stats", &PyGallery::stats, "Photos, missing files, model, size on disk, photos per breed.")
        .def("image", &PyGallery::image, py::arg("id"), "A gallery photo's metadata, or None.")
        .def("vectors", &PyGallery::vectors, "(ids, vectors): every photo's id (int64) and embedding (N x D float32).")
        .def("map", &PyGallery::map, py::arg("method") = "umap", py::arg("max_points") = 5000,
             "(ids, xy): a 2-D map of the gallery's embeddings, 'umap' (photos of a breed gather) or 'pca'.")
        .def("remove", &PyGallery::remove, py::arg("ids"), "Removes photos by id; returns how many there were.")
        .def("__repr__", [](const PyGallery& self) {
            return "pupembed.Gallery('" + self.path() + "', " + std::to_string(self.size()) + " photos)";
        });

    m.def("set_num_threads", [](int threads) { return set_thread_count(threads); }, py::arg("n"),
          "Sets how many threads the network and batch searches use, for the whole process (0: one per\n"
          "core, the default); returns the number set.");
    m.def("get_num_threads", []() { return thread_count(); }, "How many threads the network and batch searches use.");
    m.def("cosine_similarity", [](const std::vector<float>& a, const std::vector<float>& b) {
              if (a.size() != b.size() || a.empty())
                  throw Error("cosine_similarity needs two vectors of one size, got " + std::to_string(a.size()) + " and " +
                              std::to_string(b.size()), ErrorKind::BadInput);
              return cosine_similarity(a, b);
          },
          py::arg("a"), py::arg("b"), "Cosine similarity of two unit vectors (rows of Model.embed).");
    m.def("image_paths", [](const std::vector<std::string>& inputs) { return collect_image_paths(inputs); }, py::arg("inputs"),
          "The photo files of files and folders (searched recursively, sorted), as the command finds them.");
    m.def("default_model_path", []() { return model_path_or_default(""); },
          "The model file used when none is named ($PUPEMBED_MODEL, else the shipped default).");
}
