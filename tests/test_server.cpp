// `pupembed serve` end to end: the real command on a small gallery of real photos, every API
// route and each error status, checked against what the command-line queries answer.
#include <gtest/gtest.h>
#include <httplib.h>
#include <strings.h>

#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "pupembed/io/file_io.hpp"
#include "pupembed/io/image.hpp"
#include "server_process.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using pupembed::testing::connect_from;
using pupembed::testing::quote;
using pupembed::testing::raw_request;
using pupembed::testing::run_pupembed;
using pupembed::testing::run_pupembed_json;
using pupembed::testing::ServerProcess;
using pupembed::testing::shared_dir;
using pupembed::testing::status_of;
using pupembed::testing::TempDir;

namespace {

const char kVal[] = "data/stanford-dogs-64/val";
const std::vector<std::string> kBreeds = {"n02085620-Chihuahua", "n02110958-pug", "n02099601-golden_retriever"};

fs::path default_model() { return pupembed::testing::default_model_path(); }

/// `pupembed serve ARGS --port 0` in a child process; the port is read from its first line.
json body_json(const httplib::Result& result) {
    if (!result) {
        ADD_FAILURE() << "no answer: " << httplib::to_string(result.error());
        return json();
    }
    try {
        return json::parse(result->body);
    } catch (const json::exception&) {
        ADD_FAILURE() << "not JSON (" << result->status << "): " << result->body.substr(0, 200);
        return json();
    }
}


std::vector<int64_t> ids_of(const json& results) {
    std::vector<int64_t> ids;
    for (const auto& r : results) ids.push_back(r.at("id").get<int64_t>());
    return ids;
}

class Serve : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        if (!fs::exists(default_model()) || !fs::exists(shared_dir() / kVal)) return;
        dir_ = new TempDir();
        for (const auto& breed : kBreeds) {
            std::vector<fs::path> photos;
            for (const auto& entry : fs::directory_iterator(shared_dir() / kVal / breed)) photos.push_back(entry.path());
            std::sort(photos.begin(), photos.end());
            fs::create_directories(*dir_ / "photos" / breed);
            for (size_t i = 0; i < 3; ++i) {
                photos_.push_back(*dir_ / "photos" / breed / photos[i].filename());
                fs::copy_file(photos[i], photos_.back());
            }
            outside_.push_back(photos[5]);  // not in the gallery
        }
        db_ = (*dir_ / "g.db").string();
        const auto added = run_pupembed("index add " + quote((*dir_ / "photos").string()) + " --db " + quote(db_) + " --threads 1");
        ASSERT_EQ(added.exit_code, 0) << added.err;
        server_ = new ServerProcess("--db " + quote(db_) + " --max-upload-mb 1");
        ASSERT_GT(server_->port(), 0) << "first line: " << server_->first_line();
    }
    static void TearDownTestSuite() {
        if (server_) {
            EXPECT_EQ(server_->stop(), 0) << "Ctrl-C / SIGTERM stops the server cleanly";
        }
        delete server_;
        delete dir_;
        server_ = nullptr;
        dir_ = nullptr;
    }
    void SetUp() override {
        if (!server_) GTEST_SKIP() << "skipped: needs " << default_model() << " and " << shared_dir() / kVal;
        client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
        client_->set_read_timeout(60, 0);
    }
    httplib::Result upload(const std::string& path, const httplib::MultipartFormDataItems& items) {
        return client_->Post(path.c_str(), items);
    }
    static httplib::MultipartFormData file_field(const std::string& name, const fs::path& photo) {
        return {name, pupembed::read_file(photo.string()), photo.filename().string(), "image/jpeg"};
    }

    static TempDir* dir_;
    static ServerProcess* server_;
    static std::vector<fs::path> photos_, outside_;
    static std::string db_;
    std::unique_ptr<httplib::Client> client_;
};

TempDir* Serve::dir_ = nullptr;
ServerProcess* Serve::server_ = nullptr;
std::vector<fs::path> Serve::photos_, Serve::outside_;
std::string Serve::db_;

}  // namespace

