#!/usr/bin/env bash
# The whole test suite from a fresh checkout: dependencies, Release build + all tests, then the
# loader/tokenizer/engine/kernel tests again under AddressSanitizer + UndefinedBehaviorSanitizer.
# Every ISA-dependent test is one case per ISA; the cases of an ISA this CPU lacks are skipped
# with the reason (ctest lists them as "Skipped"). On an AVX-512 machine the Release suite runs a
# second time with BINQ_ISA_MAX=avx2, i.e. as an AVX2-only CPU would run it.
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
echo "== ISA paths of this machine (build/binq system-info) =="
build/binq system-info
ctest --test-dir build --output-on-failure -j2
if build/binq system-info | grep -q '^isa avx512: yes'; then
  echo "== again with AVX-512 masked (BINQ_ISA_MAX=avx2), as on an AVX2-only CPU =="
  BINQ_ISA_MAX=avx2 build/binq system-info
  BINQ_ISA_MAX=avx2 ctest --test-dir build --output-on-failure -j2
fi
