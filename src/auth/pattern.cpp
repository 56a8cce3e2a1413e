#include "auth/pattern.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stdexcept>

namespace warren::auth {

struct Pattern::Compiled {
  pcre2_code* code = nullptr;
  pcre2_match_data* match = nullptr;
  ~Compiled() {
    pcre2_match_data_free(match);
    pcre2_code_free(code);
  }
};

namespace {

std::string message(int code) {
  PCRE2_UCHAR buf[256];
  pcre2_get_error_message(code, buf, sizeof buf);
  return reinterpret_cast<const char*>(buf);
}

pcre2_code* compile(const std::string& source, std::string* why) {
  const std::string& text = source.empty() ? std::string("^$") : source;
  int code = 0;
  PCRE2_SIZE at = 0;
  pcre2_code* re = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), 0, &code, &at, nullptr);
  if (!re && why) *why = message(code) + " at offset " + std::to_string(at);
  return re;
}

}  // namespace

Pattern::Pattern() : Pattern(std::string()) {}

Pattern::Pattern(std::string source) : source_(std::move(source)), re_(std::make_unique<Compiled>()) {
  std::string why;
  re_->code = compile(source_, &why);
  if (!re_->code) throw std::invalid_argument("invalid regular expression '" + source_ + "': " + why);
  pcre2_jit_compile(re_->code, PCRE2_JIT_COMPLETE);  // a speed-up where JIT exists; matching works without
  re_->match = pcre2_match_data_create_from_pattern(re_->code, nullptr);
}

Pattern::~Pattern() = default;
Pattern::Pattern(Pattern&&) noexcept = default;
Pattern& Pattern::operator=(Pattern&&) noexcept = default;

bool Pattern::matches(std::string_view name) const {
  const int rc = pcre2_match(re_->code, reinterpret_cast<PCRE2_SPTR>(name.data()), name.size(), 0, 0, re_->match,
                             nullptr);
  return rc >= 0;  // no match and errors (a match limit) alike refuse
}

std::optional<std::string> Pattern::error(const std::string& source) {
  std::string why;
  pcre2_code* re = compile(source, &why);
  if (!re) return why;
  pcre2_code_free(re);
  return std::nullopt;
}

}  // namespace warren::auth
