#include "pupembed/io/dataset.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <map>
#include <random>
#include <sstream>

#include "core/random.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/io/file_io.hpp"

namespace fs = std::filesystem;

namespace pupembed {
namespace {

const char kListMagic[] = "# pupembed list v1";

std::string lower(std::string text) {
    for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
}

/// Builds a dataset from (path, class name) pairs, numbering the classes in sorted order.
Dataset from_named(const std::vector<std::pair<std::string, std::string>>& named) {
    Dataset dataset;
    std::map<std::string, int> index;
    for (const auto& item : named) index.emplace(item.second, 0);
    for (auto& entry : index) {
        entry.second = static_cast<int>(dataset.class_names.size());
        dataset.class_names.push_back(entry.first);
    }
    for (const auto& item : named) dataset.samples.push_back({item.first, index.at(item.second)});
    return dataset;
}

}  // namespace

bool has_image_extension(const std::string& path) {
    const std::string extension = lower(fs::path(path).extension().string());
    return extension == ".jpg" || extension == ".jpeg" || extension == ".png" || extension == ".webp" ||
           extension == ".bmp";
}

Dataset scan_class_folders(const std::string& root) {
    std::error_code error;
    if (!fs::is_directory(root, error)) throw Error(root, "not a folder");
    std::vector<fs::path> class_dirs;
    for (const auto& entry : fs::directory_iterator(root, error))
        if (entry.is_directory()) class_dirs.push_back(entry.path());
    if (error) throw Error(root, "cannot list folder: " + error.message());
    if (class_dirs.empty()) throw Error(root, "no class folders (expected ROOT/<class>/<image>)");
    std::sort(class_dirs.begin(), class_dirs.end());

    Dataset dataset;
    for (const fs::path& dir : class_dirs) {
        std::vector<std::string> files;
        for (const auto& entry : fs::directory_iterator(dir, error))
            if (entry.is_regular_file() && has_image_extension(entry.path().string()))
                files.push_back(entry.path().string());
        if (error) throw Error(dir.string(), "cannot list folder: " + error.message());
        if (files.empty()) throw Error(dir.string(), "class folder holds no images (.jpg, .jpeg, .png, .webp, .bmp)");
        std::sort(files.begin(), files.end());
        const int label = static_cast<int>(dataset.class_names.size());
        dataset.class_names.push_back(dir.filename().string());
        for (auto& file : files) dataset.samples.push_back({std::move(file), label});
    }
    return dataset;
}

Dataset read_list_file(const std::string& path) {
    std::istringstream in(read_file(path));
    const fs::path base = fs::path(path).parent_path();
    std::vector<std::pair<std::string, std::string>> named;
    std::string line;
    for (int number = 1; std::getline(in, line); ++number) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty() || line[0] == '#') continue;
        const size_t tab = line.find('\t');
        if (tab == std::string::npos || tab == 0 || tab + 1 == line.size() || line.find('\t', tab + 1) != std::string::npos)
            throw Error(path + ":" + std::to_string(number),
                        "expected `path<TAB>label`, got \"" + (line.size() <= 80 ? line : line.substr(0, 80) + "...") + "\"");
        fs::path file = line.substr(0, tab);
        if (file.is_relative()) file = base / file;
        named.emplace_back(file.lexically_normal().string(), line.substr(tab + 1));
    }
    if (named.empty()) throw Error(path, "list holds no samples");
    return from_named(named);
}

void write_list_file(const std::string& path, const Dataset& dataset) {
    fs::path base = fs::absolute(fs::path(path)).parent_path();
    std::string text = std::string(kListMagic) + "\n";
    for (const Sample& sample : dataset.samples) {
        const fs::path relative = fs::absolute(sample.path).lexically_relative(base);
        text += (relative.empty() ? sample.path : relative.string()) + "\t" + dataset.class_names.at(sample.label) + "\n";
    }
    write_file_atomically(path, text);
}

Dataset load_dataset(const std::string& path) {
    std::error_code error;
    if (fs::is_directory(path, error)) return scan_class_folders(path);
    if (fs::is_regular_file(path, error)) return read_list_file(path);
    throw Error(path, "no such folder or list file");
}

Split split_stratified(const Dataset& dataset, double val_fraction, uint64_t seed) {
    if (!(val_fraction >= 0.0 && val_fraction < 1.0))
        throw Error("--val-fraction", "must be at least 0 and below 1, got " + std::to_string(val_fraction));
    std::vector<std::vector<size_t>> by_class(dataset.class_names.size());
    for (size_t i = 0; i < dataset.samples.size(); ++i) by_class.at(dataset.samples[i].label).push_back(i);

    std::mt19937_64 rng(seed);
    std::vector<bool> to_val(dataset.samples.size(), false);
    for (auto& members : by_class) {
        std::sort(members.begin(), members.end(),
                  [&](size_t a, size_t b) { return dataset.samples[a].path < dataset.samples[b].path; });
        shuffle_portably(members, rng);
        size_t count = static_cast<size_t>(std::llround(double(members.size()) * val_fraction));
        if (val_fraction > 0 && members.size() >= 2) count = std::clamp<size_t>(count, 1, members.size() - 1);
        for (size_t i = 0; i < count; ++i) to_val[members[i]] = true;
    }
    Split split;
    split.train.class_names = split.val.class_names = dataset.class_names;
    for (size_t i = 0; i < dataset.samples.size(); ++i) (to_val[i] ? split.val : split.train).samples.push_back(dataset.samples[i]);
    return split;
}

void check_files_exist(const Dataset& dataset, const std::string& source) {
    for (const Sample& sample : dataset.samples) {
        std::error_code error;
        if (!fs::is_regular_file(sample.path, error))
            throw Error(source, "lists " + sample.path + ", which does not exist or is not a file");
    }
}

std::pair<std::string, std::string> class_id_and_name(const std::string& class_name) {
    const std::string id = wordnet_id(class_name);
    if (id.empty() || class_name.size() <= 10) return {class_name, class_name};
    return {id, class_name.substr(10)};
}

std::string wordnet_id(const std::string& class_name) {
    if (class_name.size() < 9 || class_name[0] != 'n') return "";
    for (size_t i = 1; i < 9; ++i)
        if (!std::isdigit(static_cast<unsigned char>(class_name[i]))) return "";
    if (class_name.size() > 9 && class_name[9] != '-' && class_name[9] != '_' && class_name[9] != ' ') return "";
    return class_name.substr(0, 9);
}

}  // namespace pupembed
