#include "auth/pattern.hpp"

#include <gtest/gtest.h>

namespace warren::auth {
namespace {

TEST(Pattern, SearchesUnlessAnchored) {
  EXPECT_TRUE(Pattern(".*").matches("anything"));
  EXPECT_TRUE(Pattern("orders").matches("eu.orders.v2"));  // re:run semantics: a search
  EXPECT_TRUE(Pattern("^amq\\.gen").matches("amq.gen-abc"));
  EXPECT_FALSE(Pattern("^amq\\.gen").matches("x.amq.gen"));
  EXPECT_TRUE(Pattern("^(orders|invoices)$").matches("invoices"));
  EXPECT_FALSE(Pattern("^(orders|invoices)$").matches("invoices2"));
}

TEST(Pattern, EmptyMatchesNoName) {
  EXPECT_FALSE(Pattern("").matches("q"));
  EXPECT_FALSE(Pattern().matches("amq.default"));
  EXPECT_EQ(Pattern("").source(), "");
}

TEST(Pattern, BadSyntaxIsRefusedWithAReason) {
  EXPECT_THROW(Pattern("(unclosed"), std::invalid_argument);
  EXPECT_TRUE(Pattern::error("[a-"));
  EXPECT_FALSE(Pattern::error("^a.*$"));
}

TEST(Pattern, NamesWithNulAndHighBytes) {
  std::string name("a\0b", 3);
  EXPECT_TRUE(Pattern("b$").matches(name));
  EXPECT_TRUE(Pattern("\\xff").matches("\xff"));
}

}  // namespace
}  // namespace warren::auth
