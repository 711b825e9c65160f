#include <gtest/gtest.h>

#include "core/command_template.h"

namespace xdpban {
namespace {

using Argv = std::vector<std::string>;

Argv split(const std::string& text, const std::map<std::string, std::string>& values = {}) {
  auto t = CommandTemplate::parse(text, kBanPlaceholders);
  EXPECT_TRUE(t.ok()) << text << ": " << (t.ok() ? "" : t.error().message);
  return t.ok() ? t->expand(values) : Argv{};
}

std::string error_of(const std::string& text, const std::set<std::string>& known = kBanPlaceholders) {
  auto t = CommandTemplate::parse(text, known);
  return t.ok() ? "" : t.error().message;
}

TEST(CommandTemplate, SplitsOnBlanksWithShellLikeQuoting) {
  EXPECT_EQ(split("/bin/echo a  b\tc"), (Argv{"/bin/echo", "a", "b", "c"}));
  EXPECT_EQ(split("echo 'a b' \"c d\" e\\ f"), (Argv{"echo", "a b", "c d", "e f"}));
  EXPECT_EQ(split("echo 'it''s' \"say \\\"hi\\\"\" back\\\\slash"),
            (Argv{"echo", "its", "say \"hi\"", "back\\slash"}));
  EXPECT_EQ(split("echo '' \"\""), (Argv{"echo", "", ""}));
  EXPECT_EQ(split("echo a'b'\"c\"d"), (Argv{"echo", "abcd"}));
  // In single quotes a backslash is literal, as in sh.
  EXPECT_EQ(split("echo 'a\\b'"), (Argv{"echo", "a\\b"}));
  // Continuation lines of an INI value are blanks too.
  EXPECT_EQ(split("echo\n  a\n  b"), (Argv{"echo", "a", "b"}));
  EXPECT_TRUE(CommandTemplate::parse("", kBanPlaceholders)->empty());
  EXPECT_TRUE(CommandTemplate::parse("   \n ", kBanPlaceholders)->empty());
}

TEST(CommandTemplate, PlaceholdersAreReplacedInsideTheirWord) {
  std::map<std::string, std::string> v = {{"ip", "192.0.2.7"}, {"jail", "sshd"}, {"bantime", "600"}};
  EXPECT_EQ(split("notify --ip=<ip> '<jail>: <ip> for <bantime>s' <failures>", v),
            (Argv{"notify", "--ip=192.0.2.7", "sshd: 192.0.2.7 for 600s", ""}));
  auto t = CommandTemplate::parse("x <ip> <cidr> <jail>", kBanPlaceholders);
  EXPECT_EQ(t->placeholders(), (std::set<std::string>{"cidr", "ip", "jail"}));
  // \< and a '<' that starts no placeholder are literal.
  EXPECT_EQ(split("x \\<ip> \"\\<jail>\" a<b 1<2>", v), (Argv{"x", "<ip>", "<jail>", "a<b", "1<2>"}));
}

TEST(CommandTemplate, HostileValuesStayOneLiteralWord) {
  const std::vector<std::string> hostile = {"x; rm -rf /",
                                            "$(touch /tmp/pwned)",
                                            "`touch /tmp/pwned`",
                                            "a\nb",
                                            "two words",
                                            "'",
                                            "\"",
                                            "\\",
                                            "--help",
                                            "<ip>",
                                            "%(__name__)s",
                                            "x && y || z > /etc/passwd"};
  for (const auto& h : hostile) {
    auto argv = split("/usr/bin/logger -t xdpban <jail> pre<jail>post", {{"jail", h}, {"ip", "192.0.2.1"}});
    ASSERT_EQ(argv.size(), 5u) << h;
    EXPECT_EQ(argv[3], h);
    EXPECT_EQ(argv[4], "pre" + h + "post");
  }
  // One pass: a value that looks like a placeholder is not expanded again.
  EXPECT_EQ(split("x <jail>", {{"jail", "<ip>"}, {"ip", "192.0.2.1"}}), (Argv{"x", "<ip>"}));
  // execve cannot carry a NUL: it is dropped, not allowed to cut the word.
  EXPECT_EQ(split("x <jail>", {{"jail", std::string("a\0b", 3)}}), (Argv{"x", "ab"}));
}

TEST(CommandTemplate, ErrorsNameTheProblem) {
  EXPECT_NE(error_of("x 'open").find("unterminated '"), std::string::npos);
  EXPECT_NE(error_of("x \"open").find("unterminated \""), std::string::npos);
  EXPECT_NE(error_of("x \\").find("trailing backslash"), std::string::npos);
  std::string e = error_of("mail <adress>");
  EXPECT_NE(e.find("unknown placeholder <adress>"), std::string::npos) << e;
  EXPECT_NE(e.find("<ip>"), std::string::npos) << e;  // lists the known ones
  EXPECT_NE(error_of("mail <subject>").find("unknown placeholder"), std::string::npos);
  EXPECT_EQ(error_of("mail -s <subject> root", kReportPlaceholders), "");
  // Shell syntax is refused: there is no shell to give it meaning.
  for (const char* t : {"echo <ip> >> /tmp/log", "a | b", "a ; b", "a && b", "a 2>&1", "a &", "a < f"})
    EXPECT_NE(error_of(t).find("shell syntax"), std::string::npos) << t;
  // Quoted, the same characters are plain arguments.
  EXPECT_EQ(split("find / -exec x {} ';' '|'"), (Argv{"find", "/", "-exec", "x", "{}", ";", "|"}));
}

}  // namespace
}  // namespace xdpban
