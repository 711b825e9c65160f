#include <gtest/gtest.h>

#include "core/filter_config.h"
#include "core/ini.h"
#include "mem_files.h"

namespace xdpban {
namespace {

using test::MemFiles;

TEST(IniFile, SectionsContinuationCommentsAndInlineComments) {
  auto f = IniFile::parse(
      "# comment\n[Definition]\nfailregex = ^a <HOST>$\n    ^b <HOST>$\n  # comment inside\n\n    ^c\n"
      "Key = v ; inline comment\nsemi = a;b\n[DEFAULT]\nx = 1\n",
      "t.conf");
  ASSERT_TRUE(f) << f.error().message;
  const IniOptions* d = f->section("Definition");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->at("failregex").text, "^a <HOST>$\n^b <HOST>$\n\n^c");
  EXPECT_EQ(d->at("key").text, "v");  // names are lower-cased, inline comment dropped
  EXPECT_EQ(d->at("semi").text, "a;b");
  EXPECT_EQ(d->at("failregex").where, "t.conf:3");
  EXPECT_EQ(f->defaults.at("x").text, "1");
}

TEST(IniFile, ErrorsNameFileAndLine) {
  auto f = IniFile::parse("[Definition]\nfailregex = x\nnot an option\n", "bad.conf");
  ASSERT_FALSE(f);
  EXPECT_NE(f.error().message.find("bad.conf:3"), std::string::npos) << f.error().message;
  auto g = IniFile::parse("key = value\n", "nosec.conf");
  ASSERT_FALSE(g);
  EXPECT_NE(g.error().message.find("nosec.conf:1"), std::string::npos);
}

TEST(Config, IncludesLocalOverridesAndKnown) {
  MemFiles fs;
  fs.files["/f/common.conf"] = "[DEFAULT]\n_daemon = \\S*\nprefix = <%(_daemon)s>\n";
  fs.files["/f/x.conf"] =
      "[INCLUDES]\nbefore = common.conf\nafter = x-extra.conf\n[DEFAULT]\n_daemon = sshd\n"
      "[Definition]\nfailregex = %(prefix)s base <HOST>\nother = 1\n";
  fs.files["/f/x-extra.conf"] = "[Definition]\nother = 2\n";
  fs.files["/f/x.local"] = "[Definition]\nfailregex = %(known/failregex)s\n            local <HOST>\n";
  auto cfg = Config::load("/f/x.conf", fs);
  ASSERT_TRUE(cfg) << cfg.error().message;
  auto v = cfg->get("Definition", "failregex");
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(**v, "<sshd> base <HOST>\nlocal <HOST>");
  EXPECT_EQ(**cfg->get("Definition", "other"), "2");
  EXPECT_EQ((std::vector<std::string>{"/f/common.conf", "/f/x.conf", "/f/x-extra.conf", "/f/x.local"}),
            cfg->files());
}

TEST(Config, SectionInterpolationAndMissingReference) {
  MemFiles fs;
  fs.files["/a.conf"] = "[lt_file]\np = FILE\n[Definition]\nv = %(lt_file/p)s-%(mode)s\nbad = %(nope)s\n";
  auto cfg = Config::load("/a.conf", fs);
  ASSERT_TRUE(cfg);
  EXPECT_EQ(**cfg->get("Definition", "v", {{"mode", "aggr"}}), "FILE-aggr");
  auto bad = cfg->get("Definition", "bad");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("/a.conf:5"), std::string::npos) << bad.error().message;
  EXPECT_FALSE(Config::load("/missing.conf", fs));
}

TEST(FilterSpec, ParsesArguments) {
  auto s = FilterSpec::parse("postfix[mode=auth, logtype=\"journal\", x='a,b']");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->name, "postfix");
  EXPECT_EQ(s->args.at("mode"), "auth");
  EXPECT_EQ(s->args.at("logtype"), "journal");
  EXPECT_EQ(s->args.at("x"), "a,b");
  EXPECT_FALSE(FilterSpec::parse("postfix[mode"));
}

TEST(FilterDefinition, InitArgumentsAndNestedTags) {
  MemFiles fs;
  fs.files["/d/common.conf"] =
      "[DEFAULT]\nlogtype = file\n__prefix_line = <lt_<logtype>/__prefix_line>\n"
      "[lt_file]\n__prefix_line = FILEPFX\n[lt_journal]\n__prefix_line = JPFX\n";
  fs.files["/d/f.conf"] =
      "[INCLUDES]\nbefore = common.conf\n[Definition]\n"
      "failregex = ^%(__prefix_line)sfail <HOST>$\n            <mdre-<mode>>\n"
      "mdre-normal =\nmdre-aggressive = ^aggr <HOST>$\n"
      "maxlines = <lines>\n[Init]\nmode = normal\nlines = 2\n";
  auto def = load_filter_definition("/d/f.conf", {}, fs);
  ASSERT_TRUE(def) << def.error().message;
  EXPECT_EQ(def->failregex, (std::vector<std::string>{"^FILEPFXfail <HOST>$"}));
  EXPECT_EQ(def->maxlines, 2);
  auto aggr = load_filter_definition("/d/f.conf", {{"mode", "aggressive"}, {"logtype", "journal"}}, fs);
  ASSERT_TRUE(aggr) << aggr.error().message;
  EXPECT_EQ(aggr->failregex, (std::vector<std::string>{"^JPFXfail <HOST>$", "^aggr <HOST>$"}));
}

