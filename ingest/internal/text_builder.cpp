#include "ingest/internal/text_builder.h"

#include "ingest/internal/encoding.h"

namespace fgraph::ingest::internal {

void TextBuilder::emit_pending() {
  if (!out_.empty() && pending_breaks_ > 0) {
    out_.append(static_cast<std::size_t>(pending_breaks_), '\n');
    line_has_text_ = false;
  } else if (pending_cell_sep_ && line_has_text_) {
    if (glue_next_) {
      glue_next_ = false;
    } else {
      cell_sep_pos_ = out_.size();
      out_ += " | ";
    }
  } else if (pending_space_ && line_has_text_) {
    out_.push_back(' ');
  }
  pending_breaks_ = 0;
  pending_space_ = false;
  pending_cell_sep_ = false;
}

void TextBuilder::before_text() {
  emit_pending();
  if (cell_open_ && cell_content_start_ == std::string::npos) cell_content_start_ = out_.size();
}

void TextBuilder::append(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  std::size_t n = s.size();
  for (std::size_t i = 0; i < n;) {
    unsigned char c = p[i];
    if (c < 0x80) {
      if (c <= 0x20 || c == 0x7F) {
        pending_space_ = true;
        ++i;
        continue;
      }
      // Copy a run of plain ASCII in one go.
      before_text();
      std::size_t j = i + 1;
      while (j < n && p[j] > 0x20 && p[j] < 0x7F) ++j;
      out_.append(s.data() + i, j - i);
      line_has_text_ = true;
      if (cell_depth_ > 0) row_has_text_ = true;
      i = j;
      continue;
    }
    // Decode one multi-byte code point (input is valid UTF-8).
    std::size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    if (i + len > n) len = n - i;
    char32_t cp = 0;
    if (len == 2) cp = ((c & 0x1F) << 6) | (p[i + 1] & 0x3F);
    else if (len == 3) cp = ((c & 0x0F) << 12) | ((p[i + 1] & 0x3F) << 6) | (p[i + 2] & 0x3F);
    else if (len == 4)
      cp = ((c & 0x07) << 18) | ((p[i + 1] & 0x3F) << 12) | ((p[i + 2] & 0x3F) << 6) |
           (p[i + 3] & 0x3F);
    std::size_t start = i;
    i += len;
    if (cp >= 0x80 && cp <= 0x9F) {
      char32_t mapped = cp1252_c1(static_cast<unsigned char>(cp));
      if (mapped == 0) { pending_space_ = true; continue; }
      before_text();
      append_utf8(out_, mapped);
      line_has_text_ = true;
      if (cell_depth_ > 0) row_has_text_ = true;
      continue;
    }
    bool space = cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
                 cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000 || cp == 0x85;
    if (space) { pending_space_ = true; continue; }
    bool invisible = cp == 0xAD || cp == 0x200B || cp == 0x200C || cp == 0x200D || cp == 0x2060 ||
                     cp == 0xFEFF;
    if (invisible) continue;
    before_text();
    out_.append(s.data() + start, len);
    line_has_text_ = true;
    if (cell_depth_ > 0) row_has_text_ = true;
  }
}

void TextBuilder::line_break() {
  if (cell_depth_ > 0) { pending_space_ = true; return; }
  if (pending_breaks_ < 1 && line_has_text_) pending_breaks_ = 1;
  pending_space_ = false;
}

void TextBuilder::paragraph_break() {
  if (cell_depth_ > 0) { pending_space_ = true; return; }
  if (!out_.empty()) pending_breaks_ = 2;
  pending_space_ = false;
}

void TextBuilder::begin_row() {
  if (cell_depth_ > 0) { pending_space_ = true; return; }
  line_break();
  row_has_text_ = false;
  glue_next_ = false;
}

void TextBuilder::end_row() {
  if (cell_depth_ > 0) { pending_space_ = true; return; }
  line_break();
  row_has_text_ = false;
  pending_cell_sep_ = false;
  glue_next_ = false;
}

void TextBuilder::begin_cell() {
  if (cell_depth_ == 0) {
    if (row_has_text_) pending_cell_sep_ = true;
    cell_open_ = true;
    cell_content_start_ = std::string::npos;
    cell_sep_pos_ = std::string::npos;
  }
  ++cell_depth_;
}

void TextBuilder::end_cell() {
  if (cell_depth_ > 0) --cell_depth_;
  pending_space_ = pending_space_ && cell_depth_ > 0;
  if (cell_depth_ > 0 || !cell_open_) return;
  cell_open_ = false;
  if (cell_content_start_ == std::string::npos) return;
  std::string_view content(out_.data() + cell_content_start_, out_.size() - cell_content_start_);
  if (content == "$") {
    glue_next_ = true;
  } else if ((content == "%" || content == ")" || content == "%)" || content == ")%") &&
             cell_sep_pos_ != std::string::npos && cell_sep_pos_ + 3 == cell_content_start_) {
    out_.erase(cell_sep_pos_, 3);
  }
}

std::string TextBuilder::finish() { return std::move(out_); }

}  // namespace fgraph::ingest::internal
