#!/usr/bin/env bash
# The whole test suite from a fresh checkout: dependencies, Release build + all tests, then the
# loader/tokenizer/engine/kernel tests again under AddressSanitizer + UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$jobs"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBINQ_SANITIZE=ON -DBINQ_BUILD_BENCH=OFF
cmake --build build-asan -j"$jobs" --target binq_tests_core binq_tests_io binq_tests_tokenizer binq_tests_model binq_tests_kernels
# OpenBLAS keeps thread-local buffers alive at exit; those are not our leaks.
export ASAN_OPTIONS=detect_leaks=0
ctest --test-dir build-asan -L 'core|io|tokenizer|model|kernels' --output-on-failure -j2
unset ASAN_OPTIONS
ctest --test-dir build --output-on-failure -j2
