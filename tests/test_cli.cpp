// End-to-end runs of the real `pupembed` command.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "pupembed/io/file_io.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using pupembed::testing::quote;
using pupembed::testing::run_pupembed;
using pupembed::testing::shared_dir;
using pupembed::testing::TempDir;

namespace {

const char kWeights[] = "weights/squeezenet1.1-imagenet";
const char kVal[] = "data/stanford-dogs-64/val";

/// One line on stderr that starts "pupembed: error:".
void expect_one_error_line(const pupembed::testing::CommandResult& result, const std::string& mentions) {
    EXPECT_EQ(result.exit_code, 1) << result.err;
    EXPECT_EQ(result.err.rfind("pupembed: error: ", 0), 0u) << result.err;
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
    EXPECT_NE(result.err.find(mentions), std::string::npos) << result.err;
}

/// The ImageNet model, imported once per test program into a temporary folder.
class WithImageNetModel : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        if (!fs::exists(shared_dir() / kWeights)) return;
        dir_ = new TempDir;
        const auto result = run_pupembed("import-imagenet " + quote((shared_dir() / kWeights).string()) + " -o " +
                                         quote(model_path()));
        ASSERT_EQ(result.exit_code, 0) << result.err;
    }
    static void TearDownTestSuite() {
        delete dir_;
        dir_ = nullptr;
    }
    static std::string model_path() { return (*dir_ / "squeezenet-imagenet.pt").string(); }
    static TempDir* dir_;
};
TempDir* WithImageNetModel::dir_ = nullptr;

/// The first photo of every 15th breed of val: 8 dogs of 8 breeds.
std::vector<std::string> some_dogs() {
    std::vector<fs::path> breeds;
    for (const auto& entry : fs::directory_iterator(shared_dir() / kVal)) breeds.push_back(entry.path());
    std::sort(breeds.begin(), breeds.end());
    std::vector<std::string> dogs;
    for (size_t i = 0; i < breeds.size(); i += 15) {
        std::vector<fs::path> photos;
        for (const auto& entry : fs::directory_iterator(breeds[i])) photos.push_back(entry.path());
        std::sort(photos.begin(), photos.end());
        dogs.push_back(photos.front().string());
    }
    return dogs;
}

}  // namespace

TEST(Command, HelpAndVersion) {
    const auto help = run_pupembed("--help");
    EXPECT_EQ(help.exit_code, 0);
    for (const char* command : {"import-imagenet", "info", "lists", "predict", "eval"}) {
        EXPECT_NE(help.out.find(command), std::string::npos) << command;
        const auto sub = run_pupembed(std::string(command) + " --help");
        EXPECT_EQ(sub.exit_code, 0) << command;
        EXPECT_NE(sub.out.find("Usage"), std::string::npos) << command << ": " << sub.out;
    }
    const auto version = run_pupembed("--version");
    EXPECT_EQ(version.exit_code, 0);
    EXPECT_EQ(version.out.rfind("pupembed 0.", 0), 0u) << version.out;
}

TEST(Command, UsageErrorsExitWithTwo) {
    EXPECT_EQ(run_pupembed("").exit_code, 2);
    EXPECT_EQ(run_pupembed("no-such-command").exit_code, 2);
    EXPECT_EQ(run_pupembed("predict dog.jpg").exit_code, 2);                 // --model missing
    EXPECT_EQ(run_pupembed("predict dog.jpg -m m.pt -k 0").exit_code, 2);    // k must be positive
    EXPECT_EQ(run_pupembed("lists /tmp -o x --val-fraction 2").exit_code, 2);
    EXPECT_EQ(run_pupembed("predict dog.jpg -m m.pt --frobnicate").exit_code, 2);
}

TEST(Command, RuntimeErrorsAreOneLineAndExitWithOne) {
    TempDir dir;
    expect_one_error_line(run_pupembed("predict dog.jpg -m " + quote((dir / "missing.pt").string())), "missing.pt");
    pupembed::testing::write_bytes(dir / "fake.pt", "this is not a model");
    expect_one_error_line(run_pupembed("info " + quote((dir / "fake.pt").string())), "not a pupembed model file");
    expect_one_error_line(run_pupembed("lists " + quote((dir / "nothing").string()) + " -o " + quote(dir.path().string())),
                          "not a folder");
}

