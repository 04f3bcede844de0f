// How the Python module reads its arguments: photos (paths, bytes, path-like objects, uint8 arrays,
// stacks and lists of them), gallery ids, and JSON answers turned into Python objects.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pupembed/gallery/queries.hpp"
#include "pupembed/io/image.hpp"

namespace pupembed::python {

namespace py = pybind11;

/// A JSON answer as Python objects: the very text the command prints, read by Python's json.
py::object to_python(const nlohmann::json& value);

bool is_array(py::handle photo);
/// A str, bytes (a Linux path is bytes; os.fsencode's) or path-like object.
bool is_path(py::handle photo);
/// The path's bytes as the file system takes them (os.fsencode: a name that is not UTF-8 too).
std::string path_text(py::handle photo);
/// An array's shape as Python writes it, e.g. "(64, 64)".
std::string shape_text(const py::array& array);

/// An H x W x 3 uint8 RGB array as an Image (copied, so the network can run without the GIL).
Image image_from_array(const py::array& array, const std::string& name, const ImageLoadOptions& load);

/// One photo, or several: a path, an H x W x 3 array, an N x H x W x 3 array, or a sequence of
/// paths and arrays. Each comes back as its own Python object.
std::vector<py::object> photo_list(py::handle photos);

/// Photos to run through a model: files (decoded by the library's batch loader) and decoded arrays.
struct PhotoBatch {
    std::vector<std::string> paths;
    std::vector<size_t> path_rows;   ///< each path's position among all photos
    std::vector<Image> images;
    std::vector<size_t> image_rows;  ///< each array's position
    size_t count = 0;
};

/// `items` (from photo_list) sorted into files, checked to exist, and decoded arrays.
PhotoBatch photo_batch(const std::vector<py::object>& items, const ImageLoadOptions& load);

/// A gallery photo argument as the library's PhotoInput: an int is a gallery id, a path (or
/// "#12") is named, an array is a decoded photo (kept alive in `images`).
PhotoInput photo_input(py::handle photo, const std::string& name, std::vector<std::unique_ptr<Image>>& images,
                       const ImageLoadOptions& load);

}  // namespace pupembed::python
