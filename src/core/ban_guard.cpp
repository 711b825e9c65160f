#include "core/ban_guard.h"

namespace xdpban {

std::optional<std::string> BanGuard::refuse(const Cidr& c) const {
  for (const auto& a : local_)
    if (c.contains(a))
      return c.str() + " contains " + a.str() +
             ", an address of this machine: banning it could cut you off (use --force if meant)";
  // A ban that merely overlaps an allow entry still bans the rest of its
  // network; only one wholly inside an allow entry is dead weight.
  const Cidr* by = nullptr;
  for (const auto& w : allow_)
    if (w.contains(c) && (!by || w.prefix > by->prefix)) by = &w;
  if (by)
    return c.str() + " is on the allow list (" + by->str() +
           "), which wins over bans in XDP (use --force to store the ban anyway)";
  return std::nullopt;
}

}  // namespace xdpban
