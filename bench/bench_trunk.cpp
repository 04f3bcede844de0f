// Trunk inference throughput: batch 64, InferenceMode, each backbone at the input sizes used
// (arguments: threads, 0 for all cores; input size). Reports images/s as a counter.
//   build/bench/bench_trunk [--benchmark_min_time=5] [--benchmark_filter=MobileNetV2]
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "model/network.hpp"
#include "pupembed/model/threads.hpp"

namespace {

void run_trunk(benchmark::State& state, const std::string& backbone, bool channels_last) {
    const int threads = pupembed::set_thread_count(static_cast<int>(state.range(0)));
    const int64_t batch = 64;
    const int64_t size = state.range(1);
    auto trunk = pupembed::make_trunk(backbone);
    trunk->eval();
    torch::Tensor input = torch::randn({batch, 3, size, size});
    if (channels_last) {
        pupembed::to_channels_last(*trunk);
        input = input.contiguous(at::MemoryFormat::ChannelsLast);
    }
    torch::InferenceMode inference;
    trunk->forward(input);  // warm-up
    for (auto _ : state) benchmark::DoNotOptimize(trunk->forward(input));
    state.counters["images/s"] = benchmark::Counter(double(batch) * double(state.iterations()), benchmark::Counter::kIsRate);
    state.counters["threads"] = threads;
    state.counters["size"] = double(size);
}

void BM_SqueezeNetTrunk_ChannelsLast(benchmark::State& state) { run_trunk(state, "squeezenet1.1", true); }
void BM_SqueezeNetTrunk_NCHW(benchmark::State& state) { run_trunk(state, "squeezenet1.1", false); }
void BM_MobileNetV2Trunk_ChannelsLast(benchmark::State& state) { run_trunk(state, "mobilenetv2", true); }
void BM_MobileNetV2Trunk_NCHW(benchmark::State& state) { run_trunk(state, "mobilenetv2", false); }
void BM_ResNet50Trunk_ChannelsLast(benchmark::State& state) { run_trunk(state, "resnet50", true); }
void BM_ResNet50Trunk_NCHW(benchmark::State& state) { run_trunk(state, "resnet50", false); }

}  // namespace

BENCHMARK(BM_SqueezeNetTrunk_ChannelsLast)->Args({0, 128})->Args({1, 128})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SqueezeNetTrunk_NCHW)->Args({0, 128})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_MobileNetV2Trunk_ChannelsLast)
    ->Args({0, 128})->Args({0, 160})->Args({0, 192})->Args({0, 224})->Args({1, 160})
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_MobileNetV2Trunk_NCHW)->Args({0, 160})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ResNet50Trunk_ChannelsLast)->Args({0, 160})->Args({0, 224})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ResNet50Trunk_NCHW)->Args({0, 224})->Unit(benchmark::kMillisecond)->UseRealTime();
