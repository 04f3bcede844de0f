#include "training_progress.hpp"

#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "common.hpp"

namespace pupembed::cli {
namespace {

std::atomic<bool> stop_flag{false};

extern "C" void on_interrupt(int) {
    stop_flag.store(true);
    std::signal(SIGINT, SIG_DFL);
}

}  // namespace

const std::atomic<bool>& interrupt_requested() { return stop_flag; }

void install_interrupt_handler() { std::signal(SIGINT, on_interrupt); }

std::string duration_text(double seconds) {
    const long total = long(seconds + 0.5);
    char text[32];
    if (total >= 3600) std::snprintf(text, sizeof(text), "%ldh%02ldm", total / 3600, (total % 3600) / 60);
    else std::snprintf(text, sizeof(text), "%ldm%02lds", total / 60, total % 60);
    return text;
}

void print_training_message(const std::string& message) {
    finish_progress();
    std::fprintf(stderr, "%s\n", message.c_str());
}

std::function<void(const StepReport&)> step_printer() {
    const bool terminal = ::isatty(STDERR_FILENO);
    auto last_line = std::make_shared<std::chrono::steady_clock::time_point>(std::chrono::steady_clock::now());
    return [terminal, last_line](const StepReport& r) {
        const auto now = std::chrono::steady_clock::now();
        if (!terminal && now - *last_line < std::chrono::seconds(30) && r.step != r.steps) return;
        *last_line = now;
        const std::string eta = r.eta_seconds >= 0 ? "ETA " + duration_text(r.eta_seconds)
                                                   : r.phase + " ETA " + duration_text(r.phase_eta_seconds);
        std::fprintf(stderr, "%s[%s] epoch %d/%d step %lld/%lld  loss %.4f  %.0f samples/s  %s%s", terminal ? "\r" : "",
                     r.phase.c_str(), r.epoch, r.epochs, static_cast<long long>(r.step), static_cast<long long>(r.steps),
                     r.loss, r.images_per_second, eta.c_str(), terminal ? "   " : "\n");
        std::fflush(stderr);
        if (terminal) mark_progress_drawn();
    };
}

void exit_interrupted(const std::string& command, int64_t step, int epochs_done, const std::string& checkpoint,
                      const std::string& run_dir) {
    finish_progress();
    std::fprintf(stderr,
                 "stopped after step %lld (%d epochs done); checkpoint written to %s\n"
                 "continue with: pupembed %s --resume %s\n",
                 static_cast<long long>(step), epochs_done, checkpoint.c_str(), command.c_str(), run_dir.c_str());
    std::fflush(stdout);
    std::exit(130);
}

}  // namespace pupembed::cli