TEST(FilterDefinition, SelfReferenceIsAnError) {
  MemFiles fs;
  fs.files["/s.conf"] = "[Definition]\nfailregex = <a>\n[Init]\na = x<b>\nb = <a>\n";
  auto def = load_filter_definition("/s.conf", {}, fs);
  ASSERT_FALSE(def);
  EXPECT_NE(def.error().message.find("self-referencing"), std::string::npos) << def.error().message;
}

// Issue 12 item 6: each option naming the previous one twice doubles the text;
// the expansion stops with an error naming file, line and option instead of
// allocating until bad_alloc.
TEST(Config, ExponentialInterpolationIsBounded) {
  MemFiles fs;
  std::string text = "[Definition]\no0 = " + std::string(4096, 'x') + "\n";
  for (int i = 1; i <= 9; ++i)
    text +=
        "o" + std::to_string(i) + " = %(o" + std::to_string(i - 1) + ")s%(o" + std::to_string(i - 1) + ")s\n";
  fs.files["/big.conf"] = text;
  auto cfg = Config::load("/big.conf", fs);
  ASSERT_TRUE(cfg) << cfg.error().message;
  auto ok = cfg->get("Definition", "o7");  // 512 KiB: within the bound
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ((*ok)->size(), size_t{4096} << 7);
  auto big = cfg->get("Definition", "o9");  // 2 MiB
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().message, "/big.conf:11: o9: expansion exceeds " + std::to_string(kMaxExpansionBytes) +
                                     " bytes (options referencing each other many times over?)");
}

// Many references to an empty option produce no text but take exponential
// time; the bytes read are bounded too.
TEST(Config, WideInterpolationOfEmptyOptionsIsBounded) {
  MemFiles fs;
  std::string text = "[Definition]\no0 =\n";
  for (int i = 1; i <= 9; ++i) {
    text += "o" + std::to_string(i) + " = ";
    for (int k = 0; k < 100; ++k) text += "%(o" + std::to_string(i - 1) + ")s";
    text += "\n";
  }
  fs.files["/wide.conf"] = text;
  auto cfg = Config::load("/wide.conf", fs);
  ASSERT_TRUE(cfg) << cfg.error().message;
  EXPECT_EQ(**cfg->get("Definition", "o2"), "");
  auto wide = cfg->get("Definition", "o9");
  ASSERT_FALSE(wide);
  EXPECT_NE(wide.error().message.find("/wide.conf:11: o9: expansion reads more than"), std::string::npos)
      << wide.error().message;
}

TEST(FilterDefinition, ExponentialTagSubstitutionIsBounded) {
  MemFiles fs;
  std::string text = "[Definition]\nfailregex = <t12> <HOST>\n[Init]\nt0 = " + std::string(1024, 'y') + "\n";
  for (int i = 1; i <= 12; ++i)
    text += "t" + std::to_string(i) + " = <t" + std::to_string(i - 1) + "><t" + std::to_string(i - 1) + ">\n";
  fs.files["/tags.conf"] = text;
  auto def = load_filter_definition("/tags.conf", {}, fs);
  ASSERT_FALSE(def);
  EXPECT_NE(def.error().message.find("expansion exceeds " + std::to_string(kMaxExpansionBytes) + " bytes"),
            std::string::npos)
      << def.error().message;
}

// Found by tests/fuzz/fuzz_config: x.local including x.conf, whose .local
// comes along again, recursed until the stack overflowed.
TEST(Config, IncludeCyclesThroughLocalFilesEnd) {
  MemFiles fs;
  fs.files["/c/x.conf"] = "[Definition]\na = 1\n";
  fs.files["/c/x.local"] = "[INCLUDES]\nbefore = x.conf\n[Definition]\nb = 2\n";
  auto cfg = Config::load("/c/x.conf", fs);
  ASSERT_TRUE(cfg) << cfg.error().message;
  EXPECT_EQ(**cfg->get("Definition", "a"), "1");
  EXPECT_EQ(**cfg->get("Definition", "b"), "2");
  fs.files["/c/y.conf"] = "[INCLUDES]\nbefore = y.local\n[Definition]\nc = 3\n";
  fs.files["/c/y.local"] = "[INCLUDES]\nafter = y.conf\n";
  auto y = Config::load("/c/y.conf", fs);
  ASSERT_TRUE(y) << y.error().message;
  EXPECT_EQ(**y->get("Definition", "c"), "3");
}

TEST(Config, DeepIncludeChainIsAnError) {
  MemFiles fs;
  for (int i = 0; i < 40; ++i)
    fs.files["/d/f" + std::to_string(i) + ".conf"] =
        "[INCLUDES]\nbefore = f" + std::to_string(i + 1) + ".conf\n";
  auto cfg = Config::load("/d/f0.conf", fs);
  ASSERT_FALSE(cfg);
  EXPECT_NE(cfg.error().message.find("nested deeper than 16 files"), std::string::npos)
      << cfg.error().message;
}

}  // namespace
}  // namespace xdpban
