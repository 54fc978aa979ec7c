// ingest/internal: the one place where document text is laid out and normalised.
//
// Owns the text normalisation every format shares (documented in ingest/ingest.h):
// whitespace runs (including U+00A0 and other Unicode spaces) collapse to one space
// within a line; lines carry no leading or trailing spaces; paragraphs are separated by
// exactly one blank line; table rows are one line with non-empty cells joined by " | ";
// soft hyphens and zero-width characters are deleted; C1 controls U+0080..U+009F (what
// libxml2 makes of `&#146;`) are mapped through Windows-1252; other control characters
// become spaces. Appending is amortised O(1) per byte.
// Threading: a single-threaded value.
#pragma once

#include <string>
#include <string_view>

namespace fgraph::ingest::internal {

class TextBuilder {
 public:
  // Appends UTF-8 text (must be valid UTF-8; libxml2 output and decoded buffers are).
  void append(std::string_view utf8);
  // Ends the current line (no effect at the start of a line).
  void line_break();
  // Ends the current paragraph: the next text starts after one blank line.
  void paragraph_break();
  // Table layout. Inside a cell, line and paragraph breaks become spaces so that a row
  // stays on one line; empty cells leave no separator. A cell holding only "$" is glued
  // to the next cell and one holding only "%", ")", "%)" or ")%" to the previous one, so that
  // EDGAR's split amounts read "$391,035" and "(4)%".
  void begin_row();
  void end_row();
  void begin_cell();
  void end_cell();
  // Reserves room for about `bytes` of text (saves the copies of growing a large text).
  void reserve(std::size_t bytes) { out_.reserve(bytes); }
  // True when nothing visible has been appended yet.
  bool empty() const { return out_.empty(); }
  // The finished text; the builder is spent afterwards.
  std::string finish();

 private:
  void emit_pending();
  void before_text();
  std::string out_;
  int pending_breaks_ = 0;       // 0 none, 1 newline, 2 blank line
  bool pending_space_ = false;
  bool line_has_text_ = false;
  int cell_depth_ = 0;
  bool row_has_text_ = false;
  bool pending_cell_sep_ = false;
  bool cell_open_ = false;                 // inside an outermost cell
  std::size_t cell_content_start_ = 0;     // where the open cell's text starts, or npos
  std::size_t cell_sep_pos_ = 0;           // where its " | " starts, or npos
  bool glue_next_ = false;                 // the previous cell was "$"
};

}  // namespace fgraph::ingest::internal