TEST_F(WithImageNetModel, PredictNamesDogClassesForRealDogs) {
    PUPEMBED_REQUIRE_SHARED(kVal);
    std::string args = "predict -m " + quote(model_path()) + " -k 5 --json";
    const auto dogs = some_dogs();
    for (const auto& dog : dogs) args += " " + quote(dog);
    const auto result = run_pupembed(args);
    ASSERT_EQ(result.exit_code, 0) << result.err;
    const auto json = nlohmann::json::parse(result.out);
    ASSERT_EQ(json.at("predictions").size(), dogs.size());
    int dog_first = 0;
    for (const auto& prediction : json.at("predictions")) {
        ASSERT_EQ(prediction.at("top").size(), 5u);
        const int index = prediction.at("top")[0].at("index").get<int>();
        dog_first += index >= 151 && index <= 268;  // ImageNet's dog classes
        const double p0 = prediction.at("top")[0].at("probability").get<double>();
        const double p4 = prediction.at("top")[4].at("probability").get<double>();
        EXPECT_GE(p0, p4);
        EXPECT_LE(p0, 1.0);
    }
    // Chance is 118 in 1000; the ImageNet network names a dog first for most 64-pixel dog crops.
    EXPECT_GE(dog_first, 5) << result.out;

    const auto text = run_pupembed("predict -m " + quote(model_path()) + " -k 2 " + quote(dogs[2]));
    ASSERT_EQ(text.exit_code, 0) << text.err;
    EXPECT_NE(text.out.find(dogs[2]), std::string::npos);
}

TEST_F(WithImageNetModel, PredictNamesADamagedImage) {
    PUPEMBED_REQUIRE_SHARED(kWeights);
    TempDir dir;
    pupembed::testing::write_bytes(dir / "broken.jpg", "\xFF\xD8\xFF garbage");
    expect_one_error_line(run_pupembed("predict -m " + quote(model_path()) + " " + quote((dir / "broken.jpg").string())),
                          "broken.jpg");
}

TEST_F(WithImageNetModel, EmbedNamesADamagedImageAndSkipsItWhenAsked) {
    PUPEMBED_REQUIRE_SHARED(kVal);
    TempDir dir;
    const auto dogs = some_dogs();
    fs::create_directories(dir / "photos" / "sub");
    for (size_t i = 0; i < 4; ++i) fs::copy_file(dogs[i], dir / "photos" / "sub" / fs::path(dogs[i]).filename());
    pupembed::testing::write_bytes(dir / "photos" / "broken.jpg", "\xFF\xD8\xFF not really");
    const std::string common = "embed -m " + quote(model_path()) + " " + quote((dir / "photos").string()) + " -o " +
                               quote((dir / "e.npy").string());
    expect_one_error_line(run_pupembed(common), "broken.jpg");
    EXPECT_FALSE(fs::exists(dir / "e.npy"));
    const auto skipped = run_pupembed(common + " --skip-bad");
    ASSERT_EQ(skipped.exit_code, 0) << skipped.err;
    EXPECT_NE(skipped.err.find("broken.jpg"), std::string::npos) << skipped.err;
    const std::string table = pupembed::read_file((dir / "e.tsv").string());
    EXPECT_EQ(std::count(table.begin(), table.end(), '\n'), 2 + 4) << table;  // two header lines, four photos
    EXPECT_EQ(table.find("broken.jpg"), std::string::npos);
}

TEST_F(WithImageNetModel, InfoDescribesTheModel) {
    PUPEMBED_REQUIRE_SHARED(kWeights);
    const auto result = run_pupembed("info --json " + quote(model_path()));
    ASSERT_EQ(result.exit_code, 0) << result.err;
    const auto json = nlohmann::json::parse(result.out);
    EXPECT_EQ(json.at("backbone"), "squeezenet1.1");
    EXPECT_EQ(json.at("classes"), 1000);
    EXPECT_EQ(json.at("preprocessing").at("input_size"), 128);
}

