#!/usr/bin/env bash
# Installs binq's build and test dependencies from Debian 12 packages (run as root).
# libdnnl-dev (oneDNN) is for bench/kernels_bench only (its INT8 matmul baseline).
set -euo pipefail
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends \
  build-essential cmake pkg-config git \
  zlib1g-dev libopenblas-openmp-dev libsentencepiece-dev nlohmann-json3-dev libcli11-dev libfmt-dev \
  libgtest-dev libgmock-dev libbenchmark-dev \
  libdnnl-dev
