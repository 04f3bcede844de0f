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

TrainingCallbacks image_training_callbacks(bool json) {
    TrainingCallbacks callbacks;
    callbacks.on_message = print_training_message;
    callbacks.on_step = step_printer();
    callbacks.on_epoch = [json](const EpochReport& r) {
        finish_progress();
        std::string retrieval;
        if (r.val_map_at_r >= 0) {
            char text[96];
            std::snprintf(text, sizeof(text), "  val Recall@1 %.4f  val MAP@R %.4f", r.val_recall_at_1, r.val_map_at_r);
            retrieval = text;
        }
        std::fprintf(json ? stderr : stdout,
                     "epoch %d/%d %-8s  train loss %.4f  train top-1 %.4f  val top-1 %.4f  val top-5 %.4f%s  %.0f images/s  %s%s\n",
                     r.epoch, r.epochs, r.phase.c_str(), r.train_loss, r.train_top1, r.val_top1, r.val_top5,
                     retrieval.c_str(), r.images_per_second, duration_text(r.seconds).c_str(),
                     r.best ? "  (best so far)" : "");
        std::fflush(json ? stderr : stdout);
    };
    callbacks.stop_requested = &interrupt_requested();
    return callbacks;
}

void print_image_training_outcome(const TrainingOutcome& outcome, bool json) {
    if (json) {
        nlohmann::json out = {{"finished", outcome.finished},
                              {"epochs_done", outcome.epoch},
                              {"steps_done", outcome.step},
                              {"best_val_top1", outcome.best_val_top1},
                              {"best_model", outcome.best_model},
                              {"final_model", outcome.final_model},
                              {"checkpoint", outcome.checkpoint},
                              {"skipped_images", outcome.skipped_images}};
        if (outcome.best_val_map_at_r >= 0) out["best_val_map_at_r"] = outcome.best_val_map_at_r;
        print_json(out);
    }
    if (outcome.skipped_images > 0)
        std::fprintf(stderr, "%lld unreadable images were skipped (see above; --strict makes them an error)\n",
                     static_cast<long long>(outcome.skipped_images));
    if (json || !outcome.finished) return;
    if (outcome.best_val_map_at_r >= 0)
        std::printf("done: best val MAP@R %.4f (top-1 %.4f) in %s; final model %s\n", outcome.best_val_map_at_r,
                    outcome.best_val_top1, outcome.best_model.c_str(), outcome.final_model.c_str());
    else
        std::printf("done: best val top-1 %.4f in %s; final model %s\n", outcome.best_val_top1,
                    outcome.best_model.c_str(), outcome.final_model.c_str());
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
