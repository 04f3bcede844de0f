// pupembed train-siamese FEATS --val VAL_FEATS --out RUN_DIR
//       | train-siamese --finetune-trunk DATA --val VAL --init MODEL --out RUN_DIR | --resume RUN_DIR
#include <cstdio>
#include <memory>

#include "common.hpp"
#include "pupembed/model/threads.hpp"
#include "pupembed/train/train_embedding_head.hpp"
#include "pupembed/train/train_on_images.hpp"
#include "training_progress.hpp"

namespace pupembed::cli {
void register_train_siamese(CLI::App& app) {
    struct Options {
        EmbeddingHeadTrainingOptions train;
        std::string resume;
        int threads = 0;
        bool json = false, finetune_trunk = false;
        EndToEndOptions finetune;
    };
    auto o = std::make_shared<Options>();
    auto& t = o->train;
    CLI::App* command = app.add_subcommand(
        "train-siamese",
        "Stage 2: train the embedding head (BN, 512, ReLU, D, L2) on features from `extract`.\n"
        "--loss contrastive is the original's Siamese pairs (same breed close, different breeds past a\n"
        "margin); --loss proxy (default) is a normalised softmax over learnt class proxies, which measures\n"
        "better. Writes RUN_DIR/best.pt (by val MAP@R) and final.pt: the features' model with the head.\n"
        "With --finetune-trunk, FEATS and --val are photos (folder-per-class or list) and the trunk, the\n"
        "breed classifier and the embedding head of --init's model train together (proxy loss plus the\n"
        "classifier's cross-entropy): --warmup-epochs with the trunk frozen, then --epochs of all layers.");
    command->add_option("FEATS", t.train_features, "Training features (.npy with its .tsv); with --finetune-trunk, photos");
    command->add_option("--val", t.val_features, "Validation features (.npy with its .tsv); with --finetune-trunk, photos");
    command->add_option("-o,--out", t.run_dir, "Run folder to create");
    command->add_option("--resume", o->resume, "Continue the run in this folder");
    command->add_option("--loss", t.loss, "contrastive or proxy")->check(CLI::IsMember({"contrastive", "proxy"}))->capture_default_str();
    command->add_option("--dim", t.embedding_dim, "Embedding size")->check(CLI::Range(2, 4096))->capture_default_str();
    command->add_option("--hidden", t.hidden, "Hidden layer width")->check(CLI::Range(1, 16384))->capture_default_str();
    command->add_option("--epochs", t.epochs, "Epochs (with --finetune-trunk: of all layers, default 8)")
        ->check(CLI::PositiveNumber)->capture_default_str();
    command->add_option("--batch", t.batch, "Samples (proxy) or pairs (contrastive) per step (--finetune-trunk: images, default 64)")->check(CLI::Range(2, 65536))->capture_default_str();
    command->add_option("--lr", t.lr, "Head learning rate (cosine to 0)")->check(CLI::PositiveNumber)->capture_default_str();
    command->add_option("--proxy-lr", t.proxy_lr, "Proxies' learning rate")->check(CLI::PositiveNumber)->capture_default_str();
    command->add_option("--weight-decay", t.weight_decay, "AdamW weight decay")->check(CLI::NonNegativeNumber)->capture_default_str();
    command->add_option("--margin", t.margin, "Contrastive margin (cosine distance)")->check(CLI::Range(0.0, 2.0))->capture_default_str();
    command->add_option("--positive-share", t.positive_share, "Contrastive: share of same-breed pairs")->check(CLI::Range(0.01, 0.99))->capture_default_str();
    command->add_option("--scale", t.scale, "Proxy: softmax scale (1 / temperature)")->check(CLI::PositiveNumber)->capture_default_str();
    command->add_option("--seed", t.seed, "Random seed")->capture_default_str();
    auto& f = o->finetune;
    command->add_flag("--finetune-trunk", o->finetune_trunk, "Train trunk, classifier and embedding head together on photos");
    command->add_option("--init", f.init, "--finetune-trunk: model to start from (e.g. stage 1's best.pt or an ImageNet import)");
    command->add_option("--warmup-epochs", f.warmup_epochs, "--finetune-trunk: epochs with the trunk frozen (heads at --lr)")
        ->check(CLI::NonNegativeNumber)->capture_default_str();
    command->add_option("--trunk-lr", f.trunk_lr, "--finetune-trunk: trunk learning rate after the warm-up (cosine to 0)")
        ->check(CLI::PositiveNumber)->capture_default_str();
    command->add_option("--head-lr", f.head_lr, "--finetune-trunk: heads' learning rate after the warm-up (cosine to 0)")
        ->check(CLI::PositiveNumber)->capture_default_str();
    command->add_option("--classifier-weight", f.classifier_weight, "--finetune-trunk: weight of the classifier's loss")
        ->check(CLI::NonNegativeNumber)->capture_default_str();
    command->add_option("--input-size", f.input_size, "--finetune-trunk: random crops of this size (default: the --init model's)")
        ->check(CLI::Range(16, 1024));
    command->add_option("--resize", f.resize, "--finetune-trunk: cache images at this size (default: 8/7 of the input size)")
        ->check(CLI::Range(16, 1024));
    command->add_option("--cache-dir", f.cache_dir, "--finetune-trunk: decoded-image cache (default: ~/.cache/pupembed)");
    command->add_flag("--photo-augment", f.photo_augment,
                      "--finetune-trunk: make crops look like photos: random-resized crops (area and aspect), colour "
                      "jitter, lost detail, some pasted small onto a blurred canvas");
    command->add_option("--min-area", f.photo.min_area, "--photo-augment: least share of the image a crop keeps")
        ->check(CLI::Range(0.01, 1.0))->capture_default_str();
    command->add_option("--colour-jitter", f.photo.colour, "--photo-augment: brightness, contrast, saturation scaled by 1 +- this")
        ->check(CLI::Range(0.0, 0.9))->capture_default_str();
    command->add_option("--downscale-share", f.photo.downscale_share, "--photo-augment: share of crops shrunk and enlarged again")
        ->check(CLI::Range(0.0, 1.0))->capture_default_str();
    command->add_option("--canvas-share", f.photo.canvas_share, "--photo-augment: share of crops pasted small onto a canvas")
        ->check(CLI::Range(0.0, 1.0))->capture_default_str();
    command->add_option("--train-sizes", f.train_sizes, "--photo-augment: input sizes, one drawn per step (e.g. 128,160,192)")
        ->delimiter(',')->check(CLI::Range(16, 1024));
    command->add_option("--l2sp", f.l2sp, "--finetune-trunk: L2-SP weight, alpha / 2 |trunk - --init's trunk|^2 added to the loss")
        ->check(CLI::NonNegativeNumber)->capture_default_str();
    command->add_option("--distill", f.distill, "--finetune-trunk: weight of 1 - cos(pooled features, --init's pooled features)")
        ->check(CLI::NonNegativeNumber)->capture_default_str();
    command->add_option("--distill-similarity", f.similarity_distill,
                        "--finetune-trunk: weight of KL(each photo's neighbours in the batch by --init's pooled features "
                        "|| by the embedding), so the embedding keeps the trunk's neighbourhoods")
        ->check(CLI::NonNegativeNumber)->capture_default_str();
    command->add_option("--teacher", f.teacher,
                        "--distill-similarity: take the neighbourhoods from this model's embeddings of the training photos\n"
                        "(e.g. a ResNet-50 model teaching MobileNetV2), computed once, instead of --init's pooled features")
        ->check(CLI::ExistingFile);
    command->add_option("--distill-temperature", f.similarity_temperature,
                        "--distill-similarity: the softmaxes' temperature over cosines")
        ->check(CLI::PositiveNumber)->capture_default_str();
    command->add_option("--ema", f.ema, "--finetune-trunk: keep a moving average of the weights with this decay (e.g. 0.998); "
                                        "it is what is validated and written")
        ->check(CLI::Range(0.0, 0.99999))->capture_default_str();
    command->add_option("--freeze-until", f.freeze_until,
                        "--finetune-trunk: keep the trunk's layers up to and including this one at --init's weights "
                        "(MobileNetV2: stem, block1 ... block17, last; SqueezeNet: conv1, fire2 ... fire9; ResNet-50: stem, res2a ... res5c)");
    command->add_option("--stop-after", t.stop_after_steps, "Stop after this many steps, resumable")->check(CLI::NonNegativeNumber);
    command->add_option("--threads", o->threads, "Threads (0: one per core)")->check(CLI::Range(0, kMaxThreads));
    command->add_flag("--json", o->json, "Print the outcome as JSON");
    command->callback([o, command] {
        set_thread_count(o->threads);
        const bool image_run = o->resume.empty() ? o->finetune_trunk : is_image_training_run(o->resume);
        if (!image_run) {
            for (const char* name : {"--init", "--warmup-epochs", "--trunk-lr", "--head-lr", "--classifier-weight",
                                     "--input-size", "--resize", "--cache-dir", "--photo-augment", "--min-area",
                                     "--colour-jitter", "--downscale-share", "--canvas-share", "--train-sizes", "--l2sp",
                                     "--distill", "--distill-similarity", "--distill-temperature", "--ema",
                                     "--freeze-until"})
                if (command->count(name) > 0)
                    throw CLI::ValidationError(std::string(name) + " needs --finetune-trunk");
        }
        if (image_run) {
            const TrainingCallbacks callbacks = image_training_callbacks(o->json);
            install_interrupt_handler();
            TrainingOutcome outcome;
            std::string run_dir = o->resume;
            if (!o->resume.empty()) {
                for (const char* name : {"FEATS", "--val", "--out", "--init"})
                    if (command->count(name) > 0) throw CLI::ValidationError(std::string(name) + " cannot be given with --resume");
                outcome = resume_training_on_images(o->resume, callbacks, o->train.stop_after_steps);
            } else {
                if (o->train.loss != "proxy")
                    throw CLI::ValidationError("--finetune-trunk trains with --loss proxy only");
                if (o->train.train_features.empty() || o->train.val_features.empty() || o->train.run_dir.empty() ||
                    o->finetune.init.empty())
                    throw CLI::ValidationError("--finetune-trunk needs DATA, --val VAL, --init MODEL and --out RUN_DIR");
                // The feature run's defaults suit a head alone; these suit the whole network.
                if (command->count("--batch") == 0) o->finetune.batch = 64;
                else o->finetune.batch = o->train.batch;
                if (command->count("--epochs") > 0) o->finetune.epochs = o->train.epochs;
                run_dir = o->train.run_dir;
                outcome = train_on_images(end_to_end_training_options(o->train, o->finetune), callbacks);
            }
            finish_progress();
            print_image_training_outcome(outcome, o->json);
            if (!outcome.finished) exit_interrupted("train-siamese", outcome.step, outcome.epoch, outcome.checkpoint, run_dir);
            return;
        }
        TrainingCallbacks callbacks;
        callbacks.on_message = print_training_message;
        callbacks.on_step = step_printer();
        const bool json = o->json;
        callbacks.on_epoch = [json](const EpochReport& r) {
            finish_progress();
            std::fprintf(json ? stderr : stdout, "epoch %d/%d  train loss %.4f  val Recall@1 %.4f  val MAP@R %.4f  %s%s\n",
                         r.epoch, r.epochs, r.train_loss, r.val_recall_at_1, r.val_map_at_r,
                         duration_text(r.seconds).c_str(), r.best ? "  (best so far)" : "");
            std::fflush(json ? stderr : stdout);
        };
        callbacks.stop_requested = &interrupt_requested();
        install_interrupt_handler();
        TrainingOutcome outcome;
        std::string run_dir;
        if (!o->resume.empty()) {
            for (const char* name : {"FEATS", "--val", "--out"})
                if (command->count(name) > 0) throw CLI::ValidationError(std::string(name) + " cannot be given with --resume");
            run_dir = o->resume;
            outcome = resume_embedding_head_training(o->resume, callbacks, o->train.stop_after_steps);
        } else {
            if (o->train.train_features.empty() || o->train.val_features.empty() || o->train.run_dir.empty())
                throw CLI::ValidationError("give FEATS, --val VAL_FEATS and --out RUN_DIR (or --resume RUN_DIR)");
            run_dir = o->train.run_dir;
            outcome = train_embedding_head(o->train, callbacks);
        }
        finish_progress();
        if (o->json)
            print_json({{"finished", outcome.finished}, {"epochs_done", outcome.epoch}, {"steps_done", outcome.step},
                        {"best_val_map_at_r", outcome.best_val_map_at_r}, {"best_model", outcome.best_model},
                        {"final_model", outcome.final_model}, {"checkpoint", outcome.checkpoint}});
        if (!outcome.finished) exit_interrupted("train-siamese", outcome.step, outcome.epoch, outcome.checkpoint, run_dir);
        if (!o->json)
            std::printf("done: best val MAP@R %.4f in %s; final model %s\n", outcome.best_val_map_at_r,
                        outcome.best_model.c_str(), outcome.final_model.c_str());
    });
}

}  // namespace pupembed::cli
