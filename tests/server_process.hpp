// `pupembed serve` run by a test: the real command as a child process, and raw sockets to it.
#pragma once

#include <cstdio>
#include <string>

#include <sys/types.h>

namespace pupembed::testing {

/// `pupembed serve --port 0 --threads 1 ARGS`, started now and stopped (SIGTERM) when destroyed;
/// the port is read from its first line.
class ServerProcess {
public:
    explicit ServerProcess(const std::string& args);
    ~ServerProcess();
    ServerProcess(const ServerProcess&) = delete;
    ServerProcess& operator=(const ServerProcess&) = delete;
    /// SIGTERM; returns the exit status.
    int stop();
    int port() const { return port_; }
    const std::string& first_line() const { return first_line_; }

private:
    pid_t pid_ = -1;
    FILE* output_ = nullptr;
    std::string first_line_;
    int port_ = 0;
    bool stopped_ = false;
};

/// Sends `request` as it is (no client normalises it) and returns the whole answer.
std::string raw_request(int port, const std::string& request, int wait_seconds = 10);

/// A connection to the server from `source` (a loopback address such as 127.0.0.2, so that it
/// counts as another client than the tests' own 127.0.0.1); -1 if it cannot connect.
int connect_from(const char* source, int port);

/// The status of a raw HTTP answer (0 when there is none).
int status_of(const std::string& raw_answer);

}  // namespace pupembed::testing
