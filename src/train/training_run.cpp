#include "train/training_run.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <numeric>

#include "core/json_input.hpp"
#include "core/random.hpp"
#include "model/tensor_archive.hpp"
#include "pupembed/core/error.hpp"
#include "pupembed/io/file_io.hpp"
#include "train/training_support.hpp"

namespace fs = std::filesystem;

namespace pupembed {

RunControl run_control(const TrainingCallbacks& callbacks, int64_t stop_after_steps) {
    RunControl control;
    control.on_message = callbacks.on_message;
    control.on_step = callbacks.on_step;
    control.stop_requested = callbacks.stop_requested;
    control.stop_after_steps = stop_after_steps;
    return control;
}

namespace {

const char kCheckpointMagic[] = "PUPCHKPT";
constexpr uint32_t kCheckpointVersion = 1;

using Clock = std::chrono::steady_clock;

void save_checkpoint(const RunFiles& files, TrainingRecipe& recipe, const RunProgress& p) {
    nlohmann::json meta = {{"epoch", p.epoch},
                           {"step_in_epoch", p.step_in_epoch},
                           {"global_step", p.global_step},
                           {"rng", rng_text(p.rng)},
                           {"loss_sum", p.loss_sum},
                           {"seen", p.seen},
                           {"epoch_seconds", p.epoch_seconds}};
    CheckpointTensors tensors;
    recipe.save_state(meta, tensors);
    tensors.emplace_back("order", torch::tensor(p.order, torch::kInt64));
    tensors.emplace_back("torch_rng", torch_rng_state());
    tensors.emplace_back("optimizer", optimizer_state(recipe.optimizer()));
    write_tensor_archive(files.checkpoint(), kCheckpointMagic, kCheckpointVersion, meta, tensors);
}

void load_checkpoint(const RunFiles& files, TrainingRecipe& recipe, RunProgress& p) {
    const std::string path = files.checkpoint();
    TensorArchive archive = read_tensor_archive(path, kCheckpointMagic, kCheckpointVersion, "pupembed checkpoint");
    auto take = [&](const std::string& name) {
        const auto found = archive.tensors.find(name);
        if (found == archive.tensors.end()) throw Error(path, "damaged checkpoint (no " + name + ")");
        return found->second;
    };
    try {
        const auto& meta = archive.meta;
        p.epoch = meta.at("epoch");
        p.step_in_epoch = meta.at("step_in_epoch");
        p.global_step = meta.at("global_step");
        set_rng_from_text(p.rng, meta.at("rng").get<std::string>());
        p.loss_sum = meta.at("loss_sum");
        p.seen = meta.at("seen");
        p.epoch_seconds = meta.value("epoch_seconds", 0.0);
        torch::NoGradGuard no_grad;
        recipe.load_state(meta, take);
    } catch (const nlohmann::json::exception& e) {
        throw Error(path, std::string("damaged checkpoint (") + e.what() + ")");
    }
    const torch::Tensor order = take("order");
    p.order.assign(order.data_ptr<int64_t>(), order.data_ptr<int64_t>() + order.numel());
    set_torch_rng_state(take("torch_rng"));
    load_optimizer_state(recipe.optimizer(), take("optimizer"));
}

/// Step timing per phase in this process, for the ETA (phases train at different speeds).
struct PhaseClock {
    std::vector<double> seconds;
    std::vector<int64_t> steps;
};

}  // namespace

void add_module_state(const std::string& prefix, const torch::nn::Module& module, CheckpointTensors& tensors) {
    for (const auto& item : module.named_parameters()) tensors.emplace_back(prefix + "." + item.key(), item.value());
    for (const auto& item : module.named_buffers()) tensors.emplace_back(prefix + "." + item.key(), item.value());
}

void load_module_state(const std::string& prefix, torch::nn::Module& module,
                       const std::function<torch::Tensor(const std::string&)>& take) {
    torch::NoGradGuard no_grad;
    for (auto& item : module.named_parameters()) item.value().copy_(take(prefix + "." + item.key()));
    for (auto& item : module.named_buffers()) item.value().copy_(take(prefix + "." + item.key()));
}

double cosine_factor(int64_t step, int64_t steps) {
    const double t = steps > 0 ? double(step) / double(steps) : 1.0;
    return 0.5 * (1.0 + std::cos(M_PI * t));
}

RunResult run_training(TrainingRecipe& recipe, const std::string& run_dir, const RunControl& control, bool resume) {
    const RunFiles files{run_dir};
    RunProgress p;
    if (resume) {
        load_checkpoint(files, recipe, p);
        if (control.on_message)
            control.on_message("resuming at epoch " + std::to_string(p.epoch + 1) + ", step " + std::to_string(p.step_in_epoch) +
                               " of it (" + std::to_string(p.global_step) + " steps done)");
    } else {
        p.rng.seed(recipe.seed());
        recipe.start();
    }

    const int64_t count = recipe.samples();
    const int64_t batch = recipe.batch_size();
    const int64_t steps_per_epoch = std::max<int64_t>(1, count / batch);
    const int epochs = recipe.epochs();
    const int64_t total_steps = steps_per_epoch * epochs;
    const int phases = epochs > 0 ? recipe.phase_of(epochs - 1) + 1 : 1;
    // Each phase's steps: [phase_begin[q], phase_begin[q + 1]).
    std::vector<int64_t> phase_begin(size_t(phases) + 1, total_steps);
    for (int e = epochs - 1; e >= 0; --e) phase_begin[size_t(recipe.phase_of(e))] = steps_per_epoch * e;
    PhaseClock clock{std::vector<double>(size_t(phases), 0.0), std::vector<int64_t>(size_t(phases), 0)};

    while (p.epoch < epochs) {
        const int phase = recipe.phase_of(p.epoch);
        const bool fresh = p.step_in_epoch == 0;
        if (fresh) {
            p.order.resize(size_t(count));
            std::iota(p.order.begin(), p.order.end(), 0);
            shuffle_portably(p.order, p.rng);
            p.loss_sum = 0;
            p.seen = 0;
            p.epoch_seconds = 0;
        }
        recipe.begin_epoch(phase, fresh);
        const auto epoch_start = Clock::now();
        const double seconds_before = p.epoch_seconds;
        const double phase_seconds_before = clock.seconds[size_t(phase)];
        const int64_t phase_steps_before = clock.steps[size_t(phase)];
        const int64_t first_step = p.step_in_epoch;
        for (int64_t step = p.step_in_epoch; step < steps_per_epoch; ++step) {
            const double loss = recipe.step(p.order.data() + step * batch, p, total_steps);
            if (!std::isfinite(loss))
                throw Error("training diverged (loss " + std::to_string(loss) + " at step " + std::to_string(p.global_step + 1) +
                            "); " + recipe.divergence_advice());
            p.loss_sum += loss * double(batch);
            p.seen += batch;
            p.global_step += 1;
            p.step_in_epoch = step + 1;

            const double epoch_elapsed = seconds_since(epoch_start);
            clock.seconds[size_t(phase)] = phase_seconds_before + epoch_elapsed;
            clock.steps[size_t(phase)] = phase_steps_before + (step + 1 - first_step);
            if (control.on_step) {
                StepReport report;
                report.phase = recipe.phase_name(phase);
                report.epoch = p.epoch + 1;
                report.epochs = epochs;
                report.step = step + 1;
                report.steps = steps_per_epoch;
                report.loss = p.loss_sum / double(p.seen);
                report.images_per_second = double((step + 1 - first_step) * batch) / std::max(epoch_elapsed, 1e-9);
                auto left_in = [&](int q) {
                    return std::max<int64_t>(0, phase_begin[size_t(q) + 1] - std::max(p.global_step, phase_begin[size_t(q)]));
                };
                report.phase_eta_seconds = clock.seconds[size_t(phase)] / double(clock.steps[size_t(phase)]) * double(left_in(phase));
                report.eta_seconds = 0;
                for (int q = 0; q < phases; ++q) {
                    const int64_t left = left_in(q);
                    if (left == 0) continue;
                    if (clock.steps[size_t(q)] == 0) {
                        report.eta_seconds = -1;  // not measured yet
                        break;
                    }
                    report.eta_seconds += clock.seconds[size_t(q)] / double(clock.steps[size_t(q)]) * double(left);
                }
                control.on_step(report);
            }
            const bool asked = control.stop_requested && control.stop_requested->load();
            const bool limit = control.stop_after_steps > 0 && p.global_step >= control.stop_after_steps;
            if ((asked || limit) && p.global_step < total_steps) {
                p.epoch_seconds = seconds_before + epoch_elapsed;
                save_checkpoint(files, recipe, p);
                return {false, p.epoch, p.global_step};
            }
        }
        const double seconds = seconds_before + seconds_since(epoch_start);
        const double images_per_second = double(steps_per_epoch * batch) / std::max(seconds, 1e-9);
        p.epoch += 1;
        p.step_in_epoch = 0;
        nlohmann::json line = recipe.end_epoch(p, seconds, images_per_second);
        save_checkpoint(files, recipe, p);
        line["event"] = "epoch";
        line["epoch"] = p.epoch;
        line["epochs"] = epochs;
        line["step"] = p.global_step;
        line["seconds"] = seconds;
        append_metrics_line(files.metrics(), recipe.kind(), line);
        recipe.after_epoch();
    }
    recipe.finish();
    return {true, p.epoch, p.global_step};
}

void append_metrics_line(const std::string& path, const std::string& run_kind, const nlohmann::json& line) {
    std::error_code error;
    const bool fresh = !fs::exists(path, error);
    std::ofstream out(path, std::ios::app);
    if (fresh) out << nlohmann::json{{"format", "pupembed-metrics"}, {"version", 1}, {"run", run_kind}}.dump() << "\n";
    out << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    if (!out) throw Error(path, "cannot append metrics");
}

void start_run_folder(const std::string& run_dir, const std::string& format, int version, const nlohmann::json& options) {
    const fs::path dir(run_dir);
    std::error_code error;
    if (fs::exists(dir / "checkpoint.ckpt", error) || fs::exists(dir / "config.json", error))
        throw Error(run_dir, "already holds a run; continue it with --resume " + run_dir + ", or choose another --out");
    fs::create_directories(dir, error);
    if (error) throw Error(run_dir, "cannot create run folder: " + error.message());
    write_file_atomically((dir / "config.json").string(),
                          nlohmann::json{{"format", format}, {"version", version}, {"options", options}}.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

nlohmann::json read_run_options(const std::string& run_dir, const std::string& format, int newest_version) {
    const std::string path = (fs::path(run_dir) / "config.json").string();
    try {
        const auto config = parse_json_bounded(read_file(path), path);
        if (config.at("format") != format) throw Error(path, "is not a " + format + " run configuration");
        if (config.at("version").get<int>() > newest_version)
            throw Error(path, "was written by a newer pupembed (version " + config.at("version").dump() + ")");
        return config.at("options");
    } catch (const nlohmann::json::exception& e) {
        throw Error(path, std::string("damaged run configuration (") + e.what() + ")");
    }
}

}  // namespace pupembed
