# Runs one libFuzzer target for SECONDS over a scratch copy of its seed corpus (new inputs go to
# the scratch folder, never into the seeds) and fails on a crash, a leak, a timeout or a report.
#   cmake -DTARGET=... -DCORPUS=... -DWORK=... -DSECONDS=20 -P run_fuzz_target.cmake
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}/corpus")
execute_process(
  COMMAND "${TARGET}" "${WORK}/corpus" "${CORPUS}" -max_total_time=${SECONDS} -timeout=10 -rss_limit_mb=2560
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
