// Stage-1 training throughput: one AdamW step of SqueezeNet 1.1 + the pool-bn-linear head over
// 120 classes, batch 64 at 128 x 128 (override with PUPEMBED_BENCH_SIZE), channels_last, all
// cores; the whole network (fine-tuning) and the head alone on a frozen trunk (warm-up).
//   build/bench/bench_train_step [--benchmark_min_time=5]
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <cstdlib>

#include "pupembed/model.hpp"
#include "pupembed/runtime.hpp"  // set_thread_count

namespace {

void run_step(benchmark::State& state, bool whole_network) {
    const int threads = pupembed::set_thread_count(0);
    const int64_t batch = 64;
    const char* size_text = std::getenv("PUPEMBED_BENCH_SIZE");
    const int64_t size = size_text ? std::atoi(size_text) : 128;
    pupembed::ModelInfo info;
    info.classifier = pupembed::LinearClassifierHeadImpl::kKind;
    for (int i = 0; i < 120; ++i) {
        info.class_ids.push_back("c" + std::to_string(i));
        info.class_names.push_back("c" + std::to_string(i));
    }
    pupembed::Model model = pupembed::create_model(info);
    pupembed::to_channels_last(*model.network);
    auto& head = dynamic_cast<pupembed::LinearClassifierHeadImpl&>(*model.network->classifier);
    model.network->train();
    if (!whole_network) model.network->trunk->eval();
    torch::optim::AdamW optimizer(whole_network ? model.network->parameters() : head.parameters(),
                                  torch::optim::AdamWOptions(1e-4));
    const torch::Tensor input = torch::randn({batch, 3, size, size}).contiguous(at::MemoryFormat::ChannelsLast);
    const torch::Tensor targets = torch::randint(0, 120, {batch}, torch::kInt64);
    auto step = [&] {
        torch::Tensor logits;
        if (whole_network) {
            logits = model.network->logits(input);
        } else {
            torch::Tensor pooled;
            {
                torch::NoGradGuard frozen;
                pooled = pupembed::global_average_pool(model.network->trunk->forward(input));
            }
            logits = head.forward_pooled(pooled);
        }
        const torch::Tensor loss = torch::nn::functional::cross_entropy(logits, targets);
        optimizer.zero_grad();
        loss.backward();
        optimizer.step();
        return loss.item<float>();
    };
    step();  // warm-up
    for (auto _ : state) benchmark::DoNotOptimize(step());
    state.counters["images/s"] = benchmark::Counter(double(batch) * double(state.iterations()), benchmark::Counter::kIsRate);
    state.counters["threads"] = threads;
    state.counters["size"] = double(size);
}

void BM_TrainStep_Finetune(benchmark::State& state) { run_step(state, true); }
void BM_TrainStep_FrozenTrunk(benchmark::State& state) { run_step(state, false); }

}  // namespace

BENCHMARK(BM_TrainStep_Finetune)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_TrainStep_FrozenTrunk)->Unit(benchmark::kMillisecond)->UseRealTime();
