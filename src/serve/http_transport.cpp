#include "serve/http_transport.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <system_error>

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
    /// `received`: what the reception stage read from the socket already, read first.
    DeadlineSocketStream(int fd, RequestClock& clock, int read_timeout_seconds, int write_timeout_seconds, std::string received)
        : fd_(fd), clock_(clock), read_timeout_ms_(read_timeout_seconds * 1000), write_timeout_ms_(write_timeout_seconds * 1000),
          received_(std::move(received)) {}

    bool is_readable() const override { return received_at_ < received_.size() || begin_ < end_ || wait(POLLIN); }
    bool is_writable() const override { return wait(POLLOUT); }
    ssize_t read(char* ptr, size_t size) override {
        if (received_at_ < received_.size()) {
            const size_t n = std::min(size, received_.size() - received_at_);
            std::memcpy(ptr, received_.data() + received_at_, n);
            received_at_ += n;
            return ssize_t(n);
        }
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
    std::string received_;
    size_t received_at_ = 0;
    char buffer_[4096];
    size_t begin_ = 0, end_ = 0;
};

/// The bytes of a request's headers end here (after the blank line), or npos while they have not all arrived.
size_t end_of_headers(const std::string& bytes) {
    const size_t crlf = bytes.find("\r\n\r\n");
    const size_t lf = bytes.find("\n\n");
    if (crlf == std::string::npos && lf == std::string::npos) return std::string::npos;
    return std::min(crlf == std::string::npos ? std::string::npos : crlf + 4, lf == std::string::npos ? std::string::npos : lf + 2);
}

/// The Content-Length the headers declare (0 when none or unreadable: httplib refuses those).
uint64_t declared_body_bytes(const std::string& headers) {
    std::string lower(headers);
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    const size_t at = lower.find("\ncontent-length:");
    if (at == std::string::npos) return 0;
    const char* digits = lower.c_str() + at + 16;
    while (*digits == ' ' || *digits == '\t') ++digits;
    uint64_t bytes = 0;
    for (int i = 0; i < 19 && *digits >= '0' && *digits <= '9'; ++i, ++digits) bytes = bytes * 10 + uint64_t(*digits - '0');
    return bytes;
}

}  // namespace

struct ArrivingRequest {
    int fd = -1;
    std::string client;
    std::chrono::steady_clock::time_point deadline;
    std::string received;
    bool waits_for_body = false;
};

BoundedThreadPool::BoundedThreadPool(size_t workers, size_t queue_limit) : limit_(std::max<size_t>(1, queue_limit)) {
    for (size_t i = 0; i < std::max<size_t>(1, workers); ++i) threads_.emplace_back([this] { work(); });
}

BoundedThreadPool::~BoundedThreadPool() { shutdown(); }

bool BoundedThreadPool::try_enqueue(std::function<void()> job) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stopping_ || jobs_.size() >= limit_) return false;
        jobs_.push_back(std::move(job));
    }
    ready_.notify_one();
    return true;
}

void BoundedThreadPool::shutdown() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    ready_.notify_all();
    for (auto& thread : threads_)
        if (thread.joinable()) thread.join();
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
        job();
    }
}

namespace {

/// httplib's listener hands each connection to its task queue: this one runs the hand-over at
/// once, on the listener's thread (GuardedHttpServer's takes no time: it queues the socket).
class ImmediateTaskQueue : public httplib::TaskQueue {
public:
    void enqueue(std::function<void()> fn) override { fn(); }
    void shutdown() override {}
};

}  // namespace

GuardedHttpServer::GuardedHttpServer() {
    new_task_queue = [] { return new ImmediateTaskQueue(); };
    if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) throw std::system_error(errno, std::generic_category(), "pipe");
    reception_ = std::thread([this] { receive(); });
}

GuardedHttpServer::~GuardedHttpServer() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    (void)!::write(wake_[1], "x", 1);
    reception_.join();
    if (workers_) workers_->shutdown();  // the requests being served finish (each within its deadlines)
    for (auto& request : incoming_) ::close(request->fd);
    ::close(wake_[0]);
    ::close(wake_[1]);
}

void GuardedHttpServer::configure(int request_seconds, int io_timeout_seconds, int per_client, int workers) {
    request_seconds_ = request_seconds;
    io_timeout_seconds_ = io_timeout_seconds;
    per_client_ = per_client;
    const size_t count = size_t(std::max(1, workers));
    body_waiters_limit_ = std::max<size_t>(1, count - std::max<size_t>(1, count / 4));
    workers_ = std::make_unique<BoundedThreadPool>(count, count * 4);  // before listening: no job is queued yet
}

void GuardedHttpServer::refuse(int fd, int status, const std::string& message) {
    ++refused_;
    const std::string body = R"({"error":")" + message + R"(","status":)" + std::to_string(status) + "}";
    const char* reason = status == 503 ? "Service Unavailable" : status == 408 ? "Request Timeout" : "Request Header Fields Too Large";
    const std::string answer = "HTTP/1.1 " + std::to_string(status) + " " + reason +
                               "\r\nContent-Type: application/json\r\n" + (status == 503 ? "Retry-After: 1\r\n" : "") +
                               "Connection: close\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    (void)!::send(fd, answer.data(), answer.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    ::shutdown(fd, SHUT_RDWR);
    ::close(fd);
}

void GuardedHttpServer::release(const std::string& client) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (--sending_[client] <= 0) sending_.erase(client);
}

