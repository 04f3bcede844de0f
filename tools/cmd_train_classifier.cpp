// pupembed train-classifier DATA --init MODEL --out RUN_DIR | --resume RUN_DIR
#include <cstdio>
#include <memory>

#include "common.hpp"
#include "pupembed/model/threads.hpp"
#include "pupembed/model/backbone.hpp"
#include "pupembed/train/train_on_images.hpp"
#include "training_progress.hpp"

namespace pupembed::cli {
void register_train_classifier(CLI::App& app) {
    struct Options {
        ImageTrainingOptions train;
        std::string data, train_list, val, resume;
        bool no_flip = false, json = false;
        int threads = 0;
    };
    auto o = std::make_shared<Options>();
    auto& t = o->train;
    CLI::App* command = app.add_subcommand(
        "train-classifier",
        "Stage 1: train the breed classifier (trunk + normalised linear head) on labelled photos.\n"
        "Default recipe: head alone with the trunk frozen (--warmup-epochs), then all layers at low\n"
        "learning rates with a cosine schedule, label smoothing and weight decay. Writes RUN_DIR/\n"
        "config.json, checkpoint.ckpt (every epoch and on Ctrl-C), metrics.jsonl, best.pt (best val\n"
        "top-1) and final.pt. Images are decoded once into a cache and reused by later runs.");
    command->add_option("DATA", o->data, "Training photos: folder-per-class tree or list file");
    command->add_option("--train-list", o->train_list, "Training list file (instead of DATA)");
    command->add_option("--val,--val-list", o->val,
                        "Validation photos (folder or list); default: hold out --val-fraction of DATA");
    command->add_option("--val-fraction", t.val_fraction, "Share of DATA held out when --val is not given")
        ->check(CLI::Range(0.01, 0.9))
        ->capture_default_str();
    command->add_option("--init", t.init, "Model whose trunk starts the run (e.g. squeezenet-imagenet.pt), or none");
    command->add_option("-o,--out", t.run_dir, "Run folder to create");
    command->add_option("--resume", o->resume, "Continue the run in this folder where it stopped");
    command->add_option("--backbone", t.backbone, "Trunk with --init none")
        ->check(CLI::IsMember(known_backbones()))
        ->capture_default_str();
    command->add_option("--cache-dir", t.cache_dir, "Where decoded images are cached (default: ~/.cache/pupembed)");
    command->add_option("--input-size", t.input_size, "Network input: random crops of this size (default: the --init model's; 128)")
        ->check(CLI::Range(16, 1024));
    command->add_option("--resize", t.resize,
                        "Images are resized (shorter side) and centre-cropped to this first (default: 8/7 of the input size)")
        ->check(CLI::Range(16, 1024));
    command->add_option("--warmup-epochs", t.warmup_epochs, "Epochs training the head alone (default 2; 0 with --init none)")
        ->check(CLI::NonNegativeNumber);
    command->add_option("--epochs", t.epochs, "Epochs training all layers (default 14; 10 with --init none)")
        ->check(CLI::NonNegativeNumber);
    command->add_option("--batch", t.batch, "Images per step")->check(CLI::Range(2, 4096))->capture_default_str();
    command->add_option("--warmup-lr", t.warmup_lr, "Head learning rate while the trunk is frozen")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    command->add_option("--head-lr", t.head_lr, "Head learning rate with all layers (default 5e-4; 2e-3 with --init none)")
        ->check(CLI::PositiveNumber);
    command->add_option("--trunk-lr", t.trunk_lr, "Trunk learning rate (default 1e-4; 2e-3 with --init none)")
        ->check(CLI::PositiveNumber);
    command->add_option("--weight-decay", t.weight_decay, "AdamW weight decay")->check(CLI::NonNegativeNumber)->capture_default_str();
    command->add_option("--label-smoothing", t.label_smoothing, "Label smoothing")->check(CLI::Range(0.0, 0.5))->capture_default_str();
    command->add_option("--dropout", t.dropout, "Dropout before the head's linear layer")->check(CLI::Range(0.0, 0.9))->capture_default_str();
    command->add_flag("--no-flip", o->no_flip, "No random horizontal flips");
    command->add_option("--freeze-until", t.freeze_until,
                        "Keep the trunk's layers up to and including this one at --init's weights (MobileNetV2: stem, "
                        "block1 ... block17, last; SqueezeNet: conv1, fire2 ... fire9; ResNet-50: stem, res2a ... res5c)");
    command->add_option("--seed", t.seed, "Random seed")->capture_default_str();
    command->add_option("--threads", o->threads, "Threads (0: one per core)")->check(CLI::Range(0, kMaxThreads))->capture_default_str();
    command->add_flag("--strict", t.strict, "Fail on an unreadable image instead of skipping it");
    command->add_option("--max-pixels", t.max_pixels, "Refuse images larger than this")->check(CLI::PositiveNumber)->capture_default_str();
    command->add_option("--stop-after", t.stop_after_steps, "Stop after this many steps in all, resumable (as Ctrl-C)")
        ->check(CLI::NonNegativeNumber);
    command->add_flag("--json", o->json, "Print the outcome as JSON");

    command->callback([o, command] {
        ImageTrainingOptions& run = o->train;
        set_thread_count(o->threads);
        const TrainingCallbacks callbacks = image_training_callbacks(o->json);
        install_interrupt_handler();
        TrainingOutcome outcome;
        std::string run_dir;
        if (!o->resume.empty()) {
            for (const char* name : {"DATA", "--train-list", "--init", "--out"})
                if (command->count(name) > 0)
                    throw CLI::ValidationError(std::string(name) + " cannot be given with --resume (the run has its own)");
            run_dir = o->resume;
            outcome = resume_training_on_images(o->resume, callbacks, run.stop_after_steps);
        } else {
            if (o->data.empty() == o->train_list.empty())
                throw CLI::ValidationError("give the training photos as DATA or --train-list (one of them)");
            if (run.init.empty()) throw CLI::ValidationError("--init is required: a model file, or none");
            if (run.run_dir.empty()) throw CLI::ValidationError("--out RUN_DIR is required");
            run.train_data = o->data.empty() ? o->train_list : o->data;
            run.val_data = o->val;
            run.flip = !o->no_flip;
            const bool scratch = run.init == "none";
            if (command->count("--warmup-epochs") == 0) run.warmup_epochs = scratch ? 0 : 2;
            if (command->count("--epochs") == 0) run.epochs = scratch ? 10 : 14;
            if (command->count("--head-lr") == 0) run.head_lr = scratch ? 2e-3 : 5e-4;
            if (command->count("--trunk-lr") == 0) run.trunk_lr = scratch ? 2e-3 : 1e-4;
            run_dir = run.run_dir;
            outcome = train_on_images(run, callbacks);
        }
        finish_progress();
        print_image_training_outcome(outcome, o->json);
        if (!outcome.finished) exit_interrupted("train-classifier", outcome.step, outcome.epoch, outcome.checkpoint, run_dir);
    });
}

}  // namespace pupembed::cli
