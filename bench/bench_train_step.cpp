// Stage-1 training throughput: one AdamW step of a trunk + the pool-bn-linear head over 120
// classes, batch 64 (argument: input size), channels_last, all cores; the whole network
// (fine-tuning) and the head alone on a frozen trunk (warm-up), for SqueezeNet 1.1 and MobileNetV2.
//   build/bench/bench_train_step [--benchmark_min_time=5] [--benchmark_filter=SqueezeNet]
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "model/network.hpp"
#include "pupembed/model/model.hpp"
#include "pupembed/model/threads.hpp"

namespace {

void run_step(benchmark::State& state, const std::string& backbone, bool whole_network, bool channels_last = true) {
    const int threads = pupembed::set_thread_count(0);
    const int64_t batch = 64;
    const int64_t size = state.range(0);
    pupembed::ModelInfo info;
    info.backbone = backbone;
    info.classifier = pupembed::LinearClassifierHeadImpl::kKind;
    for (int i = 0; i < 120; ++i) {
        info.class_ids.push_back("c" + std::to_string(i));
        info.class_names.push_back("c" + std::to_string(i));
    }
    pupembed::Model model = pupembed::create_model(info);
    if (channels_last) pupembed::to_channels_last(*model.network);
    auto& head = dynamic_cast<pupembed::LinearClassifierHeadImpl&>(*model.network->classifier);
    model.network->train();
    if (!whole_network) model.network->trunk->eval();
    torch::optim::AdamW optimizer(whole_network ? model.network->parameters() : head.parameters(),
                                  torch::optim::AdamWOptions(1e-4));
    torch::Tensor input = torch::randn({batch, 3, size, size});
    if (channels_last) input = input.contiguous(at::MemoryFormat::ChannelsLast);
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

void BM_SqueezeNet_TrainStep_Finetune(benchmark::State& state) { run_step(state, "squeezenet1.1", true); }
void BM_SqueezeNet_TrainStep_FrozenTrunk(benchmark::State& state) { run_step(state, "squeezenet1.1", false); }
void BM_MobileNetV2_TrainStep_Finetune(benchmark::State& state) { run_step(state, "mobilenetv2", true); }
void BM_MobileNetV2_TrainStep_Finetune_NCHW(benchmark::State& state) { run_step(state, "mobilenetv2", true, false); }
void BM_MobileNetV2_TrainStep_FrozenTrunk(benchmark::State& state) { run_step(state, "mobilenetv2", false); }

}  // namespace

BENCHMARK(BM_SqueezeNet_TrainStep_Finetune)->Arg(128)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SqueezeNet_TrainStep_FrozenTrunk)->Arg(128)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_MobileNetV2_TrainStep_Finetune)->Arg(128)->Arg(160)->Arg(192)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_MobileNetV2_TrainStep_Finetune_NCHW)->Arg(160)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_MobileNetV2_TrainStep_FrozenTrunk)->Arg(160)->Unit(benchmark::kMillisecond)->UseRealTime();
