#include "binq/eval/csv.h"

#include "binq/core/error.h"
#include "binq/core/mapped_file.h"

namespace binq::eval {

std::vector<CsvRow> parse_csv(std::string_view text, const std::string& source) {
  std::vector<CsvRow> rows;
  CsvRow row;
  std::string field;
  size_t i = 0;
  int line = 1;              // current line (1-based), for messages
  bool at_field_start = true;  // nothing of the current field consumed yet
  bool record_has_data = false;  // distinguishes an empty line from a record of one empty field
  auto end_field = [&] {
    row.push_back(std::move(field));
    field.clear();
    at_field_start = true;
  };
  auto end_record = [&] {
    if (record_has_data) {
      end_field();
      rows.push_back(std::move(row));
    }
    row.clear();
    field.clear();
    at_field_start = true;
    record_has_data = false;
  };
  while (i < text.size()) {
    char ch = text[i];
    if (ch == '"' && at_field_start) {
      // Quoted field: runs to the matching quote; "" inside is a literal quote.
      record_has_data = true;
      at_field_start = false;
      int open_line = line;
      ++i;
      bool closed = false;
      while (i < text.size()) {
        char q = text[i];
        if (q == '"') {
          if (i + 1 < text.size() && text[i + 1] == '"') {
            field.push_back('"');
            i += 2;
            continue;
          }
          ++i;
          closed = true;
          break;
        }
        if (q == '\n') ++line;
        field.push_back(q);
        ++i;
      }
      if (!closed) fail("{}:{}: unterminated quoted CSV field (expected a closing '\"')", source, open_line);
      // After the closing quote only a separator or a record end may follow.
      if (i < text.size() && text[i] != ',' && text[i] != '\n' && text[i] != '\r')
        fail("{}:{}: unexpected character '{}' after a closing quote (expected ',' or end of line)",
             source, line, text[i]);
      continue;
    }
    if (ch == ',') {
      record_has_data = true;
      end_field();
      ++i;
      continue;
    }
    if (ch == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      ++i;  // the '\n' ends the record
      continue;
    }
    if (ch == '\n') {
      end_record();
      ++line;
      ++i;
      continue;
    }
    record_has_data = true;
    at_field_start = false;
    field.push_back(ch);
    ++i;
  }
  end_record();
  return rows;
}

std::vector<CsvRow> read_csv_file(const std::string& path) {
  return parse_csv(read_text_file(path), path);
}

}  // namespace binq::eval
