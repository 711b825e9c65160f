// local_addresses.h - this machine's own addresses (every interface), which
// bans must not cover (ignoreself, the CLI's --force check).
#pragma once

#include <vector>

#include "core/cidr.h"

namespace xdpban {

std::vector<Address> local_addresses();

}  // namespace xdpban
