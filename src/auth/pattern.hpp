#pragma once
// A permission's regular expression, with RabbitMQ's meaning: PCRE syntax
// (RabbitMQ matches with Erlang's re, which is PCRE; so is this, through
// PCRE2), searched for anywhere in the name unless anchored ("^amq\.gen"
// matches names that start so; "orders" matches any name containing it),
// and "" a synonym for "^$" (which no resource name matches).
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace warren::auth {

class Pattern {
 public:
  // An empty pattern: matches nothing.
  Pattern();
  // Throws std::invalid_argument with PCRE2's message when `source` is not
  // a valid regular expression.
  explicit Pattern(std::string source);
  ~Pattern();
  Pattern(Pattern&&) noexcept;
  Pattern& operator=(Pattern&&) noexcept;

  const std::string& source() const { return source_; }
  bool matches(std::string_view name) const;

  // PCRE2's complaint about `source`, or nullopt when it compiles.
  static std::optional<std::string> error(const std::string& source);

 private:
  struct Compiled;
  std::string source_;
  std::unique_ptr<Compiled> re_;
};

}  // namespace warren::auth
