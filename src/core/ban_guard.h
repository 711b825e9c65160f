// ban_guard.h - the checks before a manual ban or an imported entry is stored,
// shared by the CLI and the daemon: a ban must not cover one of this machine's
// own addresses (it could cut the admin off) nor lie inside an allow-listed
// network (the allow list wins in XDP, so the ban would do nothing). --force
// skips them. Pure logic over a snapshot; does not read interfaces or maps.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/cidr.h"

namespace xdpban {

class BanGuard {
 public:
  BanGuard(std::vector<Address> local, std::vector<Cidr> allow)
      : local_(std::move(local)), allow_(std::move(allow)) {}
  // Why c must not be banned without --force (naming c and what it hits);
  // nullopt when it may.
  std::optional<std::string> refuse(const Cidr& c) const;

 private:
  std::vector<Address> local_;
  std::vector<Cidr> allow_;
};

}  // namespace xdpban
