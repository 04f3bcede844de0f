// pupembed train-siamese FEATS --val VAL_FEATS --out RUN_DIR | --resume RUN_DIR
#include <cstdio>
#include <memory>

#include "common.hpp"
#include "pupembed/runtime.hpp"
#include "pupembed/train_siamese.hpp"
#include "training_progress.hpp"

namespace pupembed::cli {

void register_train_siamese(CLI::App& app) {
    struct Options {
        SiameseTrainingOptions train;
        std::string resume;
        int threads = 0;
        bool json = false;
    };
    auto o = std::make_shared<Options>();
    auto& t = o->train;
    CLI::App* command = app.add_subcommand(
        "train-siamese",
        "Stage 2: train the embedding head (BN, 512, ReLU, D, L2) on features from `extract`.\n"
        "--loss contrastive is the original's Siamese pairs (same breed close, different breeds past a\n"
        "margin); --loss proxy (default) is a normalised softmax over learnt class proxies, which measures\n"
        "better. Writes RUN_DIR/best.pt (by val MAP@R) and final.pt: the features' model with the head.");
    command->add_option("FEATS", t.train_features, "Training features (.npy with its .tsv)");
    command->add_option("--val", t.val_features, "Validation features (.npy with its .tsv)");
    command->add_option("-o,--out", t.run_dir, "Run folder to create");
    command->add_option("--resume", o->resume, "Continue the run in this folder");
    command->add_option("--loss", t.loss, "contrastive or proxy")->check(CLI::IsMember({"contrastive", "proxy"}))->capture_default_str();
    command->add_option("--dim", t.embedding_dim, "Embedding size")->check(CLI::Range(2, 4096))->capture_default_str();
    command->add_option("--hidden", t.hidden, "Hidden layer width")->check(CLI::Range(1, 16384))->capture_default_str();
    command->add_option("--epochs", t.epochs, "Epochs")->check(CLI::PositiveNumber)->capture_default_str();
    command->add_option("--batch", t.batch, "Samples (proxy) or pairs (contrastive) per step")->check(CLI::Range(2, 65536))->capture_default_str();
    command->add_option("--lr", t.lr, "Head learning rate (cosine to 0)")->check(CLI::PositiveNumber)->capture_default_str();
    command->add_option("--proxy-lr", t.proxy_lr, "Proxies' learning rate")->check(CLI::PositiveNumber)->capture_default_str();
    command->add_option("--weight-decay", t.weight_decay, "AdamW weight decay")->check(CLI::NonNegativeNumber)->capture_default_str();
    command->add_option("--margin", t.margin, "Contrastive margin (cosine distance)")->check(CLI::Range(0.0, 2.0))->capture_default_str();
    command->add_option("--positive-share", t.positive_share, "Contrastive: share of same-breed pairs")->check(CLI::Range(0.01, 0.99))->capture_default_str();
    command->add_option("--scale", t.scale, "Proxy: softmax scale (1 / temperature)")->check(CLI::PositiveNumber)->capture_default_str();
    command->add_option("--seed", t.seed, "Random seed")->capture_default_str();
    command->add_option("--stop-after", t.stop_after_steps, "Stop after this many steps, resumable")->check(CLI::NonNegativeNumber);
    command->add_option("--threads", o->threads, "Threads (0: one per core)")->check(CLI::NonNegativeNumber);
    command->add_flag("--json", o->json, "Print the outcome as JSON");
    command->callback([o, command] {
        set_thread_count(o->threads);
        SiameseCallbacks callbacks;
        callbacks.on_message = print_training_message;
        callbacks.on_step = step_printer();
        const bool json = o->json;
        callbacks.on_epoch = [json](const SiameseEpochReport& r) {
            finish_progress();
            std::fprintf(json ? stderr : stdout, "epoch %d/%d  train loss %.4f  val Recall@1 %.4f  val MAP@R %.4f  %s%s\n",
                         r.epoch, r.epochs, r.train_loss, r.val_recall_at_1, r.val_map_at_r,
                         duration_text(r.seconds).c_str(), r.best ? "  (best so far)" : "");
            std::fflush(json ? stderr : stdout);
        };
        callbacks.stop_requested = &interrupt_requested();
        install_interrupt_handler();
        SiameseOutcome outcome;
        std::string run_dir;
        if (!o->resume.empty()) {
            for (const char* name : {"FEATS", "--val", "--out"})
                if (command->count(name) > 0) throw CLI::ValidationError(std::string(name) + " cannot be given with --resume");
            run_dir = o->resume;
            outcome = resume_siamese_training(o->resume, callbacks, o->train.stop_after_steps);
        } else {
            if (o->train.train_features.empty() || o->train.val_features.empty() || o->train.run_dir.empty())
                throw CLI::ValidationError("give FEATS, --val VAL_FEATS and --out RUN_DIR (or --resume RUN_DIR)");
            run_dir = o->train.run_dir;
            outcome = train_siamese(o->train, callbacks);
        }
        finish_progress();
        if (o->json)
            print_json({{"finished", outcome.finished}, {"epochs_done", outcome.epoch}, {"steps_done", outcome.step},
                        {"best_val_map_at_r", outcome.best_map_at_r}, {"best_model", outcome.best_model},
                        {"final_model", outcome.final_model}, {"checkpoint", outcome.checkpoint}});
        if (!outcome.finished) exit_interrupted("train-siamese", outcome.step, outcome.epoch, outcome.checkpoint, run_dir);
        if (!o->json)
            std::printf("done: best val MAP@R %.4f in %s; final model %s\n", outcome.best_map_at_r,
                        outcome.best_model.c_str(), outcome.final_model.c_str());
    });
}

}  // namespace pupembed::cli