bool GuardedHttpServer::process_and_close_socket(socket_t sock) {
    auto request = std::make_unique<ArrivingRequest>();
    request->fd = sock;
    request->client = DeadlineSocketStream::address(sock, true);
    request->deadline = std::chrono::steady_clock::now() + std::chrono::seconds(request_seconds_);
    const char* refusal = nullptr;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        const auto sending = sending_.find(request->client);
        if (stopping_) {
            refusal = "the server is stopping";
        } else if (sending != sending_.end() && sending->second >= per_client_) {
            refusal = "too many connections from this address; try again";
        } else if (arriving_ >= kMaxArriving) {
            refusal = "too many connections still sending their requests; try again";
        } else {
            ++sending_[request->client];
            ++arriving_;
            incoming_.push_back(std::move(request));
        }
    }
    if (refusal) {
        refuse(sock, 503, refusal);
        return false;
    }
    (void)!::write(wake_[1], "x", 1);
    return true;
}

void GuardedHttpServer::receive() {
    std::vector<std::unique_ptr<ArrivingRequest>> arriving;  // headers still arriving
    std::vector<std::unique_ptr<ArrivingRequest>> waiting;   // headers in, waiting for a worker free to take a body
    std::vector<pollfd> watched;
    char buffer[4096];
    auto finish = [this](std::unique_ptr<ArrivingRequest>& request, int status, const char* message) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            --arriving_;
        }
        release(request->client);
        if (status) refuse(request->fd, status, message);
        else ::close(request->fd);
        request.reset();
    };
    for (;;) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (stopping_) break;
            for (auto& request : incoming_) arriving.push_back(std::move(request));
            incoming_.clear();
        }
        // Wait for bytes on any connection, for a worker to be free, or for the nearest deadline.
        auto now = std::chrono::steady_clock::now();
        int64_t wait_ms = 1000;
        watched.assign(1, pollfd{wake_[0], POLLIN, 0});
        for (const auto* list : {&arriving, &waiting})
            for (const auto& request : *list)
                wait_ms = std::min<int64_t>(
                    wait_ms, std::chrono::duration_cast<std::chrono::milliseconds>(request->deadline - now).count() + 1);
        for (const auto& request : arriving) watched.push_back(pollfd{request->fd, POLLIN, 0});
        if (::poll(watched.data(), nfds_t(watched.size()), int(std::max<int64_t>(0, wait_ms))) < 0 && errno != EINTR)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        if (watched[0].revents & POLLIN)
            while (::read(wake_[0], buffer, sizeof(buffer)) > 0) {
            }
        now = std::chrono::steady_clock::now();
        for (size_t i = 0; i < arriving.size(); ++i) {
            auto& request = arriving[i];
            if (watched[i + 1].revents & (POLLIN | POLLHUP | POLLERR)) {
                const ssize_t got = ::recv(request->fd, buffer, sizeof(buffer), MSG_DONTWAIT);
                if (got > 0) {
                    request->received.append(buffer, size_t(got));
                    if (end_of_headers(request->received) != std::string::npos) {
                        waiting.push_back(std::move(request));
                        continue;
                    }
                    if (request->received.size() > kMaxHeaderBytes) {
                        finish(request, 431, "the request headers are too long");
                        continue;
                    }
                } else if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
                    finish(request, 0, nullptr);  // the client went away
                    continue;
                }
            }
            if (now >= request->deadline) finish(request, 408, "the request did not arrive in time");
        }
        arriving.erase(std::remove(arriving.begin(), arriving.end(), nullptr), arriving.end());
        for (auto& request : waiting) {
            if (hand_over(request)) continue;
            if (now >= request->deadline) finish(request, 503, "too many uploads arriving at once; try again");
        }
        waiting.erase(std::remove(waiting.begin(), waiting.end(), nullptr), waiting.end());
    }
    for (const auto* list : {&arriving, &waiting})
        for (const auto& request : *list) ::close(request->fd);
}

bool GuardedHttpServer::hand_over(std::unique_ptr<ArrivingRequest>& request) {
    const size_t headers = end_of_headers(request->received);
    request->waits_for_body = declared_body_bytes(request->received.substr(0, headers)) > request->received.size() - headers;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (request->waits_for_body) {
            if (body_waiters_ >= body_waiters_limit_) return false;  // until a worker is free to wait for it
            ++body_waiters_;
        }
        --arriving_;
    }
    std::shared_ptr<ArrivingRequest> shared(std::move(request));
    if (!workers_ || !workers_->try_enqueue([this, shared] { serve(*shared); })) {
        release(shared->client);
        if (shared->waits_for_body) end_waiting_for_body();
        refuse(shared->fd, 503, "the server is busy; try again");
    }
    return true;
}

void GuardedHttpServer::end_waiting_for_body() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        --body_waiters_;
    }
    (void)!::write(wake_[1], "x", 1);  // a request waiting for such a worker may go now
}

void GuardedHttpServer::serve(ArrivingRequest& request) {
    RequestClock clock;
    clock.deadline = request.deadline;
    clock.release = [this, &request] {
        release(request.client);
        if (request.waits_for_body) end_waiting_for_body();
    };
    DeadlineSocketStream stream(request.fd, clock, io_timeout_seconds_, io_timeout_seconds_, std::move(request.received));
    current_request_clock = &clock;
    bool closed = false;
    process_request(stream, true, closed, nullptr);
    current_request_clock = nullptr;
    clock.end_receiving();
    ::shutdown(request.fd, SHUT_RDWR);
    ::close(request.fd);
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
