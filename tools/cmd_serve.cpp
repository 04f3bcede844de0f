// pupembed serve --db G [--model M] [--host 127.0.0.1] [--port 8080]
#include <pthread.h>

#include <csignal>
#include <cstdio>
#include <memory>
#include <thread>

#include "gallery_common.hpp"
#include "pupembed/model/threads.hpp"
#include "pupembed/serve/server.hpp"

namespace pupembed::cli {

void register_serve(CLI::App& app) {
    struct Options {
        ServerOptions server;
        int max_upload_mb = 20;
        int threads = 0;
    };
    auto o = std::make_shared<Options>();
    CLI::App* command = app.add_subcommand(
        "serve",
        "Serves a gallery over HTTP: a web page at / (search by photo, compare two photos, puppy algebra,\n"
        "a map of the gallery) and a JSON API under /api/ (see README.md, \"The HTTP API\").\n"
        "Listens on 127.0.0.1 only unless --host says otherwise. Stop it with Ctrl-C.");
    command->add_option("--db", o->server.gallery, "Gallery file, made by `pupembed index add`")->required();
    command->add_option("-m,--model", o->server.model,
                        "Model file (default: the gallery's own model, else the shipped default model)");
    command->add_option("--host", o->server.host, "Address to listen on (0.0.0.0: every interface)")->capture_default_str();
    command->add_option("--port", o->server.port, "Port (0: any free port, printed at start)")
        ->check(CLI::Range(0, 65535))
        ->capture_default_str();
    command->add_option("--workers", o->server.workers, "Request threads")->check(CLI::Range(1, 256))->capture_default_str();
    command->add_option("--max-upload-mb", o->max_upload_mb, "Largest request accepted, MB (larger: 413)")
        ->check(CLI::Range(1, 1024))
        ->capture_default_str();
    command->add_option("--max-pixels", o->server.load.max_pixels, "Largest image accepted, decoded pixels")
        ->check(CLI::Range(int64_t(1), int64_t(1) << 40))
        ->capture_default_str();
    command->add_option("--timeout", o->server.timeout_seconds, "Seconds one read or write of a connection may wait")
        ->check(CLI::Range(1, 3600))
        ->capture_default_str();
    command->add_option("--request-timeout", o->server.request_seconds,
                        "Seconds a client has to send a request's headers (its body gets 1 s more per 64 KiB)")
        ->check(CLI::Range(1, 3600))
        ->capture_default_str();
    command->add_option("--max-connections-per-client", o->server.max_connections_per_client,
                        "Connections one client address may have still sending requests (more: 503)")
        ->check(CLI::Range(1, 4096))
        ->capture_default_str();
    command->add_flag("--allow-upload-to-gallery", o->server.allow_upload_to_gallery,
                      "Let POST /api/images add uploaded photos to the gallery (kept in GALLERY.uploads/)");
    command->add_option("--web-root", o->server.web_root,
                        "Serve the web page's files from this folder, read on every request (to develop the page\n"
                        "without a rebuild: --web-root web); default: the copy built into the binary")
        ->check(CLI::ExistingDirectory);
    command->add_option("--threads", o->threads, "Threads for the network (0: one per core)")->check(CLI::Range(0, kMaxThreads));
    command->add_option("--decode-threads", o->server.decode_threads,
                        "Uploads decoded at once, beside the network's threads (0: one per core)")
        ->check(CLI::Range(0, kMaxThreads))
        ->capture_default_str();
    command->callback([o] {
        ServerOptions options = o->server;
        options.max_upload_bytes = int64_t(o->max_upload_mb) << 20;
        {
            const Gallery gallery = Gallery::open(options.gallery, false);
            options.model = model_path_for_gallery(options.model, &gallery);
        }
        set_thread_count(o->threads);
        // Ctrl-C and SIGTERM are taken by one thread that stops the server; every other thread
        // (made after this) has them blocked.
        sigset_t signals;
        sigemptyset(&signals);
        sigaddset(&signals, SIGINT);
        sigaddset(&signals, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &signals, nullptr);
        Server server(options);
        std::thread stopper([&server, signals] {
            int signal = 0;
            sigwait(&signals, &signal);
            server.stop();
        });
        std::printf("pupembed: serving %s with %s at http://%s:%d/ (Ctrl-C stops)\n", options.gallery.c_str(),
                    options.model.c_str(), options.host.c_str(), server.port());
        std::fflush(stdout);
        server.run();
        pthread_kill(stopper.native_handle(), SIGTERM);  // run() may have ended on its own
        stopper.join();
        std::printf("pupembed: stopped\n");
    });
}

}  // namespace pupembed::cli
