// ban_guard.h - the checks before a ban is stored, shared by 'ban' and
// 'import': a ban must not cover one of this machine's own addresses (it could
// cut the admin off) nor lie inside an allow-listed network (the allow list wins
// in XDP, so the ban would do nothing). --force skips them. Does not write maps.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "bpf/blocklist.h"
#include "core/cidr.h"
#include "core/result.h"
#include "io/local_addresses.h"

namespace xdpban {

class BanGuard {
 public:
  BanGuard(std::vector<Address> local, std::vector<Cidr> allow)
      : local_(std::move(local)), allow_(std::move(allow)) {}
  // A snapshot of local_addresses() and the allow list in bl.
  static Result<BanGuard> load(const Blocklist& bl);

  // Why c must not be banned without --force (naming c and what it hits);
  // nullopt when it may.
  std::optional<std::string> refuse(const Cidr& c) const;

 private:
  std::vector<Address> local_;
  std::vector<Cidr> allow_;
};

}  // namespace xdpban
