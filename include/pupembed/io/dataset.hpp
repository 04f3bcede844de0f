// Labelled image collections: a folder per class, or list files of `path<TAB>label` lines.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace pupembed {

/// One labelled photo.
struct Sample {
    std::string path;
    int label = 0;  ///< index into Dataset::class_names
};

/// Photos and the names of their classes (sorted, so label i is the i-th name).
struct Dataset {
    std::vector<std::string> class_names;
    std::vector<Sample> samples;
};

/// True for the file names pupembed reads as images (.jpg, .jpeg, .png, .webp, .bmp, any case).
bool has_image_extension(const std::string& path);

/// Reads `root/<class>/<image>` (e.g. Stanford Dogs' `Images/n02085620-Chihuahua/*.jpg`):
/// every subfolder is a class, every image file in it a sample; classes and files are sorted.
/// Throws Error if `root` is not a folder, has no class folders, or a class folder has no images.
Dataset scan_class_folders(const std::string& root);

/// Reads a list file: one `path<TAB>label` a line, `#` lines are comments; relative paths are
/// resolved against the list file's folder. Labels are class names. Throws Error naming the file
/// and line for a malformed line, or if the list is empty.
Dataset read_list_file(const std::string& path);

/// Writes `dataset` as a list file (a `# pupembed list v1` first line, then `path<TAB>label`
/// lines), paths relative to the list file's folder, atomically.
void write_list_file(const std::string& path, const Dataset& dataset);

/// A dataset from a folder-per-class tree or a list file, whichever `path` is.
Dataset load_dataset(const std::string& path);

/// Train and validation parts of one dataset.
struct Split {
    Dataset train;
    Dataset val;
};

/// Splits each class separately: round(n * val_fraction) of its samples, drawn with `seed`, go
/// to val (at least one and at most n - 1 when the class has two or more samples and the fraction
/// is positive). The same input, fraction and seed always give the same split, on any platform.
/// Throws Error unless 0 <= val_fraction < 1.
Split split_stratified(const Dataset& dataset, double val_fraction, uint64_t seed);

/// The WordNet id that starts a class name such as `n02085620-Chihuahua`, or "" if there is none.
std::string wordnet_id(const std::string& class_name);

/// Splits a class folder name into an id and a readable name: `n02085620-Chihuahua` gives
/// ("n02085620", "Chihuahua"); a name without a WordNet id is both.
std::pair<std::string, std::string> class_id_and_name(const std::string& class_name);

/// Throws Error naming the first listed file that does not exist.
void check_files_exist(const Dataset& dataset, const std::string& source);

}  // namespace pupembed
