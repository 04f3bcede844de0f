#include "photo_arguments.hpp"

#include <algorithm>
#include <filesystem>

#include "pupembed/core/error.hpp"
#include "pupembed/gallery/query_json.hpp"

namespace pupembed::python {

py::object to_python(const nlohmann::json& value) { return py::module_::import("json").attr("loads")(to_json_text(value)); }

bool is_array(py::handle photo) { return py::isinstance<py::array>(photo); }

bool is_path(py::handle photo) {
    return py::isinstance<py::str>(photo) || py::isinstance<py::bytes>(photo) || py::hasattr(photo, "__fspath__");
}

std::string path_text(py::handle photo) { return py::module_::import("os").attr("fsencode")(photo).cast<std::string>(); }

std::string shape_text(const py::array& array) {
    std::string text = "(";
    for (py::ssize_t i = 0; i < array.ndim(); ++i) text += (i ? ", " : "") + std::to_string(array.shape(i));
    return text + (array.ndim() == 1 ? ",)" : ")");
}

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

}  // namespace pupembed::python
