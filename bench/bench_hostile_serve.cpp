// Hostile load on `pupembed serve`, bounded in time (it stops by itself):
//   slowloris: CONNECTIONS connections from another loopback address (--from, 127.0.0.2), or
//     spread over ADDRESSES addresses (127.0.0.2, 127.0.0.3, ...), send a request's first line,
//     then one header byte every INTERVAL seconds, reconnecting whenever the server cuts them
//     off; meanwhile a probe from 127.0.0.1 asks GET /healthz and a search by gallery id every
//     half second. Prints every probe's time and a summary.
//   uploads: CLIENTS clients POST a mix of photos to /api/search for SECONDS: the good photo,
//     the same photo cut in half (damaged), a 1 x 20,000 PNG (extreme aspect ratio), 4 MB of
//     noise named .jpg, and with --server-pid the server's peak memory (VmHWM) and its memory
//     sampled throughout.
//   build/bench/bench_hostile_serve --port P --mode slowloris [--connections 50] [--addresses 1] [--seconds 60] [--interval 10]
//   build/bench/bench_hostile_serve --port P --mode uploads --photo dog.jpg [--clients 16] [--seconds 60] [--server-pid PID]
// scripts/bench-hostile-serve.sh starts a server over the val photos and runs both.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "pupembed/core/clock.hpp"
#include "pupembed/io/file_io.hpp"

