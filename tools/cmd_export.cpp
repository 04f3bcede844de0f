// pupembed export MODEL -o OUT [--float16] [--large-input SIZE]
//                 [--posterior-weight W [--posterior-temperature T] | --tune-posterior PHOTOS [--tune-weights LIST]]
#include <cstdio>
#include <memory>
#include <vector>

#include "common.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/inference/posterior_tuning.hpp"
#include "pupembed/io/dataset.hpp"
#include "pupembed/model/model.hpp"

namespace pupembed::cli {

void register_export(CLI::App& app) {
    struct Options {
        std::string model, output;
        bool float16 = false, allow_partial = false, json = false;
        int large_input = -1;
        double posterior_weight = -1, posterior_temperature = 1;
        std::string tune_on;
        std::vector<double> tune_weights{0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.25, 1.5};
        RuntimeOptions runtime;
    };
    auto o = std::make_shared<Options>();
    CLI::App* command = app.add_subcommand(
        "export",
        "Write the one model file a user needs (trunk, embedding head, breed classifier, preprocessing,\n"
        "class names), e.g. from train-siamese's best.pt; --float16 halves its size.");
    command->add_option("MODEL", o->model, "Model file to export")->required();
    command->add_option("-o,--output", o->output, "File to write")->required();
    command->add_flag("--float16", o->float16, "Store the weights as float16");
    command->add_flag("--allow-partial", o->allow_partial, "Export a model without an embedding head or classifier");
    command->add_option("--large-input", o->large_input,
                        "Photos with a shorter side of at least 8/7 of this run at this input size instead (e.g. 224: "
                        "more detail where the photo has it, small photos stay fast); 0: off (default: as MODEL has it)")
        ->check(CLI::Range(0, 1024));
    auto* weight = command
                       ->add_option("--posterior-weight", o->posterior_weight,
                                    "Append the breed classifier's posterior to the embedding at this weight beside the "
                                    "head's (both unit vectors: the square root of the posterior, then normalised "
                                    "again), so photos the classifier gives the same breeds come closer; 0: the "
                                    "embedding head alone (default: as MODEL has it)")
                       ->check(CLI::Range(0.0, 100.0));
    command
        ->add_option("--posterior-temperature", o->posterior_temperature,
                     "Temperature of that posterior, softmax(logits / T): below 1 sharper, above 1 flatter")
        ->check(CLI::Range(0.001, 100.0))
        ->needs(weight);
    auto* tune = command
                     ->add_option("--tune-posterior", o->tune_on,
                                  "Choose that weight and temperature on these labelled photos (folder-per-class or "
                                  "list; e.g. val, never the photos you will measure on): the temperature that "
                                  "calibrates the classifier (least negative log-likelihood of the true breed), then "
                                  "of --tune-weights the one of the highest Recall@1; prints what each gave")
                     ->excludes(weight);
    command->add_option("--tune-weights", o->tune_weights, "The weights --tune-posterior tries (0: the head alone)")
        ->delimiter(',')
        ->check(CLI::Range(0.0, 100.0))
        ->needs(tune);
    command->add_flag("--json", o->json, "Print JSON: the file written and, with --tune-posterior, what each weight gave");
    add_runtime_options(*command, o->runtime);
    command->callback([o] {
        nlohmann::json tuned = nullptr;
        Model model = load_model(o->model);
        if (!o->allow_partial && (!model.has_embedding_head() || !model.has_classifier()))
            throw Error(o->model, std::string("has no ") + (model.has_embedding_head() ? "classifier" : "embedding head") +
                                      " (train-siamese's best.pt has both; --allow-partial exports it anyway)");
        if (o->large_input >= 0) set_large_input(model.info.preprocessing, o->large_input);
        if (o->posterior_weight >= 0) set_embedding_posterior(model, o->posterior_weight, o->posterior_temperature);
        if (!o->tune_on.empty()) {
            const Dataset photos = load_dataset(o->tune_on);
            // Tune the weights as the file will hold them (float16 or not): write them, read them back.
            const std::string untuned = o->output + ".untuned.tmp";
            Model runner;
            try {
                save_model(untuned, model, o->float16);
                runner = load_model_for_inference(untuned);
            } catch (...) {
                std::remove(untuned.c_str());
                throw;
            }
            std::remove(untuned.c_str());
            const PosteriorTuning tuning = tune_embedding_posterior(
                runner, photos, start_inference(o->runtime, "tune-posterior " + o->tune_on), o->tune_weights);
            finish_progress();
            tuned = {{"photos", o->tune_on},
                     {"images", tuning.images},
                     {"temperature", tuning.temperature},
                     {"negative_log_likelihood", tuning.log_likelihood},
                     {"negative_log_likelihood_at_1", tuning.log_likelihood_at_1},
                     {"weight", tuning.chosen.weight},
                     {"tried", nlohmann::json::array()}};
            for (const auto& row : tuning.tried)
                tuned["tried"].push_back({{"weight", row.weight}, {"recall_at_1", row.recall_at_1}, {"map_at_r", row.map_at_r}});
            if (!o->json) {
                std::printf("posterior temperature %.3f: mean negative log-likelihood of the true breed %.4f (at 1: "
                            "%.4f), %lld of %lld photos\n",
                            tuning.temperature, tuning.log_likelihood, tuning.log_likelihood_at_1,
                            static_cast<long long>(tuning.classified_images), static_cast<long long>(tuning.images));
                std::printf("| posterior weight | Recall@1 | MAP@R |\n| --- | --- | --- |\n");
                for (const auto& row : tuning.tried)
                    std::printf("| %g%s | %.4f | %.4f |\n", row.weight,
                                row.weight == tuning.chosen.weight ? " (chosen)" : "", row.recall_at_1, row.map_at_r);
            }
            set_embedding_posterior(model, tuning.chosen.weight, tuning.temperature);
        }
        save_model(o->output, model, o->float16);
        if (o->json) {
            print_json({{"file", o->output},
                        {"backbone", model.info.backbone},
                        {"classes", model.info.class_names.size()},
                        {"embedding_size", model.embedding_size()},
                        {"embedding_posterior", posterior_json(model.info)},
                        {"posterior_tuning", tuned},
                        {"float16", o->float16}});
            return;
        }
        std::printf("wrote %s: %s, %zu classes, %lld-d embedding%s, %s\n", o->output.c_str(),
                    model.info.backbone.c_str(), model.info.class_names.size(),
                    static_cast<long long>(model.embedding_size()),
                    model.info.posterior_weight > 0 ? " (head and breed posterior)" : "",
                    o->float16 ? "float16 weights" : "float32 weights");
    });
}

}  // namespace pupembed::cli
