// `pupembed serve` against bad set-ups and slow clients (slowloris from one address and from many):
// the real command, raw sockets.
#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "pupembed/io/file_io.hpp"
#include "server_process.hpp"
#include "test_support.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using pupembed::testing::connect_from;
using pupembed::testing::default_model_path;
using pupembed::testing::quote;
using pupembed::testing::raw_request;
using pupembed::testing::run_pupembed;
using pupembed::testing::ServerProcess;
using pupembed::testing::shared_dir;
using pupembed::testing::status_of;
using pupembed::testing::TempDir;

namespace {

const char kVal[] = "data/stanford-dogs-64/val";
const char kBreed[] = "n02085620-Chihuahua";

}  // namespace

TEST(ServeCommand, RefusesBadSetups) {
    TempDir dir;
    auto result = run_pupembed("serve --db " + quote((dir / "none.db").string()));
    EXPECT_NE(result.exit_code, 0);
    EXPECT_NE(result.err.find("none.db"), std::string::npos) << result.err;
    pupembed::write_file_atomically((dir / "bad.db").string(), "not a gallery at all, just text");
    result = run_pupembed("serve --db " + quote((dir / "bad.db").string()));
    EXPECT_NE(result.exit_code, 0);
    EXPECT_NE(result.err.find("bad.db"), std::string::npos) << result.err;
    result = run_pupembed("serve --db x.db --port 70000");
    EXPECT_EQ(result.exit_code, 2) << "a usage error";
}

/// A gallery of the first two photos of one val breed in `dir`, for the slow-client tests; ""
/// when `index add` failed.
std::string two_photo_gallery(const TempDir& dir) {
    const std::string db = (dir / "g.db").string();
    std::vector<std::string> photos;
    for (const auto& entry : fs::directory_iterator(shared_dir() / kVal / kBreed)) photos.push_back(quote(entry.path().string()));
    std::sort(photos.begin(), photos.end());
    const auto added = run_pupembed("index add " + photos[0] + " " + photos[1] + " --db " + quote(db) + " --threads 1");
    EXPECT_EQ(added.exit_code, 0) << added.err;
    return added.exit_code == 0 ? db : "";
}

TEST(ServeSlowClients, CannotLockOthersOut) {
    // Slowloris: 40 connections from another address (127.0.0.2) that send a request's first
    // bytes and then one byte a second, with 10 minutes allowed to send a request. With 4
    // connections allowed per client they hold 4 of the 8 workers for the whole test and the rest
    // are refused at once; every /healthz and search by id from 127.0.0.1 must be answered all the
    // while. Without the limit they would hold all 8 until their deadline, long after the probes'
    // generous read timeout: no clock decides the outcome on a busy machine.
    if (!fs::exists(default_model_path()) || !fs::exists(shared_dir() / kVal)) GTEST_SKIP() << "needs the default model and val";
    TempDir dir;
    const std::string db = two_photo_gallery(dir);
    ASSERT_FALSE(db.empty());
    ServerProcess server("--db " + quote(db) + " --workers 8 --max-connections-per-client 4 --request-timeout 600");
    ASSERT_GT(server.port(), 0) << server.first_line();

    std::atomic<bool> done{false};
    std::atomic<int> opened{0};
    std::vector<std::thread> attackers;
    for (int a = 0; a < 40; ++a)
        attackers.emplace_back([&] {
            while (!done) {
                const int fd = connect_from("127.0.0.2", server.port());
                if (fd < 0) break;
                ++opened;
                send(fd, "GET /healthz HTTP/1.1\r\n", 24, MSG_NOSIGNAL);
                while (!done && send(fd, "X", 1, MSG_NOSIGNAL) == 1) {
                    char byte;
                    if (recv(fd, &byte, 1, MSG_DONTWAIT) == 0) break;  // closed by the server
                    std::this_thread::sleep_for(std::chrono::milliseconds(200));
                }
                close(fd);
            }
        });
    // Until the server has refused some of them, the attack is not yet on.
    httplib::Client client("127.0.0.1", server.port());
    client.set_read_timeout(60, 0);  // a bound for the failure only
    for (int wait = 0; wait < 1200 && opened.load() <= 40; ++wait) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    int answered = 0;
    for (int probe = 0; probe < 12; ++probe) {
        const auto health = client.Get("/healthz");
        const auto search = client.Post("/api/search", R"({"id": "#1", "k": 1})", "application/json");
        if (health && health->status == 200 && search && search->status == 200) ++answered;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    const int opened_during_probes = opened.load();
    done = true;
    for (auto& attacker : attackers) attacker.join();
    EXPECT_EQ(answered, 12);
    EXPECT_GT(opened_during_probes, 40) << "the extra slow connections were refused and reopened";
    const json stats = json::parse(client.Get("/api/stats")->body);
    EXPECT_GT(stats.at("server").at("refused_connections").get<int64_t>(), 0);
    EXPECT_EQ(server.stop(), 0);
}

TEST(ServeSlowClients, ManyAddressesHoldNoWorker) {
    // Issue 27: 2 slow connections from each of 40 addresses kept /healthz unanswered, since each
    // held a worker until its request deadline and no per-address limit stopped them. Here 40
    // slow connections from 20 addresses face 2 workers and a minute to send a request: a probe
    // must be answered while every slow connection is still open (none was cut off to make room).
    if (!fs::exists(default_model_path()) || !fs::exists(shared_dir() / kVal)) GTEST_SKIP() << "needs the default model and val";
    TempDir dir;
    const std::string db = two_photo_gallery(dir);
    ASSERT_FALSE(db.empty());
    ServerProcess server("--db " + quote(db) + " --workers 2 --max-connections-per-client 4 --request-timeout 60");
    ASSERT_GT(server.port(), 0) << server.first_line();

    std::vector<int> slow;
    for (int a = 0; a < 40; ++a) {
        const int fd = connect_from(("127.0.0." + std::to_string(2 + a % 20)).c_str(), server.port());
        ASSERT_GE(fd, 0);
        ASSERT_EQ(send(fd, "GET /healthz HTTP/1.1\r\nX-Slow: ", 31, MSG_NOSIGNAL), 31);
        slow.push_back(fd);
    }
    httplib::Client client("127.0.0.1", server.port());
    client.set_read_timeout(30, 0);  // a bound for the failure only: the old server answered after a minute
    for (int probe = 0; probe < 5; ++probe) {
        for (const int fd : slow) ASSERT_EQ(send(fd, "x", 1, MSG_NOSIGNAL), 1);
        const auto health = client.Get("/healthz");
        ASSERT_TRUE(health) << "no answer to /healthz";
        EXPECT_EQ(health->status, 200);
        const auto search = client.Post("/api/search", R"({"id": "#1", "k": 1})", "application/json");
        ASSERT_TRUE(search);
        EXPECT_EQ(search->status, 200) << search->body;
    }
    int still_open = 0;
    for (const int fd : slow) {
        char byte;
        const ssize_t got = recv(fd, &byte, 1, MSG_DONTWAIT);
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) ++still_open;  // nothing answered, not closed
        close(fd);
    }
    EXPECT_EQ(still_open, 40) << "slow connections were cut off or answered before the probes were";
    EXPECT_EQ(server.stop(), 0);
}
