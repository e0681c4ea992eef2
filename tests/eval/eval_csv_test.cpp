// CSV reader edge cases (MMLU files use quoting with embedded commas, newlines and quotes).
#include <gtest/gtest.h>

#include "binq/core/error.h"
#include "binq/eval/csv.h"

using binq::eval::CsvRow;
using binq::eval::parse_csv;

TEST(Csv, PlainFieldsAndLineEnds) {
  auto rows = parse_csv("a,b,c\r\nd,e,f\n", "t.csv");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], (CsvRow{"a", "b", "c"}));
  EXPECT_EQ(rows[1], (CsvRow{"d", "e", "f"}));
}

TEST(Csv, NoFinalNewlineAndEmptyLinesSkipped) {
  auto rows = parse_csv("a,b\n\n\nc,d", "t.csv");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1], (CsvRow{"c", "d"}));
}

TEST(Csv, QuotedCommaNewlineAndDoubledQuote) {
  auto rows = parse_csv("\"x, y\",\"line1\nline2\",\"say \"\"hi\"\"\",plain\n", "t.csv");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0], (CsvRow{"x, y", "line1\nline2", "say \"hi\"", "plain"}));
}

TEST(Csv, QuotedFieldAfterSeparatorAndEmptyFields) {
  auto rows = parse_csv("a,\"b\",,\"\"\n", "t.csv");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0], (CsvRow{"a", "b", "", ""}));
  // A trailing comma means one more empty field.
  auto trailing = parse_csv("a,\n", "t.csv");
  EXPECT_EQ(trailing[0], (CsvRow{"a", ""}));
}

TEST(Csv, QuoteInsideUnquotedFieldIsLiteral) {
  auto rows = parse_csv("5\" pipe,b\n", "t.csv");
  EXPECT_EQ(rows[0], (CsvRow{"5\" pipe", "b"}));
}

TEST(Csv, QuotedCrLfKeptInsideField) {
  auto rows = parse_csv("\"a\r\nb\",c\r\n", "t.csv");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0], (CsvRow{"a\r\nb", "c"}));
}

TEST(Csv, ErrorsNameFileAndLine) {
  try {
    parse_csv("a,b\nc,\"unterminated\n", "bad.csv");
    FAIL() << "expected an error";
  } catch (const binq::Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.csv:2"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_csv("\"a\"x,b\n", "bad.csv"), binq::Error);
}
