# What keeps pupembed's build short (issue 28; the figures are in the README, "Developing"):
#  - ccache, when installed, under every compile. Paths below the checkout are hashed relative to
#    it (base_dir), so a fresh clone elsewhere (CI's) finds the compiles of the last one; the
#    sloppiness is what ccache needs to cache compiles that use a precompiled header.
#  - "Unity" builds of the library's layers and of the command (CMakeLists.txt): LibTorch's
#    headers (9,000 files, 10 s of parsing) and CLI11's and the JSON library's code (most of each
#    command file's 7 s) are compiled once per batch of files rather than once per file.
#  - One precompiled LibTorch header for the test programs that use LibTorch
#    (pupembed_precompile_torch; tests/CMakeLists.txt). Making one costs 22-24 s, so it pays only
#    where many files share it: not for the layers, whose unity batches parse LibTorch 5 times in all.
option(PUPEMBED_CCACHE "Compile through ccache when it is installed" ON)
option(PUPEMBED_PRECOMPILED_HEADERS "Precompile LibTorch's headers" ON)

find_program(PUPEMBED_CCACHE_PROGRAM ccache)
if(PUPEMBED_CCACHE AND PUPEMBED_CCACHE_PROGRAM)
  set(launcher "${CMAKE_COMMAND}" -E env "CCACHE_BASEDIR=${PROJECT_SOURCE_DIR}" CCACHE_NOHASHDIR=1
      "CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime" "${PUPEMBED_CCACHE_PROGRAM}")
  set(CMAKE_C_COMPILER_LAUNCHER ${launcher})
  set(CMAKE_CXX_COMPILER_LAUNCHER ${launcher})
  message(STATUS "Compiling through ccache (${PUPEMBED_CCACHE_PROGRAM})")
endif()

# Precompiles LibTorch's headers for TARGET (every source of it then starts from them; a source
# that needs none of LibTorch can be left out with SKIP_PRECOMPILE_HEADERS).
function(pupembed_precompile_torch target)
  if(PUPEMBED_PRECOMPILED_HEADERS)
    target_precompile_headers(${target} PRIVATE <torch/torch.h>)
  endif()
endfunction()
