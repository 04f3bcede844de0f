// The server's transport: how connections are taken, read and limited, apart from what the
// routes do with requests. Each connection is served by one worker thread through a stream whose
// reads give up at the request's deadline, and one client address may only have so many
// connections still sending their requests (slowloris-proof); uploads decode a few at a time.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace pupembed {

/// httplib's thread pool with a bounded queue: when every worker is busy and `queue_limit`
/// connections wait, the listener waits too (new connections stay in the kernel's backlog).
class BoundedThreadPool : public httplib::TaskQueue {
public:
    BoundedThreadPool(size_t workers, size_t queue_limit);
    void enqueue(std::function<void()> fn) override;
    void shutdown() override;

private:
    void work();
    const size_t limit_;
    std::mutex mutex_;
    std::condition_variable ready_, room_;
    std::deque<std::function<void()>> jobs_;
    std::vector<std::thread> threads_;
    bool stopping_ = false;
};

/// httplib's server, serving each connection through a DeadlineSocketStream (one request per
/// connection), with at most `per_client` connections from one address still sending their
/// request (a connection whose request has arrived no longer counts: a browser or a busy client
/// with many requests in flight is never refused, a slow sender is).
class GuardedHttpServer : public httplib::Server {
public:
    GuardedHttpServer() = default;
    /// `request_seconds` to receive a request's headers, `io_timeout_seconds` for each read and
    /// write, `per_client` connections still receiving from one address.
    void configure(int request_seconds, int io_timeout_seconds, int per_client);
    int64_t refused_connections() const { return refused_.load(); }
    /// After binding: a listen backlog of SOMAXCONN instead of httplib's 5, so that a burst of
    /// connections (a client reconnecting as fast as it is refused) does not make the kernel
    /// drop other clients' connection requests (each drop costs a second's retry).
    void widen_backlog();

private:
    bool process_and_close_socket(socket_t sock) override;

    int request_seconds_ = 10, io_timeout_seconds_ = 30, per_client_ = 8;
    std::mutex mutex_;
    std::map<std::string, int> open_;
    std::atomic<int64_t> refused_{0};
};

/// For a route or pre-routing handler, on the thread serving the connection: the request has
/// arrived, so reads are no longer timed and the connection no longer counts against its
/// client's limit. Does nothing outside a GuardedHttpServer's connection.
void end_receiving_request();

/// For the pre-routing handler: gives the request's body `more` time to arrive.
void extend_request_deadline(std::chrono::seconds more);

}  // namespace pupembed
