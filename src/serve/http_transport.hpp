// The server's transport: how connections are taken, read and limited, apart from what the
// routes do with requests. A reception thread waits for every connection's request headers at
// once; a worker then serves each request through a stream whose reads give up at the request's
// deadline. One client address may only have so many connections still sending their requests,
// and slow uploads can hold only some of the workers (slowloris-proof).
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

/// A pool of worker threads with a bounded queue of jobs.
class BoundedThreadPool {
public:
    BoundedThreadPool(size_t workers, size_t queue_limit);
    ~BoundedThreadPool();
    /// Queues `job` unless `queue_limit` jobs wait already; says whether it was queued.
    bool try_enqueue(std::function<void()> job);
    /// Runs the jobs already queued, then stops the workers.
    void shutdown();

private:
    void work();
    const size_t limit_;
    std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<std::function<void()>> jobs_;
    std::vector<std::thread> threads_;
    bool stopping_ = false;
};

/// A connection taken by the server whose request has not arrived whole yet.
struct ArrivingRequest;

/// httplib's server behind a reception stage (slowloris-proof). A connection's request headers
/// are received by one thread that watches every waiting connection at once (poll), so clients
/// that send slowly hold no worker; only a request whose headers have arrived goes to one of
/// the `workers`, which then serves it (one request per connection). Bounds: `per_client`
/// connections still sending their request from one address, kMaxArriving from all together
/// (more are answered 503 at once), `request_seconds` for the headers to arrive (then 408),
/// and of the workers, all but a quarter (at least one) may wait for a request's body: the rest
/// serve requests that arrived whole, such as /healthz, whatever slow uploads are doing. An
/// upload that finds those workers taken waits at the reception stage until one is free (503
/// if none is before its deadline).
class GuardedHttpServer : public httplib::Server {
public:
    GuardedHttpServer();
    ~GuardedHttpServer() override;
    /// `request_seconds` for a request's headers to arrive (its body gets more, see
    /// extend_request_deadline), `io_timeout_seconds` for each read and write once a worker
    /// serves it, `per_client` connections still sending from one address, `workers` threads.
    /// Called before listening: until then there are no workers (a request would get a 503).
    void configure(int request_seconds, int io_timeout_seconds, int per_client, int workers);
    /// Connections answered 503 (too many from one address or in all).
    int64_t refused_connections() const { return refused_.load(); }
    /// After binding: a listen backlog of SOMAXCONN instead of httplib's 5, so that a burst of
    /// connections (a client reconnecting as fast as it is refused) does not make the kernel
    /// drop other clients' connection requests (each drop costs a second's retry).
    void widen_backlog();

    /// Connections still sending their request headers, from all addresses together, beyond
    /// which new ones are refused.
    static constexpr size_t kMaxArriving = 512;
    /// Request headers longer than this are refused (431).
    static constexpr size_t kMaxHeaderBytes = 16384;

private:
    /// Called by httplib's listener for each connection taken: hands it to the reception thread.
    bool process_and_close_socket(socket_t sock) override;
    void receive();
    /// Gives a request whose headers have arrived to a worker (or answers 503 when even the
    /// queue is full), and takes it; false, leaving it, while its body is still to come and the
    /// workers that may wait for bodies are all taken.
    bool hand_over(std::unique_ptr<ArrivingRequest>& request);
    /// A worker no longer waits for a request's body.
    void end_waiting_for_body();
    void serve(ArrivingRequest& request);
    /// Answers `status` with a one-line JSON error and closes the connection (never waits).
    void refuse(int fd, int status, const std::string& message);
    /// The connection from `client` no longer counts as sending its request.
    void release(const std::string& client);

    int request_seconds_ = 10, io_timeout_seconds_ = 30, per_client_ = 8;
    size_t body_waiters_limit_ = 12;
    std::unique_ptr<BoundedThreadPool> workers_;
    std::mutex mutex_;  ///< guards what follows
    std::map<std::string, int> sending_;  ///< per address: connections whose request is still arriving
    size_t arriving_ = 0;                 ///< connections at the reception stage
    size_t body_waiters_ = 0;             ///< workers waiting for a request's body
    std::vector<std::unique_ptr<ArrivingRequest>> incoming_;  ///< taken, not yet watched by receive()
    bool stopping_ = false;
    int wake_[2] = {-1, -1};  ///< a pipe that wakes receive()
    std::thread reception_;
    std::atomic<int64_t> refused_{0};
};

/// For a route or pre-routing handler, on the thread serving the connection: the request has
/// arrived, so reads are no longer timed and the connection no longer counts against its
/// client's limit. Does nothing outside a GuardedHttpServer's connection.
void end_receiving_request();

/// For the pre-routing handler: gives the request's body `more` time to arrive.
void extend_request_deadline(std::chrono::seconds more);

}  // namespace pupembed
