// Trunk inference throughput: batch 64 at 128 x 128 (override with PUPEMBED_BENCH_SIZE), all
// cores, channels_last, InferenceMode. Reports images/s as a counter.
//   build/bench/bench_trunk [--benchmark_min_time=5]
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <cstdlib>

#include "pupembed/network.hpp"
#include "pupembed/runtime.hpp"  // set_thread_count

namespace {

int bench_size() {
    const char* size = std::getenv("PUPEMBED_BENCH_SIZE");
    return size ? std::atoi(size) : 128;
}

void run_trunk(benchmark::State& state, const std::string& backbone, bool channels_last) {
    const int threads = pupembed::set_thread_count(static_cast<int>(state.range(0)));
    const int64_t batch = 64;
    const int64_t size = bench_size();
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

}  // namespace

BENCHMARK(BM_SqueezeNetTrunk_ChannelsLast)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SqueezeNetTrunk_NCHW)->Arg(0)->Unit(benchmark::kMillisecond)->UseRealTime();
