#include "ledger.hpp"

#include <algorithm>

namespace warren::prover {

bool Ledger::write(uint64_t token, uint32_t permit) {
  uint64_t& highest = highest_[permit];
  if ((permit != 0 || fenced_) && token < highest) return false;
  highest = std::max(highest, token);
  return true;
}

}  // namespace warren::prover
