// The server's request reading: httplib parses the bytes as an HTTP request (request line,
// headers, query string, multipart or JSON body), then our refusals from the headers and our
// field reader take them, as `pupembed serve` does. Every outcome is an answer with a status.
#include <httplib.h>

#include <algorithm>
#include <cstring>

#include "fuzz_support.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/gallery/algebra.hpp"
#include "serve/request_fields.hpp"

namespace {

/// The request's bytes as a connection; what the server writes back is dropped.
class MemoryStream : public httplib::Stream {
public:
    MemoryStream(const uint8_t* data, size_t size) : data_(data), size_(size) {}
    bool is_readable() const override { return at_ < size_; }
    bool is_writable() const override { return true; }
    ssize_t read(char* ptr, size_t size) override {
        const size_t n = std::min(size, size_ - at_);
        std::memcpy(ptr, data_ + at_, n);
        at_ += n;
        return ssize_t(n);
    }
    ssize_t write(const char*, size_t size) override { return ssize_t(size); }
    void get_remote_ip_and_port(std::string& ip, int& port) const override {
        ip = "127.0.0.1";
        port = 40000;
    }
    void get_local_ip_and_port(std::string& ip, int& port) const override {
        ip = "127.0.0.1";
        port = 8080;
    }
    socket_t socket() const override { return -1; }

private:
    const uint8_t* data_;
    size_t size_;
    size_t at_ = 0;
};

/// The routes' reading of fields, without a model or a gallery behind them.
class FuzzServer : public httplib::Server {
public:
    FuzzServer() {
        set_payload_max_length(1 << 20);
        set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
            const auto [status, message] = pupembed::refusal_from_headers(req, 1 << 20);
            if (status == 0) return HandlerResponse::Unhandled;
            res.status = status;
            res.set_content(message, "text/plain");
            return HandlerResponse::Handled;
        });
        auto read_fields = [](const httplib::Request& req, httplib::Response& res) {
            try {
                const pupembed::RequestFields fields(req);
                (void)fields.integer("k", 10, 1, 1000);
                (void)fields.upload("image", true);
                if (const auto id = fields.text("id")) (void)pupembed::gallery_id_of(*id, "id");
                if (const auto expression = fields.text("expression")) {
                    for (const auto& term : pupembed::parse_algebra(*expression))
                        if (!fields.upload(term.operand, false)) {
                            long long id = 0;
                            (void)pupembed::parse_gallery_id(term.operand, id);
                        }
                }
                res.status = 200;
            } catch (const pupembed::RequestFailure& failure) {
                res.status = failure.status;
            } catch (const pupembed::Error&) {
                res.status = 400;
            }
        };
        Post("/api/(search|embed|similar|algebra|images)", read_fields);
        Get("/api/map", read_fields);
    }
    bool feed(httplib::Stream& stream) {
        bool closed = false;
        return process_request(stream, true, closed, nullptr);
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static FuzzServer server;
    MemoryStream stream(data, size);
    (void)server.feed(stream);
    return 0;
}