namespace {

using pupembed::Clock;
using pupembed::seconds_since;

const char* text_argument(int argc, char** argv, const char* name, const char* fallback) {
    for (int i = 1; i + 1 < argc; ++i)
        if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
    return fallback;
}


double percentile(std::vector<double> values, double p) {
    if (values.empty()) return 0;
    std::sort(values.begin(), values.end());
    return values[std::min(values.size() - 1, size_t(p * double(values.size())))];
}

int connect_from(const std::string& source, int port) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in local{};
    local.sin_family = AF_INET;
    inet_pton(AF_INET, source.c_str(), &local.sin_addr);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(uint16_t(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0 ||
        connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/// A kB figure from /proc/PID/status ("VmRSS", "VmHWM"); -1 when unreadable.
int64_t status_kb(int pid, const std::string& field) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(field + ":", 0) == 0) return std::atoll(line.c_str() + field.size() + 1);
    return -1;
}

int slowloris(int port, int connections, int addresses, double seconds, double interval, const std::string& from) {
    std::atomic<bool> done{false};
    std::atomic<int64_t> opened{0}, cut_off{0}, refused{0};
    std::vector<std::thread> attackers;
    const auto start = Clock::now();
    for (int c = 0; c < connections; ++c)
        attackers.emplace_back([&, c] {
            const std::string source = addresses <= 1 ? from : "127.0.0." + std::to_string(2 + c % addresses);
            while (!done) {
                const int fd = connect_from(source, port);
                if (fd < 0) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(100));
                    continue;
                }
                ++opened;
                send(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n", 32, MSG_NOSIGNAL);
                auto next = Clock::now();
                while (!done) {
                    char answer[64];
                    const ssize_t got = recv(fd, answer, sizeof answer, MSG_DONTWAIT);
                    if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
                        ++cut_off;
                        break;
                    }
                    if (got > 0) {
                        if (std::strncmp(answer, "HTTP/1.1 503", 12) == 0) ++refused;
                        else ++cut_off;
                        break;
                    }
                    if (Clock::now() >= next) {
                        if (send(fd, "X", 1, MSG_NOSIGNAL) != 1) {
                            ++cut_off;
                            break;
                        }
                        next += std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(interval));
                    }
                    std::this_thread::sleep_for(std::chrono::milliseconds(50));
                }
                close(fd);
            }
        });
    httplib::Client client("127.0.0.1", port);
    client.set_connection_timeout(5, 0);
    client.set_read_timeout(5, 0);
    std::vector<double> health_ms, search_ms;
    int late = 0, failed = 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    while (seconds_since(start) < seconds) {
        const auto t0 = Clock::now();
        const auto health = client.Get("/healthz");
        const double h = seconds_since(t0) * 1000;
        const auto t1 = Clock::now();
        const auto search = client.Post("/api/search", R"({"id": "#1", "k": 10})", "application/json");
        const double s = seconds_since(t1) * 1000;
        const bool ok = health && health->status == 200 && search && search->status == 200;
        if (!ok) ++failed;
        if (h > 1000 || s > 1000) ++late;
        health_ms.push_back(h);
        search_ms.push_back(s);
        std::printf("probe at %5.1f s: /healthz %s in %7.1f ms, search by id %s in %7.1f ms\n", seconds_since(start),
                    health ? std::to_string(health->status).c_str() : "no answer", h,
                    search ? std::to_string(search->status).c_str() : "no answer", s);
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    done = true;
    for (auto& attacker : attackers) attacker.join();
    const std::string sources = addresses <= 1 ? from : std::to_string(addresses) + " addresses (127.0.0.2 on)";
    std::printf("slowloris: %d connections from %s, one byte every %.0f s, for %.0f s: %lld opened, %lld cut off by the server, "
                "%lld refused (503)\n",
                connections, sources.c_str(), interval, seconds, (long long)opened.load(), (long long)cut_off.load(),
                (long long)refused.load());
    std::printf("probes: %zu, %d failed, %d over 1 s; /healthz median %.1f ms, max %.1f ms; search by id median %.1f ms, max %.1f ms\n",
                health_ms.size(), failed, late, percentile(health_ms, 0.5), percentile(health_ms, 1.0),
                percentile(search_ms, 0.5), percentile(search_ms, 1.0));
    return failed == 0 && late == 0 ? 0 : 1;
}

/// A grey PNG of `width` x `height` pixels (a few hundred bytes for a 1 x 20,000 strip).
std::string png_of(int width, int height) {
    std::vector<uint8_t> bytes;
    cv::imencode(".png", cv::Mat(height, width, CV_8UC3, cv::Scalar(128, 128, 128)), bytes, {cv::IMWRITE_PNG_COMPRESSION, 9});
    return std::string(bytes.begin(), bytes.end());
}

int uploads(int port, int clients, double seconds, const std::string& photo, int server_pid) {
    const std::string strip = png_of(20000, 1);
    std::mt19937 rng(5);
    std::string noise(4 << 20, '\0');
    for (auto& c : noise) c = char(rng());
    const std::vector<std::pair<std::string, httplib::MultipartFormData>> kinds = {
        {"good photo", {"image", photo, "dog.jpg", "image/jpeg"}},
        {"damaged (half a JPEG)", {"image", photo.substr(0, photo.size() / 2), "half.jpg", "image/jpeg"}},
        {"1 x 20,000 PNG", {"image", strip, "strip.png", "image/png"}},
        {"4 MB of noise", {"image", noise, "noise.jpg", "image/jpeg"}},
    };
    std::mutex mutex;
    std::map<std::string, std::map<int, int64_t>> statuses;
    std::map<std::string, std::vector<double>> times;
    std::atomic<bool> done{false};
    int64_t peak_rss = 0;
    std::thread sampler([&] {
        while (!done && server_pid > 0) {
            peak_rss = std::max(peak_rss, status_kb(server_pid, "VmRSS"));
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    });
    const auto start = Clock::now();
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c)
        threads.emplace_back([&, c] {
            httplib::Client client("127.0.0.1", port);
            client.set_read_timeout(60, 0);
            for (size_t i = size_t(c); seconds_since(start) < seconds; ++i) {
                const auto& [kind, field] = kinds[i % kinds.size()];
                const auto t0 = Clock::now();
                const auto result = client.Post("/api/search", httplib::MultipartFormDataItems{field});
                const double ms = seconds_since(t0) * 1000;
                std::lock_guard<std::mutex> lock(mutex);
                ++statuses[kind][result ? result->status : 0];
                times[kind].push_back(ms);
            }
        });
    for (auto& thread : threads) thread.join();
    done = true;
    sampler.join();
    std::printf("uploads: %d clients for %.0f s to POST /api/search\n", clients, seconds);
    for (const auto& [kind, field] : kinds) {
        std::string counts;
        for (const auto& [status, count] : statuses[kind])
            counts += (counts.empty() ? "" : ", ") + std::to_string(count) + " x " + (status ? std::to_string(status) : "no answer");
        std::printf("  %-22s %s; median %.1f ms, p99 %.1f ms\n", kind.c_str(), counts.c_str(), percentile(times[kind], 0.5),
                    percentile(times[kind], 0.99));
    }
    if (server_pid > 0) {
        const int64_t alive = status_kb(server_pid, "VmRSS");
        std::printf("server (pid %d): %s; memory now %.0f MB, sampled peak %.0f MB, peak since start (VmHWM) %.0f MB\n", server_pid,
                    alive >= 0 ? "still up" : "GONE", double(alive) / 1024, double(peak_rss) / 1024,
                    double(status_kb(server_pid, "VmHWM")) / 1024);
        if (alive < 0) return 1;
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) try {
    std::signal(SIGPIPE, SIG_IGN);  // the server may close a connection while a body is still being sent
    const int port = std::atoi(text_argument(argc, argv, "--port", "8080"));
    const std::string mode = text_argument(argc, argv, "--mode", "slowloris");
    const double seconds = std::atof(text_argument(argc, argv, "--seconds", "60"));
    if (mode == "slowloris")
        return slowloris(port, std::atoi(text_argument(argc, argv, "--connections", "50")),
                         std::max(1, std::min(250, std::atoi(text_argument(argc, argv, "--addresses", "1")))), seconds,
                         std::atof(text_argument(argc, argv, "--interval", "10")), text_argument(argc, argv, "--from", "127.0.0.2"));
    if (mode == "uploads") {
        const char* photo = text_argument(argc, argv, "--photo", nullptr);
        if (!photo) {
            std::fprintf(stderr, "bench_hostile_serve: error: --mode uploads needs --photo JPEG\n");
            return 2;
        }
        return uploads(port, std::atoi(text_argument(argc, argv, "--clients", "16")), seconds, pupembed::read_file(photo),
                       std::atoi(text_argument(argc, argv, "--server-pid", "0")));
    }
    std::fprintf(stderr, "bench_hostile_serve: error: --mode slowloris or uploads, got \"%s\"\n", mode.c_str());
    return 2;
} catch (const std::exception& e) {
    std::fprintf(stderr, "bench_hostile_serve: error: %s\n", e.what());
    return 1;
}
