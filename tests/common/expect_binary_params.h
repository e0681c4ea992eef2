// Field-by-field equality of two W(1+1) layers, so a failure names the field that differs.
#pragma once
#include <gtest/gtest.h>

#include "binq/quant/binary_layer.h"

namespace binq::test {

inline void expect_same_binary_params(const BinaryLinearParams& a, const BinaryLinearParams& b) {
  EXPECT_EQ(a.out_features, b.out_features);
  EXPECT_EQ(a.in_features, b.in_features);
  EXPECT_EQ(a.n_outliers, b.n_outliers);
  EXPECT_EQ(a.block_size, b.block_size);
  EXPECT_EQ(a.perm, b.perm);
  EXPECT_EQ(a.sign, b.sign);
  EXPECT_EQ(a.bitmap, b.bitmap);
  EXPECT_EQ(a.lo0, b.lo0);
  EXPECT_EQ(a.d0, b.d0);
  EXPECT_EQ(a.lo1, b.lo1);
  EXPECT_EQ(a.d1, b.d1);
  EXPECT_EQ(a.outlier_w, b.outlier_w);
  EXPECT_EQ(a.outlier_scale, b.outlier_scale);
}

}  // namespace binq::test
