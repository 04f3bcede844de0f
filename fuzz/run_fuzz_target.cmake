# Runs one libFuzzer target for SECONDS over its seed corpus and the inputs that once crashed it
# (fuzz/regressions/TARGET, committed), writing new inputs to a scratch folder, never into the
# seeds; fails on a crash, a leak, a timeout or a sanitizer report.
#   cmake -DTARGET=... -DCORPUS=... -DREGRESSIONS=... -DWORK=... -DSECONDS=20 -P run_fuzz_target.cmake
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}/corpus")
set(inputs "${CORPUS}")
if(IS_DIRECTORY "${REGRESSIONS}")
  list(APPEND inputs "${REGRESSIONS}")
endif()
execute_process(
  COMMAND "${TARGET}" "${WORK}/corpus" ${inputs} -max_total_time=${SECONDS} -timeout=10 -rss_limit_mb=2560
          -print_final_stats=1 -artifact_prefix=${WORK}/
  RESULT_VARIABLE result
  OUTPUT_VARIABLE output
  ERROR_VARIABLE output)
string(REGEX MATCHALL "stat::[a-z_]+: *[0-9]+" stats "${output}")
string(REGEX MATCH "cov: [0-9]+ ft: [0-9]+" coverage "${output}")
message(STATUS "${TARGET}: ${coverage}; ${stats}")
if(NOT result EQUAL 0)
  message(FATAL_ERROR "${TARGET} found a problem (exit ${result}); the input is in ${WORK}:\n${output}")
endif()