TEST_F(Serve, HealthVersionStats) {
    auto result = client_->Get("/healthz");
    ASSERT_TRUE(result);
    EXPECT_EQ(result->status, 200);
    EXPECT_EQ(body_json(result).at("images"), 9);
    result = client_->Get("/api/version");
    EXPECT_EQ(body_json(result).at("api"), 1);
    const json stats = body_json(client_->Get("/api/stats"));
    EXPECT_EQ(stats.at("images"), 9);
    EXPECT_EQ(stats.at("model").at("dimension"), 248);  // the shipped model's: 128-d head, 120 breeds' posterior
    EXPECT_EQ(stats.at("model").at("path"), default_model().string());
    EXPECT_EQ(stats.at("index"), "exact");
    EXPECT_FALSE(stats.at("server").at("uploads_to_gallery").get<bool>());
}

TEST_F(Serve, EmbedGivesTheGalleryVectorAndBreed) {
    // The upload is the same file as a gallery photo: same vector as `index add` stored.
    const json answer = body_json(upload("/api/embed", {file_field("image", photos_[3])}));
    ASSERT_EQ(answer.at("dimension"), 248);
    double norm = 0;
    for (const auto& v : answer.at("vector")) norm += v.get<double>() * v.get<double>();
    EXPECT_NEAR(norm, 1.0, 1e-4);
    EXPECT_EQ(answer.at("top").size(), 5u);
    const json cli = run_pupembed_json("breed " + quote(photos_[3].string()));
    EXPECT_EQ(answer.at("breed"), cli.at("predictions")[0].at("top")[0].at("name"));
    EXPECT_NEAR(answer.at("breed_probability").get<double>(),
                cli.at("predictions")[0].at("top")[0].at("probability").get<double>(), 1e-4);
    // The raw body works too.
    auto raw = client_->Post("/api/embed", pupembed::read_file(photos_[3].string()), "image/jpeg");
    ASSERT_TRUE(raw);
    EXPECT_EQ(raw->status, 200);
    const json again = body_json(raw);
    for (size_t i = 0; i < 248; ++i) EXPECT_NEAR(again.at("vector")[i].get<double>(), answer.at("vector")[i].get<double>(), 1e-5);
}

