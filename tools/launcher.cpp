// `pupembed`: a tiny launcher that sets OMP_WAIT_POLICY=passive and GOMP_SPINCOUNT=10000 (unless
// the caller set them) and runs `pupembed-bin` from the same folder. OpenMP reads them when it
// loads, before main, so the real program cannot set them for itself without restarting, which
// would load LibTorch twice (0.7 s). With OpenMP's default policy its idle threads spin for about
// 3 ms and take the cores that image decoding and OpenBLAS need; with no spinning at all, every
// one of the network's parallel steps waits for its threads to wake (measured: 3 to 5% slower
// `embed`); a spin of about 0.1 ms keeps the best of both.
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unistd.h>

int main(int, char** argv) {
    char self[PATH_MAX];
    const ssize_t length = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (length <= 0) {
        std::fprintf(stderr, "pupembed: error: cannot find my own location: %s\n", std::strerror(errno));
        return 1;
    }
    self[length] = '\0';
    std::string program(self);
    program = program.substr(0, program.rfind('/') + 1) + "pupembed-bin";
    ::setenv("OMP_WAIT_POLICY", "passive", 0);
    ::setenv("GOMP_SPINCOUNT", "10000", 0);
    ::execv(program.c_str(), argv);
    std::fprintf(stderr, "pupembed: error: cannot run %s: %s\n", program.c_str(), std::strerror(errno));
    return 1;
}
