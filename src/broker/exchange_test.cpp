// Exchanges: topic and headers matching, bindings, routing by type.
#include "broker/exchange.hpp"

#include <gtest/gtest.h>

#include "broker/test_util.hpp"

namespace warren::broker {

void PrintTo(const Destination& d, std::ostream* os) { *os << (d.is_exchange ? "exchange " : "queue ") << d.name; }

namespace {

using namespace test;
using Dests = std::vector<Destination>;

Destination Q(std::string n) { return {std::move(n), false}; }
Destination X(std::string n) { return {std::move(n), true}; }

struct TopicCase {
  const char* pattern;
  const char* key;
  bool match;
};

TEST(Topic, MatchesLikeRabbitMQ) {
  const TopicCase cases[] = {
      {"a.b.c", "a.b.c", true},   {"a.b.c", "a.b", false},    {"a.b", "a.b.c", false},
      {"a.*.c", "a.b.c", true},   {"a.*.c", "a.c", false},    {"a.*.c", "a.b.b.c", false},
      {"a.*.c", "a..c", true},    // '*' matches an empty word
      {"#", "", true},            {"#", "a", true},           {"#", "a.b.c", true},
      {"#", "..", true},          {"a.#", "a", true},         {"a.#", "a.b.c", true},
      {"a.#", "b.a", false},      {"a.#", "ab", false},       {"#.c", "c", true},
      {"#.c", "a.b.c", true},     {"#.c", "a.b.c.d", false},  {"#.c", "c.c", true},
      {"*", "a", true},           {"*", "", false},           {"*", "a.b", false},
      {"*", ".", false},          {"", "", true},             {"", "a", false},
      {"a", "", false},           {"a..b", "a..b", true},     {"a..b", "a.b", false},
      {"a.*.b", "a..b", true},    {"a.#.b", "a.b", true},     {"a.#.b", "a.x.y.b", true},
      {"a.#.b", "a.x.y.c", false}, {"#.#", "", true},         {"#.#", "a.b", true},
      {"*.#", "", false},         {"*.#", "a", true},         {"#.*", "a.b.c", true},
      {"*.*", "a", false},        {"a.#.#.c", "a.c", true},   {"#.a.#", "b.a.b", true},
      {"#.a.#", "b.b", false},    {"a.b.#", "a.b", true},     {"*.b.#", "x.b", true},
      {"a*", "ab", false},        {"a*", "a*", true},         {"#", "#", true},
      {"a.#", "a.", true},        {"a.*", "a.", true},        {".", ".", true},
      {".", "", false},           {"#.b.#.d", "a.b.c.b.x.d", true},
  };
  for (const TopicCase& c : cases)
    EXPECT_EQ(topic_matches(c.pattern, c.key), c.match) << "pattern '" << c.pattern << "' key '" << c.key << "'";
}

TEST(Headers, AllNeedsEveryNonXKeyWithAnEqualValue) {
  Table b{{"x-match", "all"}, {"a", 1}, {"b", "two"}};
  Table both{{"b", "two"}, {"a", Int{1, IntKind::U8}}, {"c", "extra"}};
  EXPECT_TRUE(headers_match(b, &both));
  Table one{{"a", 1}};
  EXPECT_FALSE(headers_match(b, &one));
  Table wrong{{"a", 1}, {"b", "three"}};
  EXPECT_FALSE(headers_match(b, &wrong));
  EXPECT_FALSE(headers_match(b, nullptr));
}

TEST(Headers, AllIsTheDefaultAndAnUnknownModeActsAsAll) {
  Table b{{"a", 1}, {"b", 2}};
  Table one{{"a", 1}};
  Table both{{"a", 1}, {"b", 2}};
  EXPECT_FALSE(headers_match(b, &one));
  EXPECT_TRUE(headers_match(b, &both));
  Table odd{{"x-match", 7}, {"a", 1}, {"b", 2}};
  EXPECT_FALSE(headers_match(odd, &one));
  EXPECT_TRUE(headers_match(odd, &both));
}

TEST(Headers, AnyNeedsOneMatchingKey) {
  Table b{{"x-match", "any"}, {"a", 1}, {"b", 2}};
  Table one{{"b", 2}};
  Table none{{"a", 5}, {"c", 1}};
  EXPECT_TRUE(headers_match(b, &one));
  EXPECT_FALSE(headers_match(b, &none));
  EXPECT_FALSE(headers_match(b, nullptr));
}

TEST(Headers, XKeysAreIgnoredUnlessTheModeSaysWithX) {
  Table all{{"x-match", "all"}, {"x-tag", "t"}, {"a", 1}};
  Table msg_no_x{{"a", 1}};
  EXPECT_TRUE(headers_match(all, &msg_no_x));
  Table all_x{{"x-match", "all-with-x"}, {"x-tag", "t"}, {"a", 1}};
  EXPECT_FALSE(headers_match(all_x, &msg_no_x));
  Table msg_x{{"a", 1}, {"x-tag", "t"}};
  EXPECT_TRUE(headers_match(all_x, &msg_x));  // x-match itself is never required

  Table any{{"x-match", "any"}, {"x-tag", "t"}};
  EXPECT_FALSE(headers_match(any, &msg_x));  // no non-x key: nothing can match
  Table any_x{{"x-match", "any-with-x"}, {"x-tag", "t"}, {"b", 2}};
  EXPECT_TRUE(headers_match(any_x, &msg_x));
  EXPECT_FALSE(headers_match(any_x, &msg_no_x));
}

TEST(Headers, AVoidBindingValueOnlyAsksForPresence) {
  Table b{{"x-match", "all"}, {"flag", Value()}};
  Table present{{"flag", "anything"}};
  Table absent{{"other", 1}};
  EXPECT_TRUE(headers_match(b, &present));
  EXPECT_FALSE(headers_match(b, &absent));
  Table any{{"x-match", "any"}, {"flag", Value()}, {"a", 1}};
  EXPECT_TRUE(headers_match(any, &present));
  // A void header value equals only a void binding value.
  Table b2{{"a", 1}};
  Table void_header{{"a", Value()}};
  EXPECT_FALSE(headers_match(b2, &void_header));
}

TEST(Headers, ValuesCompareLooselyLikeErlang) {
  Table b{{"n", 1}, {"s", "text"}};
  Table as_long_and_binary{{"n", int64_t{1}}, {"s", Binary{"text"}}};
  EXPECT_TRUE(headers_match(b, &as_long_and_binary));
  Table as_float{{"n", 1.0}, {"s", "text"}};
  EXPECT_TRUE(headers_match(b, &as_float));
  Table as_string{{"n", "1"}, {"s", "text"}};
  EXPECT_FALSE(headers_match(b, &as_string));
}

TEST(Headers, WithOnlyXMatchAllMatchesEverythingAndAnyNothing) {
  Table all{{"x-match", "all"}};
  Table any{{"x-match", "any"}};
  Table h{{"a", 1}};
  EXPECT_TRUE(headers_match(all, &h));
  EXPECT_TRUE(headers_match(all, nullptr));
  EXPECT_FALSE(headers_match(any, &h));
}

TEST(Exchange, TypesParseAndPrint) {
  EXPECT_EQ(parse_exchange_type("direct"), ExchangeType::Direct);
  EXPECT_EQ(parse_exchange_type("fanout"), ExchangeType::Fanout);
  EXPECT_EQ(parse_exchange_type("topic"), ExchangeType::Topic);
  EXPECT_EQ(parse_exchange_type("headers"), ExchangeType::Headers);
  EXPECT_EQ(parse_exchange_type("Direct"), std::nullopt);
  EXPECT_EQ(parse_exchange_type("x-delayed-message"), std::nullopt);
  for (auto t : {ExchangeType::Direct, ExchangeType::Fanout, ExchangeType::Topic, ExchangeType::Headers})
    EXPECT_EQ(parse_exchange_type(to_string(t)), t);
}

TEST(Exchange, BindIsIdempotentAndUnbindExact) {
  Exchange x({"x", ExchangeType::Direct});
  EXPECT_FALSE(x.has_bindings());
  EXPECT_TRUE(x.bind({Q("q"), "k", {}}));
  EXPECT_FALSE(x.bind({Q("q"), "k", {}}));
  EXPECT_TRUE(x.bind({Q("q"), "k", {{"a", 1}}}));  // other arguments: another binding
  EXPECT_TRUE(x.bind({X("q"), "k", {}}));          // an exchange of the same name: another one
  EXPECT_EQ(x.bindings().size(), 3u);
  EXPECT_FALSE(x.unbind({Q("q"), "other", {}}));
  EXPECT_TRUE(x.unbind({Q("q"), "k", {}}));
  EXPECT_FALSE(x.unbind({Q("q"), "k", {}}));
  EXPECT_EQ(x.bindings().size(), 2u);
  EXPECT_TRUE(x.unbind_all(Q("q")));
  EXPECT_FALSE(x.unbind_all(Q("q")));
  EXPECT_EQ(x.bindings().size(), 1u);
  EXPECT_TRUE(x.has_bindings());
}

TEST(Exchange, DirectRoutesByKeyAndKeepsItsIndexAcrossUnbinds) {
  Exchange x({"x", ExchangeType::Direct});
  x.bind({Q("q1"), "a", {}});
  x.bind({Q("q2"), "b", {}});
  x.bind({Q("q3"), "a", {}});
  x.bind({X("x2"), "b", {}});
  Dests out;
  x.route(*msg("m", "a"), out);
  std::sort(out.begin(), out.end(), [](auto& l, auto& r) { return l.name < r.name; });
  EXPECT_EQ(out, (Dests{Q("q1"), Q("q3")}));
  x.unbind({Q("q1"), "a", {}});
  out.clear();
  x.route(*msg("m", "b"), out);
  std::sort(out.begin(), out.end(), [](auto& l, auto& r) { return l.name < r.name; });
  EXPECT_EQ(out, (Dests{Q("q2"), X("x2")}));
  out.clear();
  x.route(*msg("m", "a"), out);
  EXPECT_EQ(out, (Dests{Q("q3")}));
  out.clear();
  x.route(*msg("m", "zzz"), out);
  EXPECT_TRUE(out.empty());
}

TEST(Exchange, FanoutRoutesEverywhere) {
  Exchange x({"x", ExchangeType::Fanout});
  x.bind({Q("q1"), "a", {}});
  x.bind({Q("q2"), "", {}});
  Dests out;
  x.route(*msg("m", "whatever"), out);
  EXPECT_EQ(out, (Dests{Q("q1"), Q("q2")}));
}

TEST(Exchange, TopicRoutesByPattern) {
  Exchange x({"x", ExchangeType::Topic});
  x.bind({Q("stocks"), "stock.#", {}});
  x.bind({Q("usd"), "*.usd.*", {}});
  x.bind({Q("all"), "#", {}});
  Dests out;
  x.route(*msg("m", "stock.usd.nyse"), out);
  EXPECT_EQ(out, (Dests{Q("stocks"), Q("usd"), Q("all")}));
  out.clear();
  x.route(*msg("m", "bond.eur.x"), out);
  EXPECT_EQ(out, (Dests{Q("all")}));
}

TEST(Exchange, HeadersRoutesByMessageHeaders) {
  Exchange x({"x", ExchangeType::Headers});
  x.bind({Q("pdf"), "", {{"x-match", "all"}, {"format", "pdf"}, {"type", "report"}}});
  x.bind({Q("any"), "", {{"x-match", "any"}, {"format", "pdf"}, {"type", "log"}}});
  Dests out;
  x.route(*with_headers("m", {{"format", "pdf"}, {"type", "report"}}), out);
  EXPECT_EQ(out, (Dests{Q("pdf"), Q("any")}));
  out.clear();
  x.route(*with_headers("m", {{"type", "log"}}), out);
  EXPECT_EQ(out, (Dests{Q("any")}));
  out.clear();
  x.route(*msg("no headers"), out);
  EXPECT_TRUE(out.empty());
}

TEST(Exchange, AlternateExchangeComesFromItsArguments) {
  Exchange plain({"x", ExchangeType::Direct});
  EXPECT_EQ(plain.alternate_exchange(), nullptr);
  Exchange with_ae({"x", ExchangeType::Direct, false, false, false, {{"alternate-exchange", "ae"}}});
  ASSERT_NE(with_ae.alternate_exchange(), nullptr);
  EXPECT_EQ(*with_ae.alternate_exchange(), "ae");
  Exchange bad_ae({"x", ExchangeType::Direct, false, false, false, {{"alternate-exchange", 5}}});
  EXPECT_EQ(bad_ae.alternate_exchange(), nullptr);
}

}  // namespace
}  // namespace warren::broker