TEST_F(WithImageNetModel, EvalScoresASmallDatasetAndSkipsUnreadableImages) {
    PUPEMBED_REQUIRE_SHARED(kVal);
    TempDir dir;
    // Three breeds, six photos each, and one damaged photo.
    int copied = 0;
    for (const auto& dog : some_dogs()) {
        if (copied >= 3) break;
        const fs::path breed = fs::path(dog).parent_path();
        fs::create_directories(dir / breed.filename().string());
        std::vector<fs::path> photos;
        for (const auto& entry : fs::directory_iterator(breed)) photos.push_back(entry.path());
        std::sort(photos.begin(), photos.end());
        for (int i = 0; i < 6; ++i) fs::copy_file(photos[i], dir / breed.filename().string() / photos[i].filename());
        ++copied;
    }
    const fs::path first_breed = *fs::directory_iterator(dir.path());
    pupembed::testing::write_bytes(first_breed / "damaged.jpg", "not a jpeg");
    const auto result = run_pupembed("eval --json -m " + quote(model_path()) + " " + quote(dir.path().string()));
    ASSERT_EQ(result.exit_code, 0) << result.err;
    const auto json = nlohmann::json::parse(result.out).at("datasets").at(0).at("models").at(0);
    EXPECT_EQ(json.at("images"), 18);
    EXPECT_EQ(json.at("classes"), 3);
    ASSERT_EQ(json.at("unreadable").size(), 1u);
    EXPECT_NE(json.at("unreadable")[0].get<std::string>().find("damaged.jpg"), std::string::npos);
    const double top1 = json.at("breed_top1"), top5 = json.at("breed_top5");
    EXPECT_GE(top1, 1.0 / 3);  // among 3 breeds: chance is 1/3
    EXPECT_EQ(top5, 1.0);      // 3 classes: the top 3 always holds the truth
    EXPECT_EQ(json.at("retrieval_queries"), 18);
    const double r1 = json.at("recall_at").at("1"), r8 = json.at("recall_at").at("8");
    EXPECT_GE(r8, r1);
    EXPECT_EQ(json.at("embedding_size"), 512);

    // Two models side by side, with the written report.
    TempDir reports;
    const auto both = run_pupembed("eval -m " + quote(model_path()) + " -m " + quote(model_path()) + " --report " +
                                   quote((reports / "report").string()) + " " + quote(dir.path().string()));
    ASSERT_EQ(both.exit_code, 0) << both.err;
    EXPECT_NE(both.out.find("| MAP@R |"), std::string::npos) << both.out;
    for (const char* file : {"report.json", "report.md", "distances.png"})
        EXPECT_TRUE(fs::exists(reports / "report" / file)) << file;

    // Any labelled folder: breeds the model lacks are named, not an error; retrieval counts every
    // image, breed accuracy only those it has. Two folders side by side.
    TempDir other;
    std::vector<fs::path> breeds;
    for (const auto& entry : fs::directory_iterator(dir.path()))
        if (entry.is_directory()) breeds.push_back(entry.path());
    std::sort(breeds.begin(), breeds.end());
    ASSERT_EQ(breeds.size(), 3u);
    fs::copy(breeds[0], other / "Labradoodle");
    fs::copy(breeds[1], other / "Mystery dog");
    fs::copy(breeds[2], other / breeds[2].filename());
    fs::remove(other / "Labradoodle" / "damaged.jpg");
    fs::remove(other / "Mystery dog" / "damaged.jpg");
    const auto mixed = run_pupembed("eval --json -m " + quote(model_path()) + " " + quote(other.path().string()) + " " +
                                    quote(dir.path().string()));
    ASSERT_EQ(mixed.exit_code, 0) << mixed.err;
    const auto datasets = nlohmann::json::parse(mixed.out).at("datasets");
    ASSERT_EQ(datasets.size(), 2u);
    const auto lacking = datasets.at(0).at("models").at(0);
    EXPECT_EQ(lacking.at("images"), 18);
    EXPECT_EQ(lacking.at("retrieval_queries"), 18);
    EXPECT_EQ(lacking.at("breed_images"), 6);
    EXPECT_EQ(lacking.at("classes_not_in_model"), (nlohmann::json{"Labradoodle", "Mystery dog"}));
    EXPECT_EQ(lacking.at("breed_top5"), 1.0);  // one breed left: it is always in the top 5
    auto again = datasets.at(1).at("models").at(0), before = json;  // the first folder's figures, unchanged beside another
    again.erase("images_per_second");
    before.erase("images_per_second");
    EXPECT_EQ(again, before);
    const auto text = run_pupembed("eval -m " + quote(model_path()) + " " + quote(other.path().string()) + " " +
                                   quote(dir.path().string()));
    ASSERT_EQ(text.exit_code, 0) << text.err;
    EXPECT_NE(text.out.find("has no class for 2 of the 3 breeds (Labradoodle, Mystery dog)"), std::string::npos) << text.out;
    EXPECT_NE(text.out.find("Recall@1 / MAP@R / breed top-1"), std::string::npos) << text.out;
}

TEST(Command, ListsAreStratifiedAndDeterministic) {
    PUPEMBED_REQUIRE_SHARED(kVal);
    TempDir dir;
    const std::string root = quote((shared_dir() / kVal).string());
    const auto first = run_pupembed("lists " + root + " --val-fraction 0.2 --seed 1 --json -o " + quote((dir / "a").string()));
    ASSERT_EQ(first.exit_code, 0) << first.err;
    const auto second = run_pupembed("lists " + root + " --val-fraction 0.2 --seed 1 -o " + quote((dir / "b").string()));
    ASSERT_EQ(second.exit_code, 0) << second.err;
    const auto json = nlohmann::json::parse(first.out);
    EXPECT_EQ(json.at("classes"), 120);
    EXPECT_EQ(json.at("train").at("images").get<int>() + json.at("val").at("images").get<int>(), 4316);
    // The same seed gives the same lists (paths are relative to each list's folder, and both
    // folders sit side by side, so the files must be byte for byte the same).
    EXPECT_EQ(pupembed::read_file((dir / "a" / "val.list").string()), pupembed::read_file((dir / "b" / "val.list").string()));
    EXPECT_EQ(pupembed::read_file((dir / "a" / "train.list").string()),
              pupembed::read_file((dir / "b" / "train.list").string()));
}
