// Minimal RFC 4180 CSV reader for the MMLU files: fields separated by commas, a field may be
// quoted with '"', quoted fields may hold commas, newlines and doubled quotes ("").
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace binq::eval {

using CsvRow = std::vector<std::string>;

// Parses the whole text. `source` names the file in error messages (with the line number of the
// offending record). Accepts "\n" and "\r\n" record ends; a final newline is optional; empty
// lines between records are skipped. Fails on an unterminated quoted field or a stray quote
// character after a closing quote.
std::vector<CsvRow> parse_csv(std::string_view text, const std::string& source);

// Reads and parses a file.
std::vector<CsvRow> read_csv_file(const std::string& path);

}  // namespace binq::eval
