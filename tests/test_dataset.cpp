#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "pupembed/core/error.hpp"
#include "pupembed/io/dataset.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using pupembed::Dataset;
using pupembed::Error;
using pupembed::testing::TempDir;

namespace {

/// ROOT/<class>/<i>.jpg with `counts[c]` files in class c (contents do not matter here).
void make_tree(const fs::path& root, const std::vector<std::pair<std::string, int>>& classes) {
    for (const auto& [name, count] : classes) {
        fs::create_directories(root / name);
        for (int i = 0; i < count; ++i) pupembed::testing::write_bytes(root / name / (std::to_string(i) + ".jpg"), "x");
    }
}

std::set<std::string> paths_of(const Dataset& dataset) {
    std::set<std::string> paths;
    for (const auto& sample : dataset.samples) paths.insert(sample.path);
    return paths;
}

}  // namespace

TEST(Dataset, ScansClassFolders) {
    TempDir dir;
    make_tree(dir.path(), {{"n02085620-Chihuahua", 3}, {"n02085782-Japanese_spaniel", 2}});
    pupembed::testing::write_bytes(dir / "n02085620-Chihuahua" / "notes.txt", "not an image");
    pupembed::testing::write_bytes(dir / "n02085620-Chihuahua" / "UPPER.JPEG", "x");
    const Dataset dataset = pupembed::scan_class_folders(dir.path().string());
    ASSERT_EQ(dataset.class_names, (std::vector<std::string>{"n02085620-Chihuahua", "n02085782-Japanese_spaniel"}));
    ASSERT_EQ(dataset.samples.size(), 6u);
    EXPECT_EQ(dataset.samples[0].label, 0);
    EXPECT_EQ(dataset.samples[5].label, 1);
}

TEST(Dataset, RefusesEmptyClassFolderAndMissingRoot) {
    TempDir dir;
    make_tree(dir.path(), {{"a", 2}, {"b", 0}});
    try {
        pupembed::scan_class_folders(dir.path().string());
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("holds no images"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("/b"), std::string::npos) << e.what();
    }
    EXPECT_THROW(pupembed::scan_class_folders((dir / "nothing").string()), Error);
    TempDir empty;
    EXPECT_THROW(pupembed::scan_class_folders(empty.path().string()), Error);
}

TEST(Dataset, SplitIsStratifiedDeterministicAndComplete) {
    TempDir dir;
    make_tree(dir.path(), {{"a", 10}, {"b", 5}, {"c", 2}, {"d", 1}, {"e", 37}});
    const Dataset dataset = pupembed::scan_class_folders(dir.path().string());
    const auto split = pupembed::split_stratified(dataset, 0.2, 1);

    std::map<int, int> val_per_class, all_per_class;
    for (const auto& s : split.val.samples) ++val_per_class[s.label];
    for (const auto& s : dataset.samples) ++all_per_class[s.label];
    EXPECT_EQ(val_per_class[0], 2);  // 10 * 0.2
    EXPECT_EQ(val_per_class[1], 1);  // 5 * 0.2
    EXPECT_EQ(val_per_class[2], 1);  // at least one when a class has two or more
    EXPECT_EQ(val_per_class[3], 0);  // a single photo stays in train
    EXPECT_EQ(val_per_class[4], 7);  // round(7.4)

    // Every file in exactly one list.
    const auto train = paths_of(split.train), val = paths_of(split.val), all = paths_of(dataset);
    for (const auto& path : val) EXPECT_EQ(train.count(path), 0u) << path;
    EXPECT_EQ(train.size() + val.size(), all.size());

    // Same seed, same split; another seed, another split.
    const auto again = pupembed::split_stratified(dataset, 0.2, 1);
    EXPECT_EQ(paths_of(again.val), val);
    EXPECT_NE(paths_of(pupembed::split_stratified(dataset, 0.2, 2).val), val);
    EXPECT_THROW(pupembed::split_stratified(dataset, 1.0, 1), Error);
    EXPECT_THROW(pupembed::split_stratified(dataset, -0.1, 1), Error);
}

TEST(Dataset, ListFilesRoundTrip) {
    TempDir dir;
    make_tree(dir / "images", {{"n1-a", 2}, {"n2-b", 3}});
    const Dataset dataset = pupembed::scan_class_folders((dir / "images").string());
    fs::create_directories(dir / "lists");
    const std::string list = (dir / "lists" / "all.list").string();
    pupembed::write_list_file(list, dataset);

    std::ifstream in(list);
    std::string first, second;
    std::getline(in, first);
    std::getline(in, second);
    EXPECT_EQ(first, "# pupembed list v1");
    EXPECT_EQ(second, "../images/n1-a/0.jpg\tn1-a");  // relative to the list's folder

    const Dataset back = pupembed::read_list_file(list);
    EXPECT_EQ(back.class_names, dataset.class_names);
    ASSERT_EQ(back.samples.size(), dataset.samples.size());
    for (size_t i = 0; i < back.samples.size(); ++i) {
        EXPECT_TRUE(fs::equivalent(back.samples[i].path, dataset.samples[i].path));
        EXPECT_EQ(back.samples[i].label, dataset.samples[i].label);
    }
}

TEST(Dataset, ListFileErrorsNameTheLine) {
    TempDir dir;
    pupembed::testing::write_bytes(dir / "bad.list", "# comment\na.jpg\tdog\nno tab here\n");
    try {
        pupembed::read_list_file((dir / "bad.list").string());
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("bad.list:3"), std::string::npos) << e.what();
    }
    pupembed::testing::write_bytes(dir / "empty.list", "# pupembed list v1\n");
    EXPECT_THROW(pupembed::read_list_file((dir / "empty.list").string()), Error);
}

TEST(Dataset, WordNetIds) {
    EXPECT_EQ(pupembed::wordnet_id("n02085620-Chihuahua"), "n02085620");
    EXPECT_EQ(pupembed::wordnet_id("n02085620"), "n02085620");
    EXPECT_EQ(pupembed::wordnet_id("Chihuahua"), "");
    EXPECT_EQ(pupembed::wordnet_id("n0208562x-x"), "");
}