TEST_F(Serve, SearchMatchesTheCommand) {
    // By upload of a photo that is not in the gallery.
    const json answer = body_json(upload("/api/search", {file_field("image", outside_[1]), {"k", "5", "", ""}}));
    const json cli = run_pupembed_json("search " + quote(outside_[1].string()) + " -k 5 --db " + quote(db_));
    ASSERT_EQ(answer.at("results").size(), 5u);
    EXPECT_EQ(ids_of(answer.at("results")), ids_of(cli.at("results")));
    for (size_t i = 0; i < 5; ++i)
        EXPECT_NEAR(answer.at("results")[i].at("distance").get<double>(), cli.at("results")[i].at("distance").get<double>(), 1e-4);
    EXPECT_EQ(answer.at("results")[0].at("thumb"), "/api/images/" + std::to_string(cli.at("results")[0].at("id").get<int64_t>()) + "/thumb");
    // By gallery id, as JSON: the photo itself is left out, like the command does.
    const json by_id = body_json(client_->Post("/api/search", R"({"id": "#4", "k": 3})", "application/json"));
    const json cli_id = run_pupembed_json("search '#4' -k 3 --db " + quote(db_));
    EXPECT_EQ(ids_of(by_id.at("results")), ids_of(cli_id.at("results")));
    EXPECT_EQ(by_id.at("query").at("gallery_id"), 4);
}

TEST_F(Serve, SimilarMatchesTheCommand) {
    const json answer = body_json(upload("/api/similar", {file_field("a", outside_[0]), {"b", "#2", "", ""}}));
    const json cli = run_pupembed_json("similar " + quote(outside_[0].string()) + " '#2' --db " + quote(db_));
    EXPECT_NEAR(answer.at("similarity").get<double>(), cli.at("similarity").get<double>(), 1e-4);
    EXPECT_NEAR(answer.at("distance").get<double>(), 1 - cli.at("similarity").get<double>(), 1e-4);
    EXPECT_EQ(answer.at("b").at("gallery_id"), 2);
}

TEST_F(Serve, AlgebraMatchesTheCommand) {
    const json answer = body_json(client_->Post("/api/algebra", R"({"expression": "#1 + #4 - 0.5*#7", "k": 4})", "application/json"));
    const json cli = run_pupembed_json("algebra '#1 + #4 - 0.5*#7' -k 4 --db " + quote(db_));
    EXPECT_EQ(ids_of(answer.at("results")), ids_of(cli.at("results")));
    for (const auto id : ids_of(answer.at("results"))) EXPECT_TRUE(id != 1 && id != 4 && id != 7) << "inputs are left out";
    // An uploaded photo as an operand, named by its field.
    const json mixed = body_json(upload("/api/algebra", {{"expression", "pup + #2", "", ""}, file_field("pup", outside_[1]), {"k", "3", "", ""}}));
    const json cli_mixed = run_pupembed_json("algebra " + quote("'" + outside_[1].string() + "' + #2") + " -k 3 --db " + quote(db_));
    EXPECT_EQ(ids_of(mixed.at("results")), ids_of(cli_mixed.at("results")));
}

TEST_F(Serve, ImageMetadataThumbnailAndFile) {
    const json meta = body_json(client_->Get("/api/images/3"));
    EXPECT_EQ(meta.at("id"), 3);
    EXPECT_EQ(meta.at("thumb"), "/api/images/3/thumb");
    auto thumb = client_->Get("/api/images/3/thumb");
    ASSERT_TRUE(thumb);
    EXPECT_EQ(thumb->status, 200);
    EXPECT_EQ(thumb->get_header_value("Content-Type"), "image/jpeg");
    const auto image = pupembed::decode_image(thumb->body, "thumb");
    EXPECT_EQ(image.width, meta.at("width").get<int>()) << "a 64-px photo is not enlarged";
    auto again = client_->Get("/api/images/3/thumb");
    EXPECT_EQ(again->body, thumb->body) << "cached";
    auto file = client_->Get("/api/images/3/file");
    ASSERT_TRUE(file);
    EXPECT_EQ(file->body, pupembed::read_file(meta.at("path").get<std::string>()));
}

TEST_F(Serve, MapHasEveryPhoto) {
    const json map = body_json(client_->Get("/api/map"));
    EXPECT_EQ(map.at("total"), 9);
    ASSERT_EQ(map.at("points").size(), 9u);
    const double first = map.at("explained_variance")[0].get<double>(), second = map.at("explained_variance")[1].get<double>();
    EXPECT_GT(first, 0);
    EXPECT_GE(first, second);
    EXPECT_FALSE(map.at("points")[0].at("breed").get<std::string>().empty());
    EXPECT_EQ(map.at("method"), "umap");
    EXPECT_EQ(body_json(client_->Get("/api/map?method=pca")).at("method"), "pca");
    auto bad = client_->Get("/api/map?method=tsne");
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad->status, 400);
}

TEST_F(Serve, WebPageIsBuiltIn) {
    auto page = client_->Get("/");
    ASSERT_TRUE(page);
    EXPECT_EQ(page->status, 200);
    EXPECT_NE(page->body.find("<script src=\"app.js\">"), std::string::npos);
    auto script = client_->Get("/app.js");
    ASSERT_TRUE(script);
    EXPECT_EQ(script->status, 200);
    EXPECT_NE(script->get_header_value("Content-Type").find("javascript"), std::string::npos);
}

TEST_F(Serve, BrowsesTheGalleryAPageAtATime) {
    auto page = [&](const std::string& query) {
        auto result = client_->Get(("/api/images" + query).c_str());
        EXPECT_TRUE(result && result->status == 200) << (result ? result->body : "no answer");
        return result ? json::parse(result->body) : json();
    };
    const int64_t total = int64_t(photos_.size());
    const json first = page("?limit=4");
    EXPECT_EQ(first["total"], total);
    ASSERT_EQ(first["images"].size(), 4u);
    // Newest first: the highest ids, descending, each with its thumbnail link.
    EXPECT_EQ(first["images"][0]["id"], total);
    EXPECT_EQ(first["images"][3]["id"], total - 3);
    EXPECT_EQ(first["images"][0]["thumb"], "/api/images/" + std::to_string(total) + "/thumb");
    // The pages together are the gallery, each photo once.
    std::set<int64_t> seen;
    for (int offset = 0; offset < total; offset += 4) {
        const json answer = page("?limit=4&offset=" + std::to_string(offset));
        for (const auto& image : answer["images"]) seen.insert(image["id"].get<int64_t>());
    }
    EXPECT_EQ(int64_t(seen.size()), total);
    EXPECT_TRUE(page("?offset=" + std::to_string(total))["images"].empty());
    // By breed: alphabetical (ignoring case), then by id.
    const json by_breed = page("?order=breed&limit=500");
    ASSERT_EQ(int64_t(by_breed["images"].size()), total);
    for (size_t i = 1; i < by_breed["images"].size(); ++i) {
        const auto& before = by_breed["images"][i - 1];
        const auto& image = by_breed["images"][i];
        const int order = strcasecmp(before["breed"].get<std::string>().c_str(), image["breed"].get<std::string>().c_str());
        EXPECT_TRUE(order < 0 || (order == 0 && before["id"] < image["id"])) << before.dump() << " then " << image.dump();
    }
    for (const char* bad : {"?order=random", "?limit=0", "?limit=501", "?offset=-1", "?offset=x"}) {
        auto result = client_->Get((std::string("/api/images") + bad).c_str());
        ASSERT_TRUE(result);
        EXPECT_EQ(result->status, 400) << bad << ": " << result->body;
    }
}

TEST_F(Serve, WebRootServesThePageFromAFolder) {
    TempDir web;
    pupembed::write_file_atomically((web / "index.html").string(), "<p>edited page</p>");
    pupembed::write_file_atomically((web / "app.js").string(), "console.log('edited');");
    ServerProcess server("--db " + quote(db_) + " --web-root " + quote(web.path().string()));
    ASSERT_GT(server.port(), 0) << server.first_line();
    httplib::Client client("127.0.0.1", server.port());
    auto page = client.Get("/");
    ASSERT_TRUE(page);
    EXPECT_EQ(page->body, "<p>edited page</p>");
    EXPECT_NE(page->get_header_value("Content-Type").find("text/html"), std::string::npos);
    // Read on every request: an edit shows without a restart.
    pupembed::write_file_atomically((web / "app.js").string(), "console.log('edited again');");
    auto script = client.Get("/app.js");
    ASSERT_TRUE(script);
    EXPECT_EQ(script->body, "console.log('edited again');");
    EXPECT_NE(script->get_header_value("Content-Type").find("javascript"), std::string::npos);
    auto missing = client.Get("/style.css");
    ASSERT_TRUE(missing);
    EXPECT_EQ(missing->status, 404);
    // Nothing outside the folder: the route admits plain names only.
    auto outside = client.Get("/..%2Fg.db");
    ASSERT_TRUE(outside);
    EXPECT_EQ(outside->status, 404);
    EXPECT_NE(run_pupembed("serve --db " + quote(db_) + " --web-root " + quote((web / "none").string())).exit_code, 0);
}

TEST_F(Serve, ErrorsHaveTheRightStatusAndJson) {
    auto expect_error = [](const httplib::Result& result, int status, const std::string& words) {
        ASSERT_TRUE(result);
        EXPECT_EQ(result->status, status) << result->body;
        const json body = json::parse(result->body, nullptr, false);
        ASSERT_FALSE(body.is_discarded()) << result->body;
        EXPECT_NE(body.value("error", "").find(words), std::string::npos) << body.dump();
    };
    expect_error(client_->Get("/api/images/999999"), 404, "no image with id 999999");
    expect_error(client_->Get("/api/images/999999/thumb"), 404, "no image");
    expect_error(client_->Post("/api/search", R"({"id": "#999999"})", "application/json"), 404, "no image with id 999999");
    expect_error(client_->Post("/api/search", R"({"id": "dog.jpg"})", "application/json"), 400, "not a gallery id");
    expect_error(client_->Get("/api/nothing"), 404, "no such route");
    // Bad photos: not an image, a truncated JPEG, an empty upload.
    expect_error(upload("/api/search", {{"image", "this is not a photo", "x.jpg", "image/jpeg"}}), 400, "x.jpg");
    const std::string jpeg = pupembed::read_file(photos_[0].string());
    expect_error(upload("/api/embed", {{"image", jpeg.substr(0, jpeg.size() / 2), "half.jpg", "image/jpeg"}}), 400, "half.jpg");
    expect_error(upload("/api/embed", {{"image", "", "empty.jpg", "image/jpeg"}}), 400, "empty");
    // Bad requests.
    expect_error(client_->Post("/api/search", "{not json", "application/json"), 400, "not valid JSON");
    expect_error(client_->Post("/api/search", R"({"k": 3})", "application/json"), 400, "missing");
    expect_error(client_->Post("/api/search", R"({"id": "#1", "k": 0})", "application/json"), 400, "k: expected");
    expect_error(client_->Post("/api/algebra", R"({"expression": "#1 + + #2"})", "application/json"), 400, "column 6");
    expect_error(client_->Post("/api/algebra", R"({"expression": "#1 - #1"})", "application/json"), 400, "nothing");
    expect_error(client_->Post("/api/algebra", R"({"expression": "#1 + /etc/passwd"})", "application/json"), 400,
                 "neither a gallery id");
    expect_error(client_->Post("/api/similar", R"({"a": "#1"})", "application/json"), 400, "missing \"b\"");
    // Adding to the gallery is off unless asked for.
    expect_error(upload("/api/images", {file_field("image", outside_[0])}), 403, "--allow-upload-to-gallery");
}

TEST_F(Serve, OversizedUploadIsRefusedUnread) {
    // The header promises 1 GB and nothing follows: the answer must come from the header alone
    // (reading the body would wait for bytes that never come, and no answer would arrive).
    const std::string answer = raw_request(server_->port(),
                                           "POST /api/embed HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
                                           "Content-Length: 1073741824\r\n\r\n",
                                           5);
    EXPECT_EQ(status_of(answer), 413) << answer;
    EXPECT_NE(answer.find("the limit is 1048576"), std::string::npos) << answer;
    // A body of unknown length (chunked) is refused the same way.
    const std::string chunked = raw_request(server_->port(),
                                            "POST /api/embed HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
                                            "Transfer-Encoding: chunked\r\n\r\n",
                                            5);
    EXPECT_EQ(status_of(chunked), 411) << chunked;
    // Just over the limit (1 MB here), sent whole: refused too.
    const std::string body(size_t(1 << 20) + 1, 'x');
    const std::string over = raw_request(server_->port(), "POST /api/embed HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
                                                          "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
    EXPECT_EQ(status_of(over), 413) << over.substr(0, 300);
}

TEST_F(Serve, HostileRequestsAreRefusedWithoutHarm) {
    auto expect_error = [](const httplib::Result& result, int status, const std::string& words) {
        ASSERT_TRUE(result);
        EXPECT_EQ(result->status, status) << result->body.substr(0, 300);
        const json body = json::parse(result->body, nullptr, false);
        ASSERT_FALSE(body.is_discarded()) << result->body.substr(0, 300);
        EXPECT_NE(body.value("error", "").find(words), std::string::npos) << body.dump().substr(0, 300);
    };
    // A 1 x 20,000 PNG (a few hundred bytes) would be scaled to 182 x 3,640,000 pixels.
    const std::string strip = pupembed::testing::png_bytes(20000, 1);
    expect_error(upload("/api/search", {{"image", strip, "strip.png", "image/png"}}), 400, "too elongated");
    // Nesting, size and weights of algebra expressions.
    const std::string deep = std::string(3000, '(') + "#1" + std::string(3000, ')');
    expect_error(client_->Post("/api/algebra", json{{"expression", deep}}.dump(), "application/json"), 400, "nested too deeply");
    std::string many = "#1";
    while (many.size() < 20000) many += " + #1";
    expect_error(client_->Post("/api/algebra", json{{"expression", many}}.dump(), "application/json"), 400, "too long");
    expect_error(client_->Post("/api/algebra", R"({"expression": "1e999*#1 + #2"})", "application/json"), 400, "not a finite");
    expect_error(client_->Post("/api/algebra", R"({"expression": "1e308*#1 + 1e308*#2"})", "application/json"), 400,
                 "too large");
    // A number too large for a double (found by fuzzing).
    expect_error(client_->Post("/api/search", R"({"id": "#1", "k": 9E99999})", "application/json"), 400, "not valid JSON");
    // Deeply nested JSON.
    expect_error(client_->Post("/api/search", std::string(100000, '[') + std::string(100000, ']'), "application/json"), 400,
                 "nested more than");
    // Bytes that are not UTF-8 in an id, an operand, a query parameter and an upload's name.
    expect_error(client_->Post("/api/search", "{\"id\": \"#1\xff\"}", "application/json"), 400, "not valid JSON");
    expect_error(client_->Post("/api/search?id=%231%FF", "", "text/plain"), 400, "not a gallery id");
    expect_error(client_->Post("/api/algebra", httplib::MultipartFormDataItems{{"expression", "#1 + \xff", "", ""}}), 400,
                 "neither a gallery id");
    expect_error(client_->Get("/api/map?method=%FF"), 400, "umap or pca");
    const auto named = upload("/api/search", {{"image", pupembed::read_file(photos_[0].string()), "dog\xff.jpg", "image/jpeg"}});
    ASSERT_TRUE(named);
    EXPECT_EQ(named->status, 200) << named->body.substr(0, 300);
    const json answer = json::parse(named->body);
    EXPECT_EQ(answer.at("query").at("query_base64"), "ZG9n/y5qcGc=") << "the name's exact bytes, base64";
    // Two Content-Length headers that disagree.
    const std::string conflicting = raw_request(server_->port(),
                                                "POST /api/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                                "Content-Length: 11\r\nContent-Length: 2\r\n\r\n{\"id\": \"#1\"}",
                                                5);
    EXPECT_EQ(status_of(conflicting), 400) << conflicting;
    EXPECT_NE(conflicting.find("conflicting Content-Length"), std::string::npos) << conflicting;
    // Damaged multipart bodies say what is wrong with them, not a bare "bad request" (issue 27).
    auto multipart = [&](const std::string& type, const std::string& body) {
        return raw_request(server_->port(), "POST /api/search HTTP/1.1\r\nHost: x\r\nContent-Type: " + type +
                                                "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body,
                           5);
    };
    const std::string no_boundary = multipart("multipart/form-data", "--b\r\n\r\nx\r\n--b--\r\n");
    EXPECT_EQ(status_of(no_boundary), 400) << no_boundary;
    EXPECT_NE(no_boundary.find("its Content-Type has no boundary"), std::string::npos) << no_boundary;
    const std::string headless = multipart("multipart/form-data; boundary=b", "--b\r\nContent-Dispo");
    EXPECT_EQ(status_of(headless), 400) << headless;
    EXPECT_NE(headless.find("its first part could not be read"), std::string::npos) << headless;
    const std::string unfinished = multipart("multipart/form-data; boundary=b",
                                             "--b\r\nContent-Disposition: form-data; name=\"k\"\r\n\r\n5\r\n--b\r\nbroken");
    EXPECT_EQ(status_of(unfinished), 400) << unfinished;
    EXPECT_NE(unfinished.find("breaks off in or after the last of the 1 parts read (\\\"k\\\""), std::string::npos) << unfinished;
    // The server is still there and answers.
    EXPECT_EQ(body_json(client_->Get("/healthz")).at("images"), 9);
}

TEST_F(Serve, NoPathFromTheRequestReachesTheFileSystem) {
    for (const std::string target : {"/../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/etc/passwd",
                                     "/api/images/..%2f..%2f..%2fetc%2fpasswd/thumb", "/api/images/%2Fetc%2Fpasswd/file",
                                     "/api/images/3/../../../../etc/passwd", "/app.js/../../etc/passwd",
                                     "/api/images/-1/file", "/api/images/99999999999999999999/file"}) {
        const std::string answer = raw_request(server_->port(), "GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        const int status = status_of(answer);
        EXPECT_TRUE(status == 404 || status == 400) << target << " gave " << status;
        EXPECT_EQ(answer.find("root:"), std::string::npos) << target;
    }
}

TEST_F(Serve, UploadToTheGalleryWhenAllowed) {
    // A gallery of its own (three photos), served with --allow-upload-to-gallery.
    const std::string db = (*dir_ / "uploads.db").string();
    const auto added = run_pupembed("index add " + quote(photos_[0].string()) + " " + quote(photos_[1].string()) + " " +
                                    quote(photos_[2].string()) + " --db " + quote(db) + " --threads 1");
    ASSERT_EQ(added.exit_code, 0) << added.err;
    ServerProcess server("--db " + quote(db) + " --allow-upload-to-gallery");
    ASSERT_GT(server.port(), 0) << server.first_line();
    httplib::Client client("127.0.0.1", server.port());
    client.set_read_timeout(60, 0);
    const std::string photo = pupembed::read_file(outside_[2].string());
    auto result = client.Post("/api/images", httplib::MultipartFormDataItems{{"image", photo, "../../evil name.jpg", "image/jpeg"}});
    ASSERT_TRUE(result);
    EXPECT_EQ(result->status, 201) << result->body;
    const json image = json::parse(result->body);
    const std::string stored = image.at("path");
    EXPECT_EQ(fs::path(stored).parent_path(), fs::path(db + ".uploads")) << "named by content, never by the request";
    EXPECT_EQ(pupembed::read_file(stored), photo);
    EXPECT_EQ(body_json(client.Get("/healthz")).at("images"), 4);
    // Searching with the same photo now finds it first; adding it again changes nothing.
    const json found = body_json(client.Post("/api/search", httplib::MultipartFormDataItems{{"image", photo, "q.jpg", "image/jpeg"}}));
    EXPECT_EQ(found.at("results")[0].at("id"), image.at("id"));
    EXPECT_LT(found.at("results")[0].at("distance").get<double>(), 1e-4);
    result = client.Post("/api/images", httplib::MultipartFormDataItems{{"image", photo, "again.jpg", "image/jpeg"}});
    ASSERT_TRUE(result);
    EXPECT_EQ(result->status, 200);
    EXPECT_EQ(json::parse(result->body).at("id"), image.at("id"));
    EXPECT_EQ(body_json(client.Get("/healthz")).at("images"), 4);
    result = client.Post("/api/images", httplib::MultipartFormDataItems{{"image", "not a photo", "x.jpg", "image/jpeg"}});
    ASSERT_TRUE(result);
    EXPECT_EQ(result->status, 400);
    EXPECT_EQ(server.stop(), 0);
    // The command line sees what the server added.
    EXPECT_EQ(run_pupembed_json("index stats --db " + quote(db)).at("photos"), 4);
}
