// Progress lines and Ctrl-C handling for the training commands.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "pupembed/train/train_on_images.hpp"

namespace pupembed::cli {

/// Set by the first Ctrl-C (a second one ends the process at once).
const std::atomic<bool>& interrupt_requested();
void install_interrupt_handler();

/// "1m05s" or "2h03m".
std::string duration_text(double seconds);

/// Prints a note on stderr on a line of its own.
void print_training_message(const std::string& message);

/// A step printer: a live line on a terminal, a plain line every 30 s (and at each epoch's
/// end) in a log file.
std::function<void(const StepReport&)> step_printer();

/// Callbacks for a run on images (train-classifier, train-siamese --finetune-trunk): notes and
/// progress on stderr, epoch summaries on stdout (on stderr when stdout is kept for --json).
TrainingCallbacks image_training_callbacks(bool json);

/// Prints a finished image run: as JSON with --json, else its "done: ..." line.
void print_image_training_outcome(const TrainingOutcome& outcome, bool json);

/// Says how to resume a stopped run, then exits with 130.
[[noreturn]] void exit_interrupted(const std::string& command, int64_t step, int epochs_done, const std::string& checkpoint,
                                   const std::string& run_dir);

}  // namespace pupembed::cli
