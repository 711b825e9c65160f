#include "cli/ban_guard.h"

#include <ifaddrs.h>
#include <netinet/in.h>

#include <cstring>

namespace xdpban {

std::vector<Address> local_addresses() {
  std::vector<Address> out;
  struct ifaddrs* ifa = nullptr;
  if (getifaddrs(&ifa) != 0) return out;
  for (auto* i = ifa; i; i = i->ifa_next) {
    if (!i->ifa_addr) continue;
    Address a;
    if (i->ifa_addr->sa_family == AF_INET) {
      a.family = Family::V4;
      std::memcpy(a.bytes.data(), &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, 4);
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      a.family = Family::V6;
      std::memcpy(a.bytes.data(), &reinterpret_cast<sockaddr_in6*>(i->ifa_addr)->sin6_addr, 16);
    } else {
      continue;
    }
    out.push_back(a);
  }
  freeifaddrs(ifa);
  return out;
}

Result<BanGuard> BanGuard::load(const Blocklist& bl) {
  auto allow = bl.allow_list();
  if (!allow) return allow.error();
  return BanGuard(local_addresses(), std::move(*allow));
}

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
