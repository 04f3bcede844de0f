// The Python module `pupembed`'s native part: a thin front end over the library, like the command
// and the server. Photos are file paths or H x W x 3 uint8 RGB NumPy arrays; embeddings and
// probabilities come back as N x D float32 arrays, searches as faiss's (D, I) arrays; reports
// (adding photos, statistics) are the dictionaries the command prints with --json; the
// conveniences built on the arrays are Python (pupembed/__init__.py). The network and the
// searches run with the GIL released. The library's Error becomes pupembed.Error with the same
// one-line message. This file makes the module; py_model.cpp and py_gallery.cpp its classes,
// photo_arguments.cpp reads their arguments.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <filesystem>
#include <string>
#include <vector>

#include "pupembed/core/error.hpp"
#include "pupembed/core/runtime.hpp"
#include "pupembed/core/version.hpp"
#include "pupembed/gallery/queries.hpp"
#include "pupembed/inference/embed.hpp"
#include "pupembed/model/model.hpp"
#include "pupembed/model/threads.hpp"

namespace py = pybind11;

namespace pupembed::python {
void bind_model(py::module_& m);
void bind_gallery(py::module_& m);
void bind_jobs(py::module_& m);
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

    bind_model(m);
    bind_gallery(m);
    bind_jobs(m);

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
