#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

#include "io/file_tailer.h"

namespace xdpban {
namespace {

namespace fs = std::filesystem;

class Tailer : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/xdpban-tail-XXXXXX";
    dir_ = mkdtemp(tmpl);
    log_ = dir_ + "/auth.log";
    auto t = FileTailer::create();
    ASSERT_TRUE(t.ok());
    t_ = std::move(*t);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void append(const std::string& text, const std::string& path = "") {
    std::ofstream(path.empty() ? log_ : path, std::ios::app) << text;
  }
  std::vector<std::string> poll() {
    std::vector<std::string> got;
    t_->poll([&](const std::string&, std::string_view l) { got.emplace_back(l); });
    return got;
  }
  std::vector<std::string> read_all() {
    std::vector<std::string> got;
    t_->read_all([&](const std::string&, std::string_view l) { got.emplace_back(l); });
    return got;
  }

  std::string dir_, log_;
  std::unique_ptr<FileTailer> t_;
};

using V = std::vector<std::string>;

TEST_F(Tailer, StartsAtTheEndOfAnExistingLog) {
  append("old 1\nold 2\n");
  ASSERT_TRUE(t_->add(log_, std::nullopt).ok());
  append("new 1\n");
  EXPECT_EQ(poll(), V{"new 1"});
}

TEST_F(Tailer, FromStartReadsEverything) {
  append("old 1\n");
  ASSERT_TRUE(t_->add(log_, std::nullopt, true).ok());
  EXPECT_EQ(read_all(), V{"old 1"});
}

TEST_F(Tailer, HoldsAPartialLineUntilItEnds) {
  ASSERT_TRUE(t_->add(log_, std::nullopt).ok());
  append("half of ");
  EXPECT_TRUE(poll().empty());
  append("a line\r\nnext\n");
  EXPECT_EQ(poll(), (V{"half of a line", "next"}));
}

TEST_F(Tailer, FileThatAppearsLater) {
  ASSERT_TRUE(t_->add(log_, std::nullopt).ok());
  EXPECT_TRUE(poll().empty());
  append("first\n");
  EXPECT_EQ(poll(), V{"first"});
}

TEST_F(Tailer, RotationByRenameLosesNothing) {
  ASSERT_TRUE(t_->add(log_, std::nullopt).ok());
  append("a\n");
  auto got = poll();
  // A writer that keeps its descriptor appends to the renamed file...
  std::ofstream old(log_, std::ios::app);
  fs::rename(log_, log_ + ".1");
  old << "b (late, to the old file)\n" << std::flush;
  append("c\n");  // ... while new lines go to the new file.
  auto next = poll();
  got.insert(got.end(), next.begin(), next.end());
  old << "d (even later)\n" << std::flush;
  auto more = read_all();
  got.insert(got.end(), more.begin(), more.end());
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (V{"a", "b (late, to the old file)", "c", "d (even later)"}));
}

TEST_F(Tailer, CopyTruncate) {
  ASSERT_TRUE(t_->add(log_, std::nullopt).ok());
  append("one\ntwo\n");
  EXPECT_EQ(poll(), (V{"one", "two"}));
  fs::copy_file(log_, log_ + ".1");
  ASSERT_EQ(truncate(log_.c_str(), 0), 0);
  append("three\n");
  EXPECT_EQ(poll(), V{"three"});
}

TEST_F(Tailer, CopyTruncateRefilledPastTheOldOffset) {
  ASSERT_TRUE(t_->add(log_, std::nullopt).ok());
  append("x\n");
  EXPECT_EQ(poll(), V{"x"});
  ASSERT_EQ(truncate(log_.c_str(), 0), 0);
  append(
      "a much longer first line after truncation\n");  // now longer than before: size check alone misses it
  EXPECT_EQ(poll(), V{"a much longer first line after truncation"});
}

TEST_F(Tailer, DeletedAndRecreated) {
  ASSERT_TRUE(t_->add(log_, std::nullopt).ok());
  append("a\n");
  EXPECT_EQ(poll(), V{"a"});
  fs::remove(log_);
  poll();
  append("b\n");
  EXPECT_EQ(poll(), V{"b"});
}

TEST_F(Tailer, ResumesFromASavedPositionWithoutRereadingOrSkipping) {
  ASSERT_TRUE(t_->add(log_, std::nullopt).ok());
  append("1\n2\npart");
  EXPECT_EQ(poll(), (V{"1", "2"}));
  auto pos = t_->position(log_);
  ASSERT_TRUE(pos.has_value());
  t_.reset();
  append("ial\n3\n");  // written while the daemon was down
  t_ = std::move(*FileTailer::create());
  ASSERT_TRUE(t_->add(log_, pos).ok());
  EXPECT_EQ(read_all(), (V{"partial", "3"}));
}

TEST_F(Tailer, SavedPositionOfARotatedFileReadsTheNewOneFromStart) {
  ASSERT_TRUE(t_->add(log_, std::nullopt).ok());
  append("1\n");
  poll();
  auto pos = t_->position(log_);
  t_.reset();
  fs::rename(log_, log_ + ".1");
  append("new 1\n");
  t_ = std::move(*FileTailer::create());
  ASSERT_TRUE(t_->add(log_, pos).ok());
  EXPECT_EQ(read_all(), V{"new 1"});
}

TEST_F(Tailer, RejectsRelativePaths) { EXPECT_FALSE(t_->add("auth.log", std::nullopt).ok()); }

}  // namespace
}  // namespace xdpban
