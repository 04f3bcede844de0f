// pupembed.Gallery's native part: a gallery, the model that answers for it, and the searches.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "photo_arguments.hpp"
#include "py_model.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/gallery/gallery.hpp"
#include "pupembed/gallery/gallery_model.hpp"
#include "pupembed/gallery/index_shards.hpp"
#include "pupembed/gallery/ingest.hpp"
#include "pupembed/gallery/job_import.hpp"
#include "pupembed/gallery/queries.hpp"
#include "pupembed/gallery/query_json.hpp"
#include "pupembed/gallery/search.hpp"
#include "pupembed/inference/embedder.hpp"
#include "pupembed/inference/embedding_map.hpp"

namespace pupembed::python {
namespace {

/// The gallery's warnings as Python warnings (UserWarning), which the caller may filter.
void warn_python(const std::vector<std::string>& warnings) {
    for (const auto& warning : warnings)
        if (PyErr_WarnEx(PyExc_UserWarning, warning.c_str(), 2) != 0) throw py::error_already_set();
}

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
        warn_python(report.warnings);
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
            found = search_photos(gallery_, embedder_of(model).get(), inputs, parameters);
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
            found = search_algebra(gallery_, embedder_of(model).get(), query, parameters);
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

    py::dict import_job(const std::string& job) {
        JobImportReport report;
        {
            py::gil_scoped_release release;
            report = import_embedding_job(gallery_, job);
        }
        warn_python(report.warnings);
        nlohmann::json out = job_import_json(report, job, gallery_);
        out["gallery"] = gallery_.path();
        return to_python(out);
    }

    py::dict plan_index_shards(int shards, std::optional<int> lists) {
        IvfPqSettings settings;
        settings.lists = lists.value_or(0);
        IndexShardsPlan plan;
        {
            py::gil_scoped_release release;
            plan = pupembed::plan_index_shards(gallery_, shards, settings);
        }
        nlohmann::json out = index_shards_plan_json(plan);
        out["gallery"] = gallery_.path();
        return to_python(out);
    }

    py::dict merge_index_shards() {
        IndexShardsMerge merged;
        {
            py::gil_scoped_release release;
            merged = pupembed::merge_index_shards(gallery_);
        }
        nlohmann::json out = index_shards_merge_json(merged);
        out["gallery"] = gallery_.path();
        return to_python(out);
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

    /// An embedder over `model`; null without one (queries that are all gallery ids).
    static std::unique_ptr<BatchEmbedder> embedder_of(const std::shared_ptr<PyModel>& model) {
        return model ? std::make_unique<BatchEmbedder>(model->model(), model->options()) : nullptr;
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
        return resolve_photos(embedder_of(model).get(), inputs, &gallery_);
    }

    Gallery gallery_;
    std::string model_option_;
    IndexChoice choice_;
    int batch_;
    std::shared_ptr<PyModel> model_;
    GalleryModel identity_;  ///< model_'s, as a gallery records it
};

}  // namespace

void bind_gallery(py::module_& m) {
    py::class_<PyGallery>(m, "Gallery",
                          "A gallery of photos and their embeddings (a SQLite file, as `pupembed index` makes).\n\n"
                          "Gallery(path, create=False, model=None, index='auto', batch=64)\n"
                          "  create: make an empty gallery when the file is absent. model: the model file for new photos\n"
                          "  and queries (default: the gallery's own model, else the shipped default). index: 'auto',\n"
                          "  'exact', 'hnsw' or 'ivfpq'. A photo is a path, a gallery id (12 or '#12') or an H x W x 3 uint8 array.\n"
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
        .def("import_job", &PyGallery::import_job, py::arg("job"),
             "Loads a job folder's finished shards (pupembed.distributed.embed, `pupembed embed --shard`) without\n"
             "running the network, as `pupembed index import`: one transaction a shard, photos already there with\n"
             "the same contents unchanged. Returns {'shards', 'missing_shards', 'rows', 'added', ...}.")
        .def("remove", &PyGallery::remove, py::arg("ids"), "Removes photos by id; returns how many there were.")
        .def("plan_index_shards", &PyGallery::plan_index_shards, py::arg("shards"), py::arg("lists") = py::none(),
             "Step 1 of an IVF-PQ index built in shards (`pupembed index build --shards N`): writes the gallery's\n"
             "vectors and a trained index into PATH.ivfpq-shards/. Then pupembed.add_index_shard(path, i, shards)\n"
             "for each shard (anywhere that reaches the folder; pupembed.distributed.build_index runs them on Dask),\n"
             "then merge_index_shards(). Returns {'folder', 'shards', 'lists', ...}.")
        .def("merge_index_shards", &PyGallery::merge_index_shards,
             "Step 3: checks and merges the encoded shards into the gallery's IVF-PQ index (the index one build\n"
             "makes) and records it as the gallery's choice. Raises pupembed.Error naming shards not encoded yet.")
        .def("__repr__", [](const PyGallery& self) {
            return "pupembed.Gallery('" + self.path() + "', " + std::to_string(self.size()) + " photos)";
        });
    m.def(
        "add_index_shard",
        [](const std::string& gallery, int shard, int shards) {
            IndexShardReport report;
            {
                py::gil_scoped_release release;
                report = add_index_shard(gallery, shard, shards);
            }
            return to_python(index_shard_json(report));
        },
        py::arg("gallery"), py::arg("shard"), py::arg("shards"),
        "Step 2 of an IVF-PQ index built in shards (`pupembed index build --shard I/N`): encodes shard `shard`\n"
        "of the `shards` planned (Gallery.plan_index_shards) into the gallery's folder of shards, reading only\n"
        "that folder; a shard encoded before is skipped. Returns {'shard', 'rows', 'skipped', 'seconds', ...}.");
    m.def(
        "unfinished_index_shards",
        [](const std::string& gallery) {
            py::gil_scoped_release release;
            return unfinished_index_shards(gallery);
        },
        py::arg("gallery"), "The shards of the gallery's plan (Gallery.plan_index_shards) not encoded yet.");
}

}  // namespace pupembed::python
