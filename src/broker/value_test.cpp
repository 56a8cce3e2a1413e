// Value and Table helpers (value.hpp).
#include "broker/value.hpp"

#include <gtest/gtest.h>

#include <limits>

namespace warren::broker {
namespace {

TEST(Value, FindReturnsTheFirstValueUnderAKey) {
  Table t{{"a", 1}, {"b", "x"}, {"a", 2}};
  ASSERT_NE(find(t, "a"), nullptr);
  EXPECT_EQ(find(t, "a")->as_int(), 1);
  ASSERT_NE(find(t, "b"), nullptr);
  EXPECT_EQ(*find(t, "b")->as_string(), "x");
  EXPECT_EQ(find(t, "c"), nullptr);
  EXPECT_EQ(find(Table{}, "a"), nullptr);
}

TEST(Value, SetReplacesTheFirstOrAppends) {
  Table t{{"a", 1}, {"a", 2}};
  set(t, "a", "one");
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(*t[0].second.as_string(), "one");
  EXPECT_EQ(t[1].second.as_int(), 2);
  set(t, "z", true);
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t[2].first, "z");
  EXPECT_TRUE(*t[2].second.as_bool());
}

TEST(Value, EraseRemovesTheFirstOnly) {
  Table t{{"a", 1}, {"b", 2}, {"a", 3}};
  EXPECT_TRUE(erase(t, "a"));
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].first, "b");
  EXPECT_EQ(t[1].second.as_int(), 3);
  EXPECT_FALSE(erase(t, "nope"));
  EXPECT_EQ(t.size(), 2u);
}

TEST(Value, AsIntReadsEveryIntegerKindAndIntegralFloats) {
  EXPECT_EQ(Value(Int{-5, IntKind::I8}).as_int(), -5);
  EXPECT_EQ(Value(Int{200, IntKind::U8}).as_int(), 200);
  EXPECT_EQ(Value(Int{70000, IntKind::U32}).as_int(), 70000);
  EXPECT_EQ(Value(int64_t{1} << 40).as_int(), int64_t{1} << 40);
  EXPECT_EQ(Value(3.0).as_int(), 3);
  EXPECT_EQ(Value(Float{-2.0f, true}).as_int(), -2);
  EXPECT_EQ(Value(2.5).as_int(), std::nullopt);
  EXPECT_EQ(Value(std::numeric_limits<double>::infinity()).as_int(), std::nullopt);
  EXPECT_EQ(Value(std::numeric_limits<double>::quiet_NaN()).as_int(), std::nullopt);
  EXPECT_EQ(Value(1e30).as_int(), std::nullopt);
  EXPECT_EQ(Value("7").as_int(), std::nullopt);
  EXPECT_EQ(Value(true).as_int(), std::nullopt);
  EXPECT_EQ(Value().as_int(), std::nullopt);
}

TEST(Value, AccessorsAnswerOnlyForTheirType) {
  Value s("x"), t(Table{{"k", 1}}), a(Array{1, 2}), b(false), v;
  EXPECT_NE(s.as_string(), nullptr);
  EXPECT_EQ(s.as_table(), nullptr);
  EXPECT_NE(t.as_table(), nullptr);
  EXPECT_EQ(t.as_array(), nullptr);
  EXPECT_EQ(a.as_array()->size(), 2u);
  EXPECT_FALSE(*b.as_bool());
  EXPECT_TRUE(v.is_void());
  EXPECT_FALSE(s.is_void());
}

TEST(Value, IntegersCompareByValueWhateverTheirWidth) {
  EXPECT_EQ(Value(Int{5, IntKind::I8}), Value(Int{5, IntKind::I64}));
  EXPECT_NE(Value(Int{5, IntKind::I8}), Value(Int{6, IntKind::I8}));
  EXPECT_EQ(Value(Float{1.5, true}), Value(1.5));
  EXPECT_NE(Value(1), Value(1.0));  // different classes
  EXPECT_NE(Value("1"), Value(1));
  EXPECT_EQ(Value(Table{{"a", Array{1, "x"}}}), Value(Table{{"a", Array{Int{1, IntKind::U8}, "x"}}}));
  EXPECT_NE(Value(Table{{"a", 1}}), Value(Table{{"b", 1}}));
}

TEST(Value, TypeNamesAreRabbitMQs) {
  EXPECT_EQ(type_name(Value()), "void");
  EXPECT_EQ(type_name(Value(true)), "bool");
  EXPECT_EQ(type_name(Value(Int{1, IntKind::I8})), "byte");
  EXPECT_EQ(type_name(Value(Int{1, IntKind::U8})), "unsignedbyte");
  EXPECT_EQ(type_name(Value(Int{1, IntKind::I16})), "short");
  EXPECT_EQ(type_name(Value(Int{1, IntKind::U16})), "unsignedshort");
  EXPECT_EQ(type_name(Value(1)), "signedint");
  EXPECT_EQ(type_name(Value(Int{1, IntKind::U32})), "unsignedint");
  EXPECT_EQ(type_name(Value(int64_t{1})), "long");
  EXPECT_EQ(type_name(Value(Float{1, true})), "float");
  EXPECT_EQ(type_name(Value(1.0)), "double");
  EXPECT_EQ(type_name(Value(Decimal{2, 100})), "decimal");
  EXPECT_EQ(type_name(Value("s")), "longstr");
  EXPECT_EQ(type_name(Value(Binary{"b"})), "binary");
  EXPECT_EQ(type_name(Value(Timestamp{1})), "timestamp");
  EXPECT_EQ(type_name(Value(Array{})), "array");
  EXPECT_EQ(type_name(Value(Table{})), "table");
}

TEST(Value, ToTextForErrorMessages) {
  EXPECT_EQ(to_text(Value("abc")), "abc");
  EXPECT_EQ(to_text(Value(-12)), "-12");
  EXPECT_EQ(to_text(Value(Int{-1, IntKind::U64})), "18446744073709551615");
  EXPECT_EQ(to_text(Value(true)), "true");
  EXPECT_EQ(to_text(Value(1.5)), "1.5");
  EXPECT_EQ(to_text(Value(Timestamp{99})), "99");
  EXPECT_EQ(to_text(Value()), "undefined");
  EXPECT_EQ(to_text(Value(Table{})), "table");
}

}  // namespace
}  // namespace warren::broker
