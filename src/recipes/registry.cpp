// The recipes by name: the names are a contract (the prover uses them).
#include <stdexcept>

#include "recipes/recipe.hpp"

namespace warren::recipes {

namespace {

struct Entry {
  std::string_view name;
  bool semaphore;
  std::unique_ptr<LockClient> (*make)(const Endpoint&, const std::string&, const Options&);
};

constexpr Entry kRecipes[] = {
    {"native", false, [](const Endpoint& e, const std::string& l, const Options& o) { return make_native(e, l, o, false); }},
    {"native-semaphore", true,
     [](const Endpoint& e, const std::string& l, const Options& o) { return make_native(e, l, o, true); }},
    {"exclusive-queue", false, make_exclusive_queue},
    {"exclusive-consumer", false, make_exclusive_consumer},
    {"single-queue", false, make_single_queue},
    {"semaphore-ab", true, make_semaphore_ab},
    {"token-semaphore-alo", true,
     [](const Endpoint& e, const std::string& l, const Options& o) { return make_token_semaphore(e, l, o, false); }},
    {"token-semaphore-amo", true,
     [](const Endpoint& e, const std::string& l, const Options& o) { return make_token_semaphore(e, l, o, true); }},
};

const Entry& find(std::string_view recipe) {
  for (const Entry& e : kRecipes)
    if (e.name == recipe) return e;
  throw std::invalid_argument("unknown lock recipe: " + std::string(recipe));
}

}  // namespace

std::unique_ptr<LockClient> make_lock_client(std::string_view recipe, const Endpoint& ep, const std::string& lock,
                                             const Options& o) {
  return find(recipe).make(ep, lock, o);
}

std::vector<std::string> recipe_names() {
  std::vector<std::string> out;
  for (const Entry& e : kRecipes) out.emplace_back(e.name);
  return out;
}

bool recipe_is_semaphore(std::string_view recipe) { return find(recipe).semaphore; }

bool recipe_needs_warren(std::string_view recipe) { return find(recipe).name.starts_with("native"); }

}  // namespace warren::recipes
