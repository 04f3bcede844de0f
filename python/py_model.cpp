#include "py_model.hpp"

namespace pupembed::python {

void bind_model(py::module_& m) {
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
        .def("embed_job_shard", &PyModel::embed_job_shard, py::arg("job"), py::arg("shard"),
             "Embeds shard `shard` of the job folder `job` (made with this model file) unless it is done, as\n"
             "`pupembed embed --shard` does; returns {'shard', 'skipped', 'embedded', 'failed', 'seconds'}.\n"
             "pupembed.distributed runs these as Dask tasks. Not for two threads on one Model at once.")
        .def("similarity", &PyModel::similarity, py::arg("a"), py::arg("b"),
             "Cosine similarity of two photos' embeddings (1: the same; the cosine distance is 1 - it).")
        .def("__repr__", [](const PyModel& self) { return "pupembed.Model('" + self.path() + "')"; });
}

}  // namespace pupembed::python
