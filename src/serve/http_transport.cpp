#include "serve/http_transport.hpp"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace pupembed {
namespace {

/// When the request on this worker's connection must have arrived. Set while a connection is
/// served (one connection per worker thread at a time); the pre-routing handler extends it
/// for the declared body, and the route handler ends it (after that the server only writes).
struct RequestClock {
    std::chrono::steady_clock::time_point deadline;
    bool receiving = true;
    std::function<void()> release;  ///< frees the client's slot (see GuardedHttpServer)

    /// The request has arrived: reads are no longer timed, and the connection no longer counts
    /// against its client's limit.
    void end_receiving() {
        receiving = false;
        if (release) {
            const auto free_slot = std::move(release);
            release = nullptr;
            free_slot();
        }
    }
};
thread_local RequestClock* current_request_clock = nullptr;

/// A socket as httplib's Stream, with a read-ahead buffer, whose reads give up at the request's
/// deadline as well as after each read's own timeout: httplib's socket stream bounds every
/// read but not the request, so a client sending one byte every few seconds would hold a
/// worker forever (slowloris).
class DeadlineSocketStream : public httplib::Stream {
public:
    DeadlineSocketStream(int fd, RequestClock& clock, int read_timeout_seconds, int write_timeout_seconds)
        : fd_(fd), clock_(clock), read_timeout_ms_(read_timeout_seconds * 1000), write_timeout_ms_(write_timeout_seconds * 1000) {}

    bool is_readable() const override { return begin_ < end_ || wait(POLLIN); }
    bool is_writable() const override { return wait(POLLOUT); }
    ssize_t read(char* ptr, size_t size) override {
        if (begin_ == end_) {
            if (!wait(POLLIN)) return -1;
            ssize_t got = 0;
            do got = ::recv(fd_, buffer_, sizeof(buffer_), 0);
            while (got < 0 && errno == EINTR);
            if (got <= 0) return got;
            begin_ = 0;
            end_ = size_t(got);
        }
        const size_t n = std::min(size, end_ - begin_);
        std::memcpy(ptr, buffer_ + begin_, n);
        begin_ += n;
        return ssize_t(n);
    }
    ssize_t write(const char* ptr, size_t size) override {
        if (!wait(POLLOUT)) return -1;
        ssize_t sent = 0;
        do sent = ::send(fd_, ptr, size, MSG_NOSIGNAL);
        while (sent < 0 && errno == EINTR);
        return sent;
    }
    void get_remote_ip_and_port(std::string& ip, int& port) const override { address_of(true, ip, port); }
    void get_local_ip_and_port(std::string& ip, int& port) const override { address_of(false, ip, port); }
    socket_t socket() const override { return fd_; }

    /// The numeric address of the socket's peer (or its own end), "" when unknown.
    static std::string address(int fd, bool peer) {
        sockaddr_storage storage{};
        socklen_t length = sizeof(storage);
        auto* any = reinterpret_cast<sockaddr*>(&storage);
        if ((peer ? ::getpeername(fd, any, &length) : ::getsockname(fd, any, &length)) != 0) return "";
        char host[NI_MAXHOST] = {0};
        if (::getnameinfo(any, length, host, sizeof(host), nullptr, 0, NI_NUMERICHOST) != 0) return "";
        std::string text = host;
        if (text.rfind("::ffff:", 0) == 0 && text.find('.') != std::string::npos) text = text.substr(7);  // IPv4 in IPv6
        return text;
    }

private:
    bool wait(short events) const {
        int timeout_ms = events == POLLIN ? read_timeout_ms_ : write_timeout_ms_;
        if (events == POLLIN && clock_.receiving) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(clock_.deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return false;
            timeout_ms = int(std::min<int64_t>(timeout_ms, left.count()));
        }
        pollfd descriptor{fd_, events, 0};
        int ready = 0;
        do ready = ::poll(&descriptor, 1, timeout_ms);
        while (ready < 0 && errno == EINTR);
        return ready > 0;
    }
    void address_of(bool peer, std::string& ip, int& port) const {
        ip = address(fd_, peer);
        sockaddr_storage storage{};
        socklen_t length = sizeof(storage);
        auto* any = reinterpret_cast<sockaddr*>(&storage);
        port = 0;
        if ((peer ? ::getpeername(fd_, any, &length) : ::getsockname(fd_, any, &length)) != 0) return;
        char service[NI_MAXSERV] = {0};
        if (::getnameinfo(any, length, nullptr, 0, service, sizeof(service), NI_NUMERICSERV) == 0) port = std::atoi(service);
    }

    int fd_;
    RequestClock& clock_;
    int read_timeout_ms_, write_timeout_ms_;
    char buffer_[4096];
    size_t begin_ = 0, end_ = 0;
};

}  // namespace

BoundedThreadPool::BoundedThreadPool(size_t workers, size_t queue_limit) : limit_(std::max<size_t>(1, queue_limit)) {
    for (size_t i = 0; i < std::max<size_t>(1, workers); ++i) threads_.emplace_back([this] { work(); });
}

void BoundedThreadPool::enqueue(std::function<void()> fn) {
    std::unique_lock<std::mutex> lock(mutex_);
    room_.wait(lock, [this] { return jobs_.size() < limit_ || stopping_; });
    jobs_.push_back(std::move(fn));
    lock.unlock();
    ready_.notify_one();
}

void BoundedThreadPool::shutdown() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    ready_.notify_all();
    room_.notify_all();
    for (auto& thread : threads_) thread.join();
}

void BoundedThreadPool::work() {
    for (;;) {
        std::function<void()> job;
        {
            std::unique_lock<std::mutex> lock(mutex_);
            ready_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
            if (jobs_.empty()) return;
            job = std::move(jobs_.front());
            jobs_.pop_front();
        }
        room_.notify_one();
        job();
    }
}

void GuardedHttpServer::configure(int request_seconds, int io_timeout_seconds, int per_client) {
    request_seconds_ = request_seconds;
    io_timeout_seconds_ = io_timeout_seconds;
    per_client_ = per_client;
}

bool GuardedHttpServer::process_and_close_socket(socket_t sock) {
    const std::string client = DeadlineSocketStream::address(sock, true);
    bool admitted = false;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        int& open = open_[client];
        if (open < per_client_) {
            ++open;
            admitted = true;
        }
    }
    bool served = false;
    if (admitted) {
        RequestClock clock;
        clock.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(request_seconds_);
        clock.release = [this, &client] {
            std::lock_guard<std::mutex> lock(mutex_);
            if (--open_[client] == 0) open_.erase(client);
        };
        DeadlineSocketStream stream(sock, clock, io_timeout_seconds_, io_timeout_seconds_);
        current_request_clock = &clock;
        bool closed = false;
        served = process_request(stream, true, closed, nullptr);
        current_request_clock = nullptr;
        clock.end_receiving();
    } else {
        ++refused_;
        static const std::string body = R"({"error":"too many connections from this address; try again","status":503})";
        const std::string answer = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                                   "Retry-After: 1\r\nConnection: close\r\nContent-Length: " +
                                   std::to_string(body.size()) + "\r\n\r\n" + body;
        (void)!::send(sock, answer.data(), answer.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
    return served;
}

void GuardedHttpServer::widen_backlog() {
    if (svr_sock_ != INVALID_SOCKET) ::listen(svr_sock_, SOMAXCONN);
}

void end_receiving_request() {
    if (current_request_clock) current_request_clock->end_receiving();
}

void extend_request_deadline(std::chrono::seconds more) {
    if (current_request_clock) current_request_clock->deadline += more;
}

}  // namespace pupembed
