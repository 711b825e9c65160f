// fixture.h - the BPF_PROG_TEST_RUN fixture: the real XDP program loaded
// against real pinned maps in a private pin directory, written through the
// real Blocklist. Needs root and BPF; skips with the reason otherwise, except
// under CI=true where a skip is a failure.
#pragma once

#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "bpf/blocklist.h"
#include "bpf/datapath.h"
#include "packet.h"

namespace xdpban {
namespace {

using namespace xdpban::test;

const std::string kPinDir = "/sys/fs/bpf/xdpban-test-" + std::to_string(getpid());

class Datapath : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    set_bpf_log_verbose(false);
    DatapathOptions o;
    o.pin_dir = kPinDir;
    o.capacity = 16384;
    auto lp = LoadedProgram::load(o);
    if (!lp) {
      skip_reason_ = "cannot load the XDP program (" + lp.error().message + ")";
      return;
    }
    prog_ = std::move(*lp);
    auto bl = Blocklist::open(kPinDir, Blocklist::Access::kWrite);
    ASSERT_TRUE(bl.ok()) << bl.error().message;
    bl_ = std::move(*bl);
  }
  static void TearDownTestSuite() {
    bl_.reset();
    prog_.reset();
    std::filesystem::remove_all(kPinDir);
  }
  void SetUp() override {
    if (!prog_) {
      if (const char* ci = std::getenv("CI"); ci && std::string(ci) == "true")
        FAIL() << "CI=true and the BPF test cannot run: " << skip_reason_;
      GTEST_SKIP() << skip_reason_;
    }
  }

  static void ban(const char* cidr, int64_t ttl_s = 0, uint16_t jail = 1) {
    auto c = Cidr::parse(cidr);
    ASSERT_TRUE(c.ok()) << cidr;
    uint64_t exp =
        ttl_s == 0 ? 0 : static_cast<uint64_t>(static_cast<int64_t>(boottime_ns()) + ttl_s * 1000000000);
    auto st = bl_->ban(BanInfo{*c, exp, jail, XDPBAN_BAN_MANUAL});
    ASSERT_TRUE(st.ok()) << st.error().message;
  }
  static void allow(const char* cidr) { ASSERT_TRUE(bl_->allow_add(*Cidr::parse(cidr)).ok()); }

  int run(const Frame& f) {
    std::vector<uint8_t> out(f.b.size() + 256);
    LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f.b.data(), .data_out = out.data(),
                .data_size_in = static_cast<uint32_t>(f.b.size()),
                .data_size_out = static_cast<uint32_t>(out.size()), .repeat = 1);
    int err = bpf_prog_test_run_opts(prog_->prog_fd(), &o);
    EXPECT_EQ(err, 0) << "BPF_PROG_TEST_RUN failed: " << strerror(errno);
    return static_cast<int>(o.retval);
  }

  static inline std::unique_ptr<LoadedProgram> prog_;
  static inline std::unique_ptr<Blocklist> bl_;
  static inline std::string skip_reason_;
};

}  // namespace
}  // namespace xdpban
